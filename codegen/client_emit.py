"""Emit a vendor's typed client with openapi-python-client.

Two parts:

* `prepare_for_client(spec)`: a pure function that rewrites the few spec constructs the pinned
  openapi-python-client cannot read (integer response codes, wildcard and binary media types,
  annotation-only `allOf` members, unsafe component names, ...). Every rewrite is reported as a
  diagnostic; the input is never changed and running it twice changes nothing more.
* `emit_client(spec, out_dir, vendor=..., header=...)`: runs the generator in-process on the
  prepared spec, makes path parameters "." and ".." travel percent-encoded (URL normalisation
  would drop them), formats the result with ruff, puts `header` on the first line of every module,
  checks that each operation got its module, and only then swaps the finished package into
  `out_dir`. The generator's own warnings come back as diagnostics. An operation the generator
  rejects, whose module is not valid Python, or whose module imports what the package does not
  have (a model that was never written), is left out of the typed client with a WARNING
  (`client-operation-left-out`) naming it and why; it stays a tool. When the generator stops on
  enum values whose Python names collide (`ADD` and `add`), the client is generated again with
  enums typed as `Literal` values (WARNING `client-enum-collision`). Any other failure of the
  generator is an ERROR diagnostic naming the exception, never a traceback.

The layout is openapi-python-client's: `out_dir/api/<group>/<operation_id>.py` with
`sync_detailed` / `asyncio_detailed` (plus `sync` / `asyncio` when a response is typed),
`out_dir/models/`, `client.py`, `types.py`, `errors.py`. Imports inside are relative, so the
package can live anywhere, e.g. `ledgermcp.generated.<vendor>.client`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, GenerationError, Severity

LEFT_OUT = "client-operation-left-out"

__all__ = [
    "CLIENT_CONFIG",
    "HTTP_METHODS",
    "LEFT_OUT",
    "client_module_for",
    "emit_client",
    "expected_modules",
    "prepare_for_client",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Generator settings (openapi-python-client's config file, as data). Post hooks are run by
# `emit_client` itself (see `_format`), so that ruff is found without relying on PATH and ignores
# any configuration around the temporary folder.
CLIENT_CONFIG: dict[str, Any] = {
    # A safety net only: `prepare_for_client` already rewrites every `*/*` body to JSON, so the
    # request's Content-Type header is right too (the override alone would send `*/*`).
    "content_type_overrides": {"*/*": "application/json"},
    "post_hooks": [],
    "field_prefix": "field_",
    "literal_enums": False,
    "generate_all_tags": False,
    "use_path_prefixes_for_title_model_names": True,
}

# The lint rules are named, not left to ruff's default set: ruff 0.17's defaults include PYI036,
# whose fix turns the client's `__exit__(self, *args: Any)` into `*args: object`, which
# `mypy --strict` then rejects where the arguments are forwarded to httpx.
_RUFF_ARGS: tuple[tuple[str, ...], ...] = (
    (
        "check",
        "--isolated",
        "--no-cache",
        "--fix-only",
        "--select=E4,E7,E9,F,I",
        "--target-version=py311",
        "--quiet",
        ".",
    ),
    ("format", "--isolated", "--no-cache", "--target-version=py311", "--quiet", "."),
)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ANNOTATION_KEYS = frozenset(
    {
        "description",
        "title",
        "default",
        "example",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "nullable",
        "externalDocs",
    }
)
_JSON = "application/json"
_BINARY = "application/octet-stream"


# --------------------------------------------------------------------------------------------
# naming shared with the tool table


def client_module_for(group: str, operation_id: str) -> str:
    """Dotted module of an operation's function, relative to the client package.

    This is exactly the name openapi-python-client gives the module (it snake-cases and renames
    Python builtins and keywords, e.g. `list` -> `list_`), so the tool table can point at it.
    """
    from openapi_python_client.strings import PythonIdentifier

    tag = PythonIdentifier(group, prefix="tag")
    name = PythonIdentifier(operation_id, prefix=str(CLIENT_CONFIG["field_prefix"]))
    return f"api.{tag}.{name}"


def _operations(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    paths = spec.get("paths") or {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield method, str(path), op


def expected_modules(spec: Mapping[str, Any]) -> dict[str, str]:
    """`"METHOD /path"` -> dotted module (relative to the client package) for every operation."""
    out: dict[str, str] = {}
    for method, path, op in _operations(spec):
        tags = op.get("tags") or ["default"]
        op_id = op.get("operationId")
        if not isinstance(op_id, str):
            continue
        out[f"{method.upper()} {path}"] = client_module_for(str(tags[0]), op_id)
    return out


# --------------------------------------------------------------------------------------------
# prepare_for_client: spec rewrites, each one reported


def prepare_for_client(spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Return a copy of `spec` that the pinned openapi-python-client reads completely.

    Rewrites (diagnostic code, severity):

    * `non-string-key` (INFO for response codes, WARNING elsewhere): YAML reads `200:` as an int
      (and `yes:` as a bool); every mapping key becomes a string.
    * `wildcard-request-body` (INFO): a `*/*` request body is sent as `application/json`
      (WARNING and dropped when the body also lists `application/json`).
    * `binary-response` (INFO): a response whose media type the generator does not read
      (`*/*`, `application/pdf`, `image/png`, ...) and whose schema is a string (binary or byte)
      or absent becomes `application/octet-stream` with a `format: binary` schema: the typed
      function returns a `File`.
    * `wildcard-response` (INFO): a `*/*` response with a structured schema is read as JSON.
    * `structured-non-json-response` (WARNING): a response declared as a non-JSON media type
      (`application/pdf`, `text/csv`, ...) but described by a non-string schema (typically an
      error object) is read as JSON.
    * `allof-annotation` (INFO): `allOf: [{$ref: X}, {description/default only}]` (which the
      generator rejects as "allOf a non-object" for enums) becomes `allOf: [{$ref: X}]` with the
      annotations moved next to it.
    * `unsafe-schema-name` (INFO): component names outside `[A-Za-z0-9_-]` (e.g. `v1.Date`) are
      renamed (`v1_Date`) and every `$ref` follows; a clash gets a numeric suffix (WARNING).
    * `invalid-schema-type` (WARNING): a schema `type` outside JSON Schema's list (e.g. `enum`)
      is dropped; the generator rejects the whole document otherwise.
    * `header-parameter-format` (INFO): a header parameter typed `date`/`date-time` (which the
      generator refuses in headers) becomes a plain string; the caller formats the value.
    * `schema-title-clash` (INFO): component schemas whose `title`s give the same class name (the
      generator then drops all but one) lose the `title`; their class is named after the key.
    * `duplicate-operation-id` (ERROR) and `missing-operation-id` (ERROR) are reported, not fixed:
      the caller owns the names.
    """
    diags: list[Diagnostic] = []
    out = _stringify_keys(copy.deepcopy(dict(spec)), "", diags)
    _fix_request_bodies(out, diags)
    _fix_responses(out, diags)
    _walk_schemas(out, "", diags)
    _fix_schema_types(out, diags)
    _fix_header_parameters(out, diags)
    _rename_unsafe_components(out, diags)
    _drop_clashing_titles(out, diags)
    _check_operation_ids(out, diags)
    return out, diags


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _stringify_keys(node: Any, where: str, diags: list[Diagnostic]) -> Any:
    if isinstance(node, dict):
        new: dict[str, Any] = {}
        for key, value in node.items():
            skey = key
            if not isinstance(key, str):
                if isinstance(key, bool):
                    skey = "true" if key else "false"
                    diags.append(
                        Diagnostic(
                            Severity.WARNING,
                            "non-string-key",
                            f"YAML read key {key!r} as a boolean; using {skey!r} (check the spec text)",
                            where,
                        )
                    )
                else:
                    skey = str(key)
                    is_code = where.endswith("/responses") and re.fullmatch(r"[1-5]\d\d", skey) is not None
                    diags.append(
                        Diagnostic(
                            Severity.INFO if is_code else Severity.WARNING,
                            "non-string-key",
                            f"{'response code' if is_code else 'key'} {key!r} read as "
                            f"{type(key).__name__}; using the string {skey!r}",
                            where,
                        )
                    )
                if skey in node and skey != key:
                    diags.append(
                        Diagnostic(
                            Severity.WARNING,
                            "non-string-key",
                            f"key {key!r} clashes with {skey!r}; keeping the later one",
                            where,
                        )
                    )
            new[skey] = _stringify_keys(value, f"{where}{_pointer(skey)}", diags)
        return new
    if isinstance(node, list):
        return [_stringify_keys(v, f"{where}{_pointer(i)}", diags) for i, v in enumerate(node)]
    return node


