"""Turn validated tool arguments into an HTTP request, as the tool's `binding` describes.

Pure functions over plain data: nothing here sends anything or imports `mcp`. The result, a
`PreparedRequest`, is also what a dry-run shows and what an approval is bound to.

Serialisation follows OpenAPI 3 parameter styles:
- path (`simple`): values percent-encoded with nothing left reserved, arrays comma-joined;
- query `form` (default, explode true): arrays repeat the name, objects become one pair per key;
  `form` explode false: `name=a,b` / `name=k1,v1,k2,v2`; `spaceDelimited` / `pipeDelimited`
  join arrays with `%20` / `|`; `deepObject`: `name[key]=value`;
- header (`simple`): comma-joined.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ledgermcp.server.http.errors import RETRY_SAFE_KEY

JSON_TYPES = ("application/json",)


class RequestBuildError(ValueError):
    """An argument that passed the schema still cannot be put on the wire (e.g. bad base64)."""

    def __init__(self, field: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.field = field
        self.fix = fix


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class PreparedRequest:
    """One HTTP request, fully determined by a tool and its arguments (no credentials in it)."""

    tool: str
    method: str
    path_template: str
    path: str  # expanded and percent-encoded, relative to the base URL
    query: tuple[tuple[str, str], ...] = ()  # already percent-encoded pairs, in order
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    json_body: Any = None
    has_json_body: bool = False
    form: tuple[tuple[str, str], ...] = ()
    files: tuple[FilePart, ...] = ()
    path_values: tuple[tuple[str, str], ...] = ()  # path parameter name -> raw value (for messages)
    # whether the operation may be sent again after an error answer (the tool table's
    # `facts.retry`); the HTTP stack's retry layer reads it from the request
    retry_safe: bool | None = None

    @property
    def target(self) -> str:
        """Path plus query string, ready to be joined to the base URL."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{k}={v}" for k, v in self.query)

    def describe(self) -> dict[str, Any]:
        """A plain, secret-free description: what a dry-run or an approval prompt shows."""
        out: dict[str, Any] = {"method": self.method, "path": self.target}
        if self.headers:
            out["headers"] = dict(self.headers)
        if self.has_json_body:
            out["body"] = self.json_body
        elif self.form:
            out["body"] = dict(self.form)
        if self.files:
            out["files"] = [
                {
                    "field": f.field,
                    "filename": f.filename,
                    "bytes": len(f.content),
                    "content_type": f.content_type,
                }
                for f in self.files
            ]
        return out

    def build(self, client: Any) -> Any:
        """An `httpx.Request` for `client` (an `httpx.AsyncClient`; its base URL and auth apply)."""
        kwargs: dict[str, Any] = {"headers": dict(self.headers)}
        if self.has_json_body:
            kwargs["content"] = json.dumps(self.json_body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"]["Content-Type"] = "application/json"
        elif self.files:
            kwargs["files"] = [(f.field, (f.filename, f.content, f.content_type)) for f in self.files]
            if self.form:
                kwargs["data"] = dict(self.form)
        elif self.form:
            kwargs["data"] = dict(self.form)
        if self.retry_safe is not None:
            kwargs["extensions"] = {RETRY_SAFE_KEY: self.retry_safe}
        return client.build_request(self.method, self.target, **kwargs)


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _enc(value: Any) -> str:
    return quote(_scalar(value), safe="")


def encode_path_value(value: Any) -> str:
    """`simple` style: arrays comma-joined, objects `k,v,...`; every reserved character encoded.

    A value that is a dot segment ("." or "..") is sent as `%2E`/`%2E%2E`: left as it is, URL
    normalisation would remove it and the request would reach another resource."""
    if isinstance(value, list):
        text = ",".join(_enc(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{_enc(k)},{_enc(v)}" for k, v in value.items())
    else:
        text = _enc(value)
    return text.replace(".", "%2E") if text in (".", "..") else text


def encode_query(
    name: str, value: Any, style: str = "form", explode: bool | None = None
) -> list[tuple[str, str]]:
    """Serialise one query parameter into encoded (name, value) pairs."""
    style = style or "form"
    if explode is None:
        explode = style == "form"
    key = _enc(name)
    if isinstance(value, list):
        if style == "form" and explode:
            return [(key, _enc(v)) for v in value]
        joiner = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(style, ",")
        return [(key, joiner.join(_enc(v) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return [(f"{key}%5B{_enc(k)}%5D", _enc(v)) for k, v in value.items()]
        if explode:
            return [(_enc(k), _enc(v)) for k, v in value.items()]
        return [(key, ",".join(f"{_enc(k)},{_enc(v)}" for k, v in value.items()))]
    return [(key, _enc(value))]


def _header_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def _file_part(arg: str, prop: str, value: Any) -> FilePart:
    """A multipart file from base64 input: a string, or {"content"/"data", "filename", "content_type"}."""
    filename, content_type = prop, "application/octet-stream"
    if isinstance(value, dict):
        filename = str(value.get("filename") or filename)
        content_type = str(value.get("content_type") or value.get("mimeType") or content_type)
        value = value.get("content", value.get("data"))
    if not isinstance(value, str):
        raise RequestBuildError(
            arg,
            f"argument '{arg}' must carry the file as base64 text",
            "pass the file content base64-encoded",
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestBuildError(
            arg,
            f"argument '{arg}' is not valid base64",
            "encode the file content with standard base64 (A-Z a-z 0-9 + /, '=' padding)",
        ) from None
    return FilePart(prop, filename, raw, content_type)


def _is_file_schema(schema: Mapping[str, Any] | None) -> bool:
    if not schema:
        return False
    if schema.get("contentEncoding") == "base64" or schema.get("format") in ("binary", "byte", "base64"):
        return True
    props = schema.get("properties") or {}
    return "content" in props and "filename" in props


def build_request(tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> PreparedRequest:
    """Expand the binding's path, serialise its parameters and assemble the body."""
    binding = tool["binding"]
    path = str(binding["path"])
    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    path_values: list[tuple[str, str]] = []
    cookies: list[str] = []
    for param in binding.get("params") or []:
        arg = param["arg"]
        if param.get("bound") == "credential":  # filled when sent (server/bound.py), never an argument
            continue
        if arg not in arguments or arguments[arg] is None:
            continue
        value = arguments[arg]
        where = param.get("in")
        if where == "path":
            path = path.replace("{" + param["name"] + "}", encode_path_value(value))
            path_values.append((param["name"], _header_value(value)))
        elif where == "query":
            query.extend(
                encode_query(param["name"], value, param.get("style") or "form", param.get("explode"))
            )
        elif where == "header":
            headers.append((param["name"], _header_value(value)))
        elif where == "cookie":
            cookies.append(f"{param['name']}={_enc(value)}")
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))

    body = binding.get("body")
    content_type: str | None = None
    json_body: Any = None
    has_json = False
    form: list[tuple[str, str]] = []
    files: list[FilePart] = []
    if body:
        content_type = str(body.get("content_type") or "application/json")
        whole = body.get("whole_body_arg")
        fields: Mapping[str, str] = body.get("fields") or {}
        given = {prop: arguments[arg] for arg, prop in fields.items() if arg in arguments}
        if content_type.startswith("multipart/"):
            props = (tool.get("input_schema") or {}).get("properties") or {}
            for arg, prop in fields.items():
                if arg not in arguments:
                    continue
                if _is_file_schema(props.get(arg)) or isinstance(arguments[arg], dict):
                    files.append(_file_part(arg, prop, arguments[arg]))
                else:
                    form.append((prop, _scalar(arguments[arg])))
        elif content_type == "application/x-www-form-urlencoded":
            form = [(k, _scalar(v)) for k, v in given.items()]
        else:
            if whole and whole in arguments:
                payload: Any = arguments[whole]
                has_json = True
            elif given or body.get("required"):
                payload = given
                has_json = True
            else:
                payload = None
            if has_json and body.get("wrapper") and not (whole and whole in arguments):
                payload = {body["wrapper"]: payload}
            json_body = payload
    return PreparedRequest(
        tool=str(tool["name"]),
        method=str(binding["method"]).upper(),
        path_template=str(binding["path"]),
        path=path,
        query=tuple(query),
        headers=tuple(headers),
        content_type=content_type,
        json_body=json_body,
        has_json_body=has_json,
        form=tuple(form),
        files=tuple(files),
        path_values=tuple(path_values),
        retry_safe=retry_safe(tool),
    )


def retry_safe(tool: Mapping[str, Any]) -> bool:
    """The table's fact; a table without facts falls back to the idempotent hint."""
    facts = tool.get("facts") or {}
    if "retry" in facts:
        return bool(facts["retry"])
    return bool((tool.get("annotations") or {}).get("idempotentHint"))
