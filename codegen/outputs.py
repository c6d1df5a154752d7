"""Answer schemas: `generated/<vendor>/outputs.py`, read only by `serve --output-schemas`.

One schema per tool whose 2xx answer is JSON with a schema in the spec, in the shape the runtime
renders it as `structuredContent`: an object answer as it is, a list as `{"items": [...]}`, a
scalar as `{"value": ...}`. Component schemas are written once (`DEFS`) and referenced from each
tool's root (`SCHEMAS`); the runtime adds the definitions each tool reaches.

The schemas describe, they do not constrain: clients check `structuredContent` against them, and
the runtime also returns plans, approval requests and shaped lists (only some fields, a `_view`
note) through the same tools. So nothing is required, extra properties are allowed, enums,
formats and bounds are left out, objects and lists may be null, and plain values carry no type
(specs and vendors disagree about ids and amounts: `"ArticleNumber": "1"` or `1`): the names,
the nesting and the descriptions are what a caller needs to pick `fields` and read answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledgermcp.codegen.ir import VendorIR
from ledgermcp.codegen.schemas import SchemaConverter

_CONSTRAINTS = frozenset(
    {"required", "enum", "const", "format", "pattern", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
     "minProperties", "maxProperties", "multipleOf", "contentEncoding"}
)  # fmt: skip


_SCALARS = frozenset({"string", "integer", "number", "boolean"})


class _AnswerConverter(SchemaConverter):
    """Input conversion keeps read-only properties out; an answer has them."""

    def is_read_only(self, node: Any) -> bool:
        return False


def _relaxed(node: Any) -> Any:
    if isinstance(node, list):
        return [_relaxed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _CONSTRAINTS or (key == "additionalProperties" and value is False):
            continue
        if key == "type":
            kinds = [k for k in (value if isinstance(value, list) else [value]) if k != "null"]
            if not kinds or set(kinds) <= _SCALARS:
                continue  # ids and amounts come as text or number, whatever the spec says
            out[key] = [*kinds, "null"]
        elif key in ("properties", "$defs"):
            out[key] = {k: _relaxed(v) for k, v in value.items()}
        else:
            out[key] = _relaxed(value)
    return out


def _json_schema_of(op: dict[str, Any]) -> Any:
    for code, response in sorted((op.get("responses") or {}).items()):
        if not str(code).startswith("2") or not isinstance(response, dict):
            continue
        for media, content in (response.get("content") or {}).items():
            mt = media.split(";", 1)[0].strip().lower()
            is_json = mt == "application/json" or mt.endswith("+json")
            if is_json and isinstance(content, dict) and isinstance(content.get("schema"), dict):
                return content["schema"]
    return None


def output_schemas(spec: dict[str, Any], ir: VendorIR) -> tuple[dict[str, Any], dict[str, Any]]:
    """(DEFS, SCHEMAS): shared definitions and each tool's root answer schema."""
    converter = _AnswerConverter(spec)
    defs: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for tool in ir.tools:
        op = (spec.get("paths", {}).get(tool.operation.path) or {}).get(tool.operation.method.lower())
        raw = _json_schema_of(op) if isinstance(op, dict) else None
        if raw is None:
            continue
        converted = converter.convert(raw, defs)
        resolved = converter.resolve(raw)
        kind = resolved.get("type")
        if kind == "object" or "properties" in resolved or "allOf" in resolved:
            root = converted if "$ref" not in converted else {"allOf": [converted]}
        else:
            wrap = "items" if kind == "array" or "items" in resolved else "value"
            root = {"properties": {wrap: converted}}
        schemas[tool.name] = {**_relaxed(root), "type": "object"}
    return {name: _relaxed(body) for name, body in sorted(defs.items())}, schemas


def write_outputs(spec: dict[str, Any], ir: VendorIR, out: Path, header: str) -> None:
    import pprint

    defs, schemas = output_schemas(spec, ir)

    def literal(value: Any) -> str:
        return pprint.pformat(value, width=110, sort_dicts=False)

    (out / "outputs.py").write_text(
        f"{header}\n"
        f'"""{ir.title}: answer schemas of {len(schemas)} tools, read only by '
        '`serve --output-schemas` (see ledgermcp.codegen.outputs)."""\n\n'
        "from typing import Any\n\n"
        f"DEFS: dict[str, Any] = {literal(defs)}\n\n"
        f"SCHEMAS: dict[str, Any] = {literal(schemas)}\n"
    )