def _op_where(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _resolve_local(spec: Mapping[str, Any], node: Any) -> Any:
    """Follow a local `$ref` chain (bounded); return the node itself when it is not a reference."""
    for _ in range(16):
        if not (
            isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/")
        ):
            return node
        target: Any = spec
        for raw in node["$ref"][2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return node
            target = target[part]
        node = target
    return node


def _request_bodies(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for method, path, op in _operations(spec):
        body = op.get("requestBody")
        if isinstance(body, dict) and "$ref" not in body:
            yield _op_where(method, path), body
    for name, body in ((spec.get("components") or {}).get("requestBodies") or {}).items():
        if isinstance(body, dict) and "$ref" not in body:
            yield _pointer("components", "requestBodies", name), body


def _fix_request_bodies(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    for where, body in _request_bodies(spec):
        content = body.get("content")
        if not isinstance(content, dict) or "*/*" not in content:
            continue
        if _JSON in content:
            del content["*/*"]
            diags.append(
                Diagnostic(
                    Severity.WARNING,
                    "wildcard-request-body",
                    "request body lists both */* and application/json; dropped */*",
                    where,
                )
            )
            continue
        body["content"] = {(_JSON if k == "*/*" else k): v for k, v in content.items()}
        diags.append(
            Diagnostic(
                Severity.INFO,
                "wildcard-request-body",
                "request body media type */* sent as application/json",
                where,
            )
        )


def _readable_media_type(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base in (_JSON, _BINARY) or base.endswith("+json") or base.startswith("text/")


def _is_stringish(spec: Mapping[str, Any], schema: Any) -> bool:
    schema = _resolve_local(spec, schema)
    return schema is None or (isinstance(schema, dict) and schema.get("type") == "string")


def _responses(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, status code or "" for shared responses, response object)."""
    for method, path, op in _operations(spec):
        for code, response in (op.get("responses") or {}).items():
            if isinstance(response, dict) and "$ref" not in response:
                yield f"{_op_where(method, path)} response {code}", str(code), response
    for name, response in ((spec.get("components") or {}).get("responses") or {}).items():
        if isinstance(response, dict) and "$ref" not in response:
            yield _pointer("components", "responses", name), "", response


def _structured_non_json(media_type: str, code: str, where: str) -> Diagnostic:
    """An error answer (4xx, 5xx, default) declared as e.g. application/pdf but shaped like the
    vendor's JSON error object is the usual case: INFO. For a success answer it is a guess: WARNING."""
    is_error = code == "default" or code[:1] in ("4", "5")
    return Diagnostic(
        Severity.INFO if is_error else Severity.WARNING,
        "structured-non-json-response",
        f"{media_type} response described by a non-string schema; read as JSON",
        where,
    )


def _fix_responses(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    for where, code, response in _responses(spec):
        content = response.get("content")
        if not isinstance(content, dict) or not content:
            continue
        new: dict[str, Any] = {}
        for media_type, media in content.items():
            schema = media.get("schema") if isinstance(media, dict) else None
            base = media_type.split(";", 1)[0].strip().lower()
            target = media_type
            if base.startswith("text/") and not _is_stringish(spec, schema):
                target = _JSON
                diags.append(_structured_non_json(media_type, code, where))
            elif not _readable_media_type(media_type):
                if _is_stringish(spec, schema):
                    target = _BINARY
                    media = {
                        **(media if isinstance(media, dict) else {}),
                        "schema": {"type": "string", "format": "binary"},
                    }
                    diags.append(
                        Diagnostic(
                            Severity.INFO,
                            "binary-response",
                            f"{media_type} response returned as bytes (File)",
                            where,
                        )
                    )
                elif media_type == "*/*":
                    target = _JSON
                    diags.append(
                        Diagnostic(
                            Severity.INFO,
                            "wildcard-response",
                            "*/* response with a structured schema read as JSON",
                            where,
                        )
                    )
                else:
                    target = _JSON
                    diags.append(_structured_non_json(media_type, code, where))
            if target in new:
                diags.append(
                    Diagnostic(
                        Severity.INFO,
                        "duplicate-response-media-type",
                        f"{media_type} folded into {target}, which is already listed",
                        where,
                    )
                )
                continue
            new[target] = media
        response["content"] = new


def _is_annotation_only(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and bool(node)
        and all(k in _ANNOTATION_KEYS or k.startswith("x-") for k in node)
    )


def _walk_schemas(node: Any, where: str, diags: list[Diagnostic]) -> None:
    """Collapse `allOf: [{$ref}, {annotations}]` wherever it appears."""
    if isinstance(node, dict):
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) > 1:
            refs = [m for m in all_of if isinstance(m, dict) and "$ref" in m]
            rest = [m for m in all_of if not (isinstance(m, dict) and "$ref" in m)]
            if len(refs) == 1 and rest and all(_is_annotation_only(m) for m in rest):
                for member in rest:
                    for key, value in member.items():
                        node.setdefault(key, value)
                node["allOf"] = refs
                diags.append(
                    Diagnostic(
                        Severity.INFO,
                        "allof-annotation",
                        "allOf of one $ref plus annotations folded into a single-$ref allOf",
                        where or "/",
                    )
                )
        for key, value in node.items():
            _walk_schemas(value, f"{where}{_pointer(key)}", diags)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk_schemas(value, f"{where}{_pointer(i)}", diags)


_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_ONE = ("items", "not", "additionalProperties")


def _schemas_in(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object reachable from the places OpenAPI puts schemas (not examples)."""
    stack: list[tuple[str, Any]] = []
    components = spec.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        stack.append((_pointer("components", "schemas", name), schema))

    def media_and_params(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}{_pointer(key)}"
                if key == "schema":
                    stack.append((here, value))
                elif key not in ("example", "examples"):
                    media_and_params(value, here)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                media_and_params(value, f"{where}{_pointer(i)}")

    media_and_params(spec.get("paths") or {}, "/paths")
    for section in ("parameters", "requestBodies", "responses", "headers"):
        media_and_params(components.get(section) or {}, _pointer("components", section))
    while stack:
        where, schema = stack.pop()
        if not isinstance(schema, dict):
            continue
        yield where, schema
        for key in _SUBSCHEMA_LISTS:
            for i, sub in enumerate(schema.get(key) or []):
                stack.append((f"{where}/{key}/{i}", sub))
        for key in _SUBSCHEMA_ONE:
            if isinstance(schema.get(key), dict):
                stack.append((f"{where}/{key}", schema[key]))
        for name, sub in (schema.get("properties") or {}).items():
            stack.append((f"{where}/properties{_pointer(name)}", sub))


def _fix_schema_types(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    for where, schema in _schemas_in(spec):
        kind = schema.get("type")
        if isinstance(kind, str) and kind not in _SCHEMA_TYPES:
            del schema["type"]
            diags.append(
                Diagnostic(
                    Severity.WARNING,
                    "invalid-schema-type",
                    f"schema type {kind!r} is not a JSON Schema type; dropped",
                    where,
                )
            )


def _fix_header_parameters(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    params: list[tuple[str, Any]] = []
    for method, path, op in _operations(spec):
        params += [(_op_where(method, path), p) for p in op.get("parameters") or []]
    for path, item in (spec.get("paths") or {}).items():
        if isinstance(item, dict):
            params += [(str(path), p) for p in item.get("parameters") or []]
    for name, param in ((spec.get("components") or {}).get("parameters") or {}).items():
        params.append((_pointer("components", "parameters", name), param))
    for where, param in params:
        if not (
            isinstance(param, dict) and param.get("in") == "header" and isinstance(param.get("schema"), dict)
        ):
            continue
        schema = param["schema"]
        if schema.get("type") == "string" and schema.get("format") in ("date", "date-time"):
            fmt = schema.pop("format")
            diags.append(
                Diagnostic(
                    Severity.INFO,
                    "header-parameter-format",
                    f"header {param.get('name')!r} ({fmt}) passed as a string",
                    where,
                )
            )


def _drop_clashing_titles(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    from openapi_python_client.strings import ClassName

    schemas = (spec.get("components") or {}).get("schemas") or {}
    prefix = str(CLIENT_CONFIG["field_prefix"])
    by_class: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        title = schema.get("title") if isinstance(schema, dict) else None
        by_class.setdefault(ClassName(title if isinstance(title, str) else name, prefix), []).append(name)
    for cls, names in by_class.items():
        if len(names) < 2:
            continue
        for name in names:
            if "title" in schemas[name]:
                del schemas[name]["title"]
                diags.append(
                    Diagnostic(
                        Severity.INFO,
                        "schema-title-clash",
                        f"title gives class {cls}, shared with {', '.join(n for n in names if n != name)}; "
                        "class named after the component instead",
                        _pointer("components", "schemas", name),
                    )
                )


def _rename_unsafe_components(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    components = spec.get("components")
    if not isinstance(components, dict):
        return
    renames: dict[str, str] = {}
    for section, entries in components.items():
        if not isinstance(entries, dict) or not any(not _SAFE_NAME.match(k) for k in entries):
            continue
        taken = {k.lower() for k in entries if _SAFE_NAME.match(k)}
        new_entries: dict[str, Any] = {}
        for name, value in entries.items():
            new_name = name
            if not _SAFE_NAME.match(name):
                base = re.sub(r"[^A-Za-z0-9_-]", "_", name)
                new_name, n = base, 2
                while new_name.lower() in taken:
                    new_name, n = f"{base}_{n}", n + 1
                taken.add(new_name.lower())
                severity = Severity.INFO if new_name == base else Severity.WARNING
                diags.append(
                    Diagnostic(
                        severity,
                        "unsafe-schema-name",
                        f"component {name!r} renamed {new_name!r}",
                        _pointer("components", section, name),
                    )
                )
                renames[f"#{_pointer('components', section, name)}"] = (
                    f"#{_pointer('components', section, new_name)}"
                )
            new_entries[new_name] = value
        components[section] = new_entries
    if renames:
        _rewrite_refs(spec, renames)


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renames:
            node["$ref"] = renames[ref]
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)


def _check_operation_ids(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    seen: dict[str, str] = {}
    for method, path, op in _operations(spec):
        where = _op_where(method, path)
        op_id = op.get("operationId")
        if not isinstance(op_id, str) or not op_id:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "missing-operation-id",
                    "operation has no operationId; its client module cannot be named",
                    where,
                )
            )
            continue
        module = client_module_for(str((op.get("tags") or ["default"])[0]), op_id)
        if module in seen:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "duplicate-operation-id",
                    f"{module} is also the module of {seen[module]}; one would overwrite the other",
                    where,
                )
            )
        seen[module] = where


# --------------------------------------------------------------------------------------------
# emit_client


_UNTRUSTED_REPR = re.compile(r"<openapi_python_client\.[\w.]+ object at 0x[0-9a-f]+>")
_PARSING_HEADER = re.compile(r"^WARNING parsing (\w+) (\S+) within ")


def _clean(text: str | None) -> str:
    return " ".join(_UNTRUSTED_REPR.sub("<value>", text or "").split())


def _generator_diagnostics(errors: list[Any]) -> tuple[list[Diagnostic], set[str]]:
    """Map openapi-python-client's errors to diagnostics; also return the skipped operations."""
    diags: list[Diagnostic] = []
    skipped: set[str] = set()
    for err in errors:
        header = _clean(getattr(err, "header", ""))
        detail = _clean(getattr(err, "detail", ""))
        match = _PARSING_HEADER.match(header)
        if match:
            where = f"{match.group(1)} {match.group(2)}"
            if "will not be generated" in header:
                skipped.add(where)
                diags.append(
                    Diagnostic(
                        Severity.WARNING,
                        LEFT_OUT,
                        f"left out of the typed client (it stays a tool): openapi-python-client "
                        f"rejected it: {detail}",
                        where,
                    )
                )
            else:
                diags.append(
                    Diagnostic(
                        Severity.WARNING,
                        "client-operation-incomplete",
                        f"openapi-python-client left part of the operation out: {detail}",
                        where,
                    )
                )
            continue
        schema = re.match(r"^Unable to (?:process|parse) schema (\S+?):", header)
        if schema:
            diags.append(
                Diagnostic(
                    Severity.WARNING,
                    "client-schema-skipped",
                    f"openapi-python-client dropped the schema: {detail}",
                    schema.group(1),
                )
            )
            continue
        level = getattr(getattr(err, "level", None), "value", "ERROR")
        diags.append(
            Diagnostic(
                Severity.ERROR if level == "ERROR" else Severity.WARNING,
                "client-generator",
                f"{header}: {detail}" if detail else header,
            )
        )
    return diags, skipped


_ENUM_COLLISION = re.compile(r"^Duplicate key (.+) in enum (\S+?);")


def _run_generator(
    spec: dict[str, Any], package_dir: Path
) -> tuple[list[Any] | Diagnostic, list[Diagnostic]]:
    """The generator's errors (or one diagnostic when it read nothing), and what was done about
    a failure: the generator's exceptions never escape."""
    try:
        return _generate(spec, package_dir, {}), []
    except Exception as exc:  # the generator's own failures: reported, never a traceback
        collision = _ENUM_COLLISION.match(str(exc)) if isinstance(exc, ValueError) else None
        if collision is None:
            return _crashed(exc), []
    shutil.rmtree(package_dir, ignore_errors=True)
    note = Diagnostic(
        Severity.WARNING,
        "client-enum-collision",
        f"enum values of {collision.group(2)} give the same Python name ({collision.group(1)}); the "
        "typed client types every enum as Literal values instead of Enum classes",
        collision.group(2),
    )
    try:
        return _generate(spec, package_dir, {"literal_enums": True}), [note]
    except Exception as exc:
        return _crashed(exc), [note]


def _crashed(exc: BaseException) -> Diagnostic:
    return Diagnostic(
        Severity.ERROR,
        "client-generator-crashed",
        f"openapi-python-client stopped with {type(exc).__name__}: {_clean(str(exc))[:2000]}; the typed "
        "client cannot be generated from this description (a correction in the overlay, or an "
        "[exclude] of the operation it names, works around it)",
    )


def _generate(spec: dict[str, Any], package_dir: Path, settings: dict[str, Any]) -> list[Any] | Diagnostic:
    from openapi_python_client import Project
    from openapi_python_client.config import Config, ConfigFile, MetaType
    from openapi_python_client.parser import GeneratorData
    from openapi_python_client.parser.errors import GeneratorError

    config = Config.from_sources(
        ConfigFile(**{**CLIENT_CONFIG, **settings}),
        MetaType.NONE,
        document_source=package_dir / "spec.json",  # informational only: the dict is passed below
        file_encoding="utf-8",
        overwrite=True,
        output_path=package_dir,
    )
    data = GeneratorData.from_dict(spec, config=config)
    if isinstance(data, GeneratorError):
        return Diagnostic(
            Severity.ERROR,
            "client-spec-rejected",
            f"openapi-python-client could not read the spec: {_clean(data.header)} "
            f"{_clean(data.detail)[:2000]}",
        )
    with contextlib.redirect_stdout(io.StringIO()):
        errors = list(Project(openapi=data, config=config).build())
    return errors


def _format(package_dir: Path) -> None:
    env = {**os.environ, "RUFF_NO_CACHE": "true"}
    for args in _RUFF_ARGS:
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=package_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout or "").strip() or "it printed nothing"
            raise GenerationError(
                f"ruff {args[0]} failed on the generated client (exit status {proc.returncode}): {said}"
            )


_RELATIVE_IMPORT = re.compile(r"^[ \t]*from (\.+)([\w.]*) import (\([^)]*\)|[^\n]+)", re.MULTILINE)
_TOP_LEVEL_NAME = re.compile(r"^(?:class|def|async def) (\w+)|^(\w+)\s*[:=]", re.MULTILINE)
_ANY_IMPORT = re.compile(r"^[ \t]*(?:from [\w.]+ )?import (\([^)]*\)|[^\n]+)", re.MULTILINE)


def _imported(names: str) -> list[str]:
    """`A, B as C` or `(\n A,\n B,\n)` -> ["A", "B"] (the names as the source module spells them)."""
    out = []
    for part in names.strip("() \n").replace("\n", " ").split(","):
        words = part.split()
        if words and not words[0].startswith("#"):
            out.append(words[0])
    return out


def _defined_names(text: str) -> set[str]:
    """Names a module defines at its top level, plus every name it imports (over-approximated on
    purpose: a name counted here that is not there can only hide a broken import, never invent one)."""
    names = {a or b for a, b in _TOP_LEVEL_NAME.findall(text)}
    for imported in _ANY_IMPORT.findall(text):
        for part in imported.strip("() \n").replace("\n", " ").split(","):
            words = part.split()
            if words:
                names.add(words[-1].split(".")[0])
    return names


def broken_imports(package_dir: Path) -> dict[Path, list[str]]:
    """For each module of the package, the relative imports that name a module or a name the
    package does not have (a model that was never written). A static reading of the ruff-formatted
    source: importing 1,300 modules, or parsing them, would take seconds."""
    texts = {path: path.read_text(encoding="utf-8") for path in sorted(package_dir.rglob("*.py"))}
    defined: dict[Path, set[str]] = {}

    def names_of(path: Path) -> set[str]:
        if path not in defined:
            defined[path] = _defined_names(texts[path]) if path in texts else set()
        return defined[path]

    found: dict[Path, list[str]] = {}
    for path, text in texts.items():
        for dots, module, names in _RELATIVE_IMPORT.findall(text):
            base = path.parent
            for _ in range(len(dots) - 1):
                base = base.parent
            target = base.joinpath(*module.split(".")) if module else base
            spelled = dots + module
            if target.with_suffix(".py") in texts:
                available = names_of(target.with_suffix(".py"))
            elif (target / "__init__.py") in texts:
                available = names_of(target / "__init__.py") | {
                    p.stem for p in target.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()
                }
            else:
                found.setdefault(path, []).append(f"module {spelled} does not exist")
                continue
            for name in _imported(names):
                if name != "*" and name not in available:
                    found.setdefault(path, []).append(f"{spelled} has no {name}")
    return found


def _drop_unimportable(spec: dict[str, Any], package_dir: Path) -> tuple[list[Diagnostic], set[str]]:
    """An operation module that imports what the package does not have is removed and reported
    (the operation stays a tool); any other such module is an ERROR naming the import."""
    by_module = {module: where for where, module in expected_modules(spec).items()}
    diags: list[Diagnostic] = []
    left_out: set[str] = set()
    for path, problems in broken_imports(package_dir).items():
        relative = path.relative_to(package_dir)
        where = by_module.get(".".join(relative.with_suffix("").parts))
        if where is not None:
            path.unlink()
            left_out.add(where)
            diags.append(
                Diagnostic(
                    Severity.WARNING,
                    LEFT_OUT,
                    f"left out of the typed client (it stays a tool): {relative} would not import: "
                    + "; ".join(problems),
                    where,
                )
            )
        else:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "client-invalid-module",
                    f"{relative} would not import: {'; '.join(problems)}",
                    str(relative),
                )
            )
    return diags, left_out


def _drop_invalid_modules(spec: dict[str, Any], package_dir: Path) -> tuple[list[Diagnostic], set[str]]:
    """Operation modules that are not valid Python are removed and reported (the operation stays a
    tool); any other module that is not valid Python is an ERROR naming the file and line."""
    by_module = {module: where for where, module in expected_modules(spec).items()}
    diags: list[Diagnostic] = []
    left_out: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            relative = path.relative_to(package_dir)
            line = getattr(exc, "lineno", None)
            problem = f"{getattr(exc, 'msg', None) or exc}" + (f" (line {line})" if line else "")
            where = by_module.get(".".join(relative.with_suffix("").parts))
            if where is not None:
                path.unlink()
                left_out.add(where)
                diags.append(
                    Diagnostic(
                        Severity.WARNING,
                        LEFT_OUT,
                        f"left out of the typed client (it stays a tool): openapi-python-client wrote "
                        f"{relative}, which is not valid Python: {problem}",
                        where,
                    )
                )
            else:
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        "client-invalid-module",
                        f"openapi-python-client wrote {relative}, which is not valid Python: {problem}",
                        str(relative),
                    )
                )
    return diags, left_out


# openapi-python-client quotes a path parameter with `quote(str(x), safe="")`, which leaves "."
# and ".." as they are; httpx then removes them as dot segments, and PUT /things/../bookkeep goes
# to PUT /bookkeep. The rewrite percent-encodes exactly those two values.
_PATH_QUOTE = re.compile(r'quote\(str\((\w+)\), safe=""\)')
_PATH_QUOTE_DOT_SAFE = (
    r'(quote(str(\1), safe="") if str(\1) not in (".", "..") else str(\1).replace(".", "%2E"))'
)


def _encode_dot_segments(package_dir: Path) -> list[Diagnostic]:
    """Path parameters "." and ".." sent percent-encoded, so they stay inside their segment."""
    count = 0
    for path in sorted((package_dir / "api").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        new, n = _PATH_QUOTE.subn(_PATH_QUOTE_DOT_SAFE, text)
        if n:
            path.write_text(new, encoding="utf-8")
            count += n
    if not count:
        return []
    return [
        Diagnostic(
            Severity.INFO,
            "dot-segment-path",
            f"{count} path parameter(s) send '.' and '..' as %2E, so URL normalisation cannot drop them",
            "api/",
        )
    ]


def _stamp(package_dir: Path, header: str) -> None:
    for path in sorted(package_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith(header + "\n"):
            path.write_text(f"{header}\n{text}", encoding="utf-8")
    (package_dir / "py.typed").write_text("", encoding="utf-8")


def _verify(spec: dict[str, Any], package_dir: Path, skipped: set[str]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for where, module in expected_modules(spec).items():
        path = package_dir.joinpath(*module.split(".")).with_suffix(".py")
        if not path.is_file():
            if where not in skipped:
                diags.append(
                    Diagnostic(
                        Severity.ERROR, "client-operation-missing", f"no module {module} was generated", where
                    )
                )
            continue
        text = path.read_text(encoding="utf-8")
        if "def sync_detailed(" not in text or "def asyncio_detailed(" not in text:
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "client-operation-missing",
                    f"{module} has no sync_detailed/asyncio_detailed function",
                    where,
                )
            )
    return diags


def _swap_into(built: Path, out_dir: Path) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    old = out_dir.parent / f".{out_dir.name}.old-{staging.name.rsplit('-', 1)[-1]}"
    try:
        shutil.copytree(built, staging, dirs_exist_ok=True)
        if out_dir.exists():
            out_dir.rename(old)
        staging.rename(out_dir)
    except BaseException:
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def emit_client(
    spec: Mapping[str, Any],
    out_dir: Path,
    *,
    vendor: str,
    header: str,
    write_on_error: bool = False,
) -> list[Diagnostic]:
    """Generate the typed client for `spec` into `out_dir` (replaced as a whole).

    `spec` is the normalised OpenAPI 3 document: each operation's `operationId` is its final tool
    name and its first tag its group. `header` (one comment line) becomes the first line of every
    generated module. Returns all diagnostics, sorted by severity; an operation left out of the
    client is a WARNING (`LEFT_OUT`, its "METHOD /path" in `where`); an ERROR means the client as
    a whole is wrong. Unless `write_on_error` is true, `out_dir` is left untouched in that case.
    Raises `GenerationError` when the generator or ruff cannot run at all.
    """
    if "\n" in header or not header.startswith("#"):
        raise ValueError("header must be a single comment line starting with '#'")
    prepared, diags = prepare_for_client(spec)
    with tempfile.TemporaryDirectory(prefix=f"ledgermcp-{vendor}-client-") as tmp:
        package_dir = Path(tmp) / "client"
        result, notes = _run_generator(prepared, package_dir)
        diags.extend(notes)
        if isinstance(result, Diagnostic):
            return sorted([*diags, result], reverse=True)
        gen_diags, skipped = _generator_diagnostics(result)
        diags.extend(gen_diags)
        if not package_dir.is_dir():
            raise GenerationError(f"openapi-python-client wrote nothing for {vendor}")
        diags.extend(_encode_dot_segments(package_dir))
        invalid, dropped = _drop_invalid_modules(prepared, package_dir)
        diags.extend(invalid)
        skipped |= dropped
        if any(d.code == "client-invalid-module" for d in invalid):
            return sorted(diags, key=lambda d: (-d.severity, d.code, d.where, d.message))
        _format(package_dir)
        unimportable, dropped = _drop_unimportable(prepared, package_dir)
        diags.extend(unimportable)
        skipped |= dropped
        _stamp(package_dir, header)
        diags.extend(_verify(prepared, package_dir, skipped))
        if write_on_error or not any(d.severity >= Severity.ERROR for d in diags):
            _swap_into(package_dir, Path(out_dir))
    return sorted(diags, key=lambda d: (-d.severity, d.code, d.where, d.message))
