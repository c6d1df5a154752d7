"""The typed-client call that matches a tool call: same operation, same data.

A tool's binding says which argument is which path, query or header parameter and which body
property; the generated function names its parameters the way openapi-python-client names them
(`client_emit.client_module_for` uses the same naming for modules). Values are converted to what
the function's annotations ask for: enums, dates, attrs models (`from_dict` of the very JSON body
the tool would send), lists, files.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import importlib
import inspect
import io
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ledgermcp.server.requests import build_request


class MappingError(Exception):
    """A tool argument has no place in the typed function: the client and the tool disagree."""


def typed_function(vendor: str, tool: Mapping[str, Any]) -> Callable[..., Any]:
    module = importlib.import_module(f"ledgermcp.generated.{vendor}.client.{tool['client_module']}")
    return module.sync_detailed  # type: ignore[no-any-return]


def python_name(wire: str) -> str:
    from openapi_python_client.strings import PythonIdentifier

    from ledgermcp.codegen.client_emit import CLIENT_CONFIG

    return str(PythonIdentifier(wire, prefix=str(CLIENT_CONFIG["field_prefix"])))


def typed_arguments(
    function: Callable[..., Any], tool: Mapping[str, Any], args: Mapping[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for `function` carrying the same request as `tool` called with `args`."""
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    kwargs: dict[str, Any] = {}
    for param in tool["binding"].get("params") or []:
        if param["arg"] not in args or args[param["arg"]] is None:
            continue
        base = python_name(param["name"])
        name = next(
            (n for n in (base, f"{base}_{param['in']}") if n in signature.parameters and n not in kwargs),
            None,
        )
        if name is None:
            raise MappingError(
                f"{param['in']} parameter {param['name']!r} has no parameter in {function.__module__}"
                f" (looked for {base!r})"
            )
        kwargs[name] = convert(args[param["arg"]], hints.get(name, Any))
    body = tool["binding"].get("body")
    if body:
        request = build_request(tool, args)
        if "body" not in signature.parameters:
            if request.has_json_body or request.form or request.files:
                raise MappingError(f"the tool sends a body, {function.__module__} takes none")
            return kwargs
        if request.has_json_body:
            kwargs["body"] = convert(request.json_body, hints["body"])
        elif request.files or request.form:
            data: dict[str, Any] = dict(request.form)
            for part in request.files:
                data[part.field] = {"_file": part}
            kwargs["body"] = convert(data, hints["body"])
    return kwargs


def convert(value: Any, annotation: Any) -> Any:
    """`value` (plain JSON) as an instance of `annotation` (as the generated client types it)."""
    from dateutil.parser import isoparse

    options = _union_members(annotation)
    if value is None:
        return None
    if len(options) > 1:
        errors = []
        for option in options:
            if _accepts(option, value):
                try:
                    return convert(value, option)
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    errors.append(f"{option}: {exc}")
        raise TypeError(f"no member of {annotation} takes {value!r}: {'; '.join(errors)}")
    (kind,) = options
    origin = typing.get_origin(kind)
    if kind is Any or kind is object:
        return value
    if origin in (list, typing.List):  # noqa: UP006
        (item,) = typing.get_args(kind) or (Any,)
        return [convert(v, item) for v in value]
    if origin in (dict, typing.Dict, Mapping):  # noqa: UP006
        return dict(value)
    if isinstance(kind, type):
        if kind.__name__ == "File":
            return _file(value, kind)
        if issubclass(kind, enum.Enum):
            return kind(value)
        if kind is dt.datetime:
            return isoparse(value)
        if kind is dt.date:
            return isoparse(value).date()
        if kind is uuid.UUID:
            return uuid.UUID(value)
        if hasattr(kind, "from_dict"):
            if isinstance(value, dict) and any(isinstance(v, dict) and "_file" in v for v in value.values()):
                return _model_with_files(kind, value)
            return kind.from_dict(value)
        if kind is float and isinstance(value, int):
            return float(value)
        if kind in (str, int, float, bool):
            if not isinstance(value, kind):
                raise TypeError(f"{value!r} is not {kind.__name__}")
            return value
    raise TypeError(f"cannot convert {value!r} to {kind}")


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if getattr(a, "__name__", "") != "Unset"]
        return [m for m in members if m is not type(None)] or members
    return [annotation]


def _accepts(kind: Any, value: Any) -> bool:
    origin = typing.get_origin(kind)
    if origin is list:
        return isinstance(value, list)
    if isinstance(kind, type):
        if issubclass(kind, enum.Enum):
            return value in {m.value for m in kind}
        if kind in (dt.date, dt.datetime, uuid.UUID):
            return isinstance(value, str)
        if hasattr(kind, "from_dict"):
            return isinstance(value, dict)
        if kind is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, kind)
    return True


def _file(value: Any, kind: type) -> Any:
    part = value["_file"] if isinstance(value, dict) and "_file" in value else None
    if part is not None:
        return kind(payload=io.BytesIO(part.content), file_name=part.filename, mime_type=part.content_type)
    return kind(payload=io.BytesIO(base64.b64decode(value)), file_name="upload.bin")


def _model_with_files(kind: Any, value: dict[str, Any]) -> Any:
    """A multipart body model: files become `File`s (which `from_dict` cannot build)."""
    hints = typing.get_type_hints(kind)
    plain = {k: v for k, v in value.items() if not (isinstance(v, dict) and "_file" in v)}
    model = kind.from_dict(plain)
    fields = {f.name: f for f in getattr(kind, "__attrs_attrs__", ())}
    for key, v in value.items():
        if not (isinstance(v, dict) and "_file" in v):
            continue
        attr = python_name(key)
        if attr not in fields:
            raise MappingError(f"multipart field {key!r} has no attribute in {kind.__name__}")
        setattr(model, attr, convert(v, hints.get(attr, Any)))
    return model
