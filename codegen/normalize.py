"""Load a vendor description and normalise it into the OpenAPI 3 shape the rest of codegen expects.

Each fix is reported as a Diagnostic; nothing is changed silently. The input is never mutated.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError, Severity

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SAFE_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REF_PREFIX = "#/components/schemas/"


def load_document(path: Path) -> dict[str, Any]:
    """Parse a JSON or YAML description; a parse error names the file, line and fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenerationError(f"spec file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise GenerationError(f"{path} is not UTF-8 text ({exc}); download the description again") from None
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenerationError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                "fix the file or download the vendor's description again"
            ) from None
    else:
        import yaml

        try:
            doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise GenerationError(
                f"{path}: not valid YAML{where}: {problem}; "
                "fix the file or download the vendor's description again"
            ) from None
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc) or "paths" not in doc:
        raise GenerationError(
            f"{path} is not an OpenAPI description (no 'openapi'/'swagger' and 'paths' at the top level); "
            "point --spec at the vendor's OpenAPI or Swagger document"
        )
    return doc


def normalise(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Return a normalised deep copy of `doc` and the fixes applied, in order."""
    spec = copy.deepcopy(doc)
    diags: list[Diagnostic] = []
    if str(spec.get("swagger", "")).startswith("2"):
        spec = swagger2_to_openapi3(spec)
        diags.append(
            Diagnostic(Severity.INFO, "swagger2-converted", "Swagger 2.0 document converted to OpenAPI 3.0")
        )
    _stringify_keys(spec, "#", diags)
    _star_bodies_as_json(spec, diags)
    _content_parameters_as_schema(spec, diags)
    _rename_unsafe_schemas(spec, diags)
    return spec, diags


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(METHOD, path, operation, path item) for every operation, in document order."""
    found = []
    for path, item in spec.get("paths", {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                found.append((method.upper(), path, op, item))
    return found


def _stringify_keys(node: Any, where: str, diags: list[Diagnostic]) -> None:
    """YAML reads `200:` as an int; every mapping key in OpenAPI is a string."""
    if isinstance(node, dict):
        for key in list(node):
            if not isinstance(key, str):
                text = "true" if key is True else "false" if key is False else str(key)
                node[text] = node.pop(key)
                code = "int-response-code" if where.endswith("/responses") else "non-string-key"
                diags.append(
                    Diagnostic(
                        Severity.INFO,
                        code,
                        f"key {key!r} read as {type(key).__name__}; used as string",
                        where,
                    )
                )
        for key, value in node.items():
            _stringify_keys(value, f"{where}/{_escape(key)}", diags)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _stringify_keys(value, f"{where}/{i}", diags)


def _star_bodies_as_json(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    """`*/*` request bodies are JSON in practice (the vendors' own clients send JSON)."""
    for method, path, op, _ in operations(spec):
        body = op.get("requestBody")
        if not isinstance(body, dict):
            continue
        content = body.get("content") or {}
        if "*/*" in content:
            media = content.pop("*/*")
            content.setdefault("application/json", media)
            diags.append(
                Diagnostic(
                    Severity.INFO,
                    "star-body-as-json",
                    "request body '*/*' treated as application/json",
                    f"{method} {path}",
                )
            )


def _content_parameters_as_schema(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    """A parameter described by `content` with a plain-value schema (smallinvoice's `sort`:
    `content: {"*/*": {schema: string}}`) is that plain value: give it the schema directly, or the
    typed client leaves the parameter out and tools cannot check it."""
    schemas = spec.get("components", {}).get("schemas") or {}

    def plain(schema: Any) -> bool:
        for _ in range(16):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            schema = (
                schemas.get(schema["$ref"][len(REF_PREFIX) :])
                if schema["$ref"].startswith(REF_PREFIX)
                else None
            )
        return isinstance(schema, dict) and schema.get("type") in ("string", "integer", "number", "boolean")

    found: list[tuple[str, Any]] = []
    for method, path, op, _ in operations(spec):
        found += [(f"{method} {path}", p) for p in op.get("parameters") or []]
    for path, item in spec.get("paths", {}).items():
        if isinstance(item, dict):
            found += [(path, p) for p in item.get("parameters") or []]
    found += [
        (f"#/components/parameters/{k}", p)
        for k, p in (spec.get("components", {}).get("parameters") or {}).items()
    ]
    seen: set[int] = set()
    for where, param in found:
        if id(param) in seen or not isinstance(param, dict) or "schema" in param:
            continue
        seen.add(id(param))
        content = param.get("content")
        if not (isinstance(content, dict) and len(content) == 1):
            continue
        ((media, entry),) = content.items()
        schema = entry.get("schema") if isinstance(entry, dict) else None
        if not plain(schema):
            continue
        del param["content"]
        param["schema"] = schema
        diags.append(
            Diagnostic(
                Severity.INFO,
                "parameter-content-as-schema",
                f"parameter {param.get('name')!r} described as {media} content with a plain schema; used as its schema",
                where,
            )
        )


def _rename_unsafe_schemas(spec: dict[str, Any], diags: list[Diagnostic]) -> None:
    """Schema names become Python class and JSON-pointer names: keep them to [A-Za-z0-9_]."""
    schemas = spec.get("components", {}).get("schemas")
    if not isinstance(schemas, dict):
        return
    renames: dict[str, str] = {}
    taken = set(schemas)
    for name in list(schemas):
        if SAFE_SCHEMA_NAME.match(name):
            continue
        new = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not re.match(r"[A-Za-z_]", new):
            new = f"S_{new}"
        while new in taken:
            new += "_"
        taken.add(new)
        renames[name] = new
    if not renames:
        return
    spec["components"]["schemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    ref_map = {REF_PREFIX + _escape(old): REF_PREFIX + new for old, new in renames.items()}
    ref_map.update({REF_PREFIX + old: REF_PREFIX + new for old, new in renames.items()})
    map_refs(spec, lambda ref: ref_map.get(ref, ref))
    for old, new in sorted(renames.items()):
        diags.append(
            Diagnostic(
                Severity.INFO, "unsafe-schema-name", f"schema {old!r} renamed to {new!r}", REF_PREFIX + new
            )
        )


def map_refs(node: Any, change: Callable[[str], str]) -> None:
    """Replace every `$ref` string in place by `change(ref)`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            node["$ref"] = change(ref)
        for value in node.values():
            map_refs(value, change)
    elif isinstance(node, list):
        for value in node:
            map_refs(value, change)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


# --- Swagger 2.0 -> OpenAPI 3.0 -------------------------------------------------------------


def swagger2_to_openapi3(doc: dict[str, Any]) -> dict[str, Any]:
    """Convert the parts of Swagger 2.0 that codegen reads: servers, schemas, bodies, responses."""
    schemes = doc.get("schemes") or ["https"]
    host = doc.get("host", "")
    base = doc.get("basePath", "")
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": doc.get("info", {"title": "", "version": ""}),
        "servers": [{"url": f"{schemes[0]}://{host}{base}"}] if host else [{"url": base or "/"}],
        "paths": {},
        "components": {
            "schemas": doc.get("definitions", {}),
            "securitySchemes": {
                k: _convert_security(v) for k, v in doc.get("securityDefinitions", {}).items()
            },
        },
    }
    for key in ("tags", "security"):
        if key in doc:
            spec[key] = doc[key]
    consumes_default = doc.get("consumes") or ["application/json"]
    produces_default = doc.get("produces") or ["application/json"]
    shared_params = doc.get("parameters", {})
    for path, item in doc.get("paths", {}).items():
        new_item: dict[str, Any] = {}
        for method, op in item.items():
            if method == "parameters" or method not in HTTP_METHODS:
                continue
            params = [
                shared_params.get(p["$ref"].split("/")[-1], p) if "$ref" in p else p
                for p in item.get("parameters", []) + op.get("parameters", [])
            ]
            consumes = op.get("consumes") or consumes_default
            produces = op.get("produces") or produces_default
            new_op = {
                k: v for k, v in op.items() if k not in ("parameters", "consumes", "produces", "responses")
            }
            new_params = []
            form_props: dict[str, Any] = {}
            form_required: list[str] = []
            for p in params:
                if p.get("in") == "body":
                    new_op["requestBody"] = {
                        "required": bool(p.get("required")),
                        "content": {ct: {"schema": p.get("schema", {})} for ct in consumes},
                    }
                elif p.get("in") == "formData":
                    prop = {k: v for k, v in p.items() if k not in ("name", "in", "required")}
                    if prop.get("type") == "file":
                        prop = {"type": "string", "format": "binary"}
                    form_props[p["name"]] = prop
                    if p.get("required"):
                        form_required.append(p["name"])
                else:
                    schema = {k: p[k] for k in ("type", "format", "items", "enum", "default") if k in p}
                    new_p = {k: v for k, v in p.items() if k in ("name", "in", "required", "description")}
                    new_p["schema"] = schema
                    if p.get("collectionFormat") == "multi":
                        new_p.update(style="form", explode=True)
                    elif p.get("type") == "array":
                        new_p.update(style="form", explode=False)
                    new_params.append(new_p)
            if form_props:
                ct = (
                    "multipart/form-data"
                    if "multipart/form-data" in consumes
                    else "application/x-www-form-urlencoded"
                )
                schema: dict[str, Any] = {"type": "object", "properties": form_props}
                if form_required:
                    schema["required"] = form_required
                new_op["requestBody"] = {"content": {ct: {"schema": schema}}}
            if new_params:
                new_op["parameters"] = new_params
            responses = {}
            for code, resp in op.get("responses", {}).items():
                new_resp = {"description": resp.get("description", "")}
                if "schema" in resp:
                    new_resp["content"] = {ct: {"schema": resp["schema"]} for ct in produces}
                responses[str(code)] = new_resp
            new_op["responses"] = responses
            new_item[method] = new_op
        spec["paths"][path] = new_item
    old = "#/definitions/"
    map_refs(spec, lambda ref: REF_PREFIX + ref[len(old) :] if ref.startswith(old) else ref)
    return spec


def _convert_security(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "oauth2":
        flow_name = {"accessCode": "authorizationCode", "application": "clientCredentials"}.get(
            scheme.get("flow", ""), scheme.get("flow", "")
        )
        flow = {k: scheme[k] for k in ("authorizationUrl", "tokenUrl") if k in scheme}
        flow["scopes"] = scheme.get("scopes", {})
        return {"type": "oauth2", "flows": {flow_name: flow}}
    return dict(scheme)
