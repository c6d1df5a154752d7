"""OpenAPI 3.0 schemas -> compact JSON Schema for tool inputs.

Input schemas leave out what a caller cannot send (readOnly properties), what a model does not
need (examples, XML hints), and keep every `$ref` local: referenced component schemas are copied
into the tool's own `$defs`, so no reference dangles.
"""

from __future__ import annotations

import re
from typing import Any

from ledgermcp.codegen.normalize import REF_PREFIX

DROP_KEYS = frozenset(
    {"example", "examples", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly", "deprecated",
     "x-nullable", "nullable", "title"}
)  # fmt: skip
MAX_DESCRIPTION = 240
ARG_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def short_text(text: str | None, limit: int = MAX_DESCRIPTION) -> str:
    """One paragraph, whitespace collapsed, cut at a sentence end within `limit` characters."""
    if not text:
        return ""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: end + 1] if end > limit // 3 else cut.rstrip() + "…").strip()


class SchemaConverter:
    """Converts schemas of one spec; collects the `$defs` one tool's input schema needs."""

    def __init__(self, spec: dict[str, Any]):
        components = spec.get("components", {})
        self.components: dict[str, Any] = components.get("schemas", {}) or {}
        self.parameters: dict[str, Any] = components.get("parameters", {}) or {}
        self.request_bodies: dict[str, Any] = components.get("requestBodies", {}) or {}

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow `$ref` chains to the component; unknown refs resolve to an empty schema."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or not ref.startswith(REF_PREFIX):
                return {}
            seen.add(ref)
            node = self.components.get(ref[len(REF_PREFIX) :], {})
        return node if isinstance(node, dict) else {}

    def ref_name(self, node: dict[str, Any]) -> str | None:
        ref = node.get("$ref") if isinstance(node, dict) else None
        return ref[len(REF_PREFIX) :] if isinstance(ref, str) and ref.startswith(REF_PREFIX) else None

    def convert(self, node: Any, defs: dict[str, Any]) -> dict[str, Any]:
        """Convert one schema for input use; referenced components land in `defs`."""
        if not isinstance(node, dict):
            return {}
        name = self.ref_name(node)
        if name is not None:
            if name not in self.components:
                return {}
            if name not in defs:
                defs[name] = {}  # placeholder first: recursive schemas terminate
                defs[name] = self.convert(self.components[name], defs)
            return {"$ref": f"#/$defs/{name}"}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in DROP_KEYS or key.startswith("x-"):
                continue
            if key == "properties" and isinstance(value, dict):
                out["properties"] = {
                    prop: self.convert(sub, defs) for prop, sub in value.items() if not self.is_read_only(sub)
                }
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = self.convert(value, defs)
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                out[key] = [self.convert(v, defs) for v in value]
            elif key == "description":
                text = short_text(value)
                if text:
                    out[key] = text
            else:
                out[key] = value
        if "required" in out and "properties" in out:
            out["required"] = [r for r in out["required"] if r in out["properties"]]
            if not out["required"]:
                del out["required"]
        if node.get("nullable") and "type" in out:
            kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*kinds, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        if out.get("format") == "binary" and out.get("type") == "string":
            out["contentEncoding"] = "base64"
            out["description"] = (out.get("description", "") + " Base64-encoded file content.").strip()
        return out

    def is_read_only(self, node: Any) -> bool:
        """readOnly on the property, or on the component it references (3.0 ignores keys beside $ref)."""
        return isinstance(node, dict) and bool(node.get("readOnly") or self.resolve(node).get("readOnly"))

    def object_properties(self, node: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
        """(properties, required) of an object schema, merging allOf; None when not an object."""
        node = self.resolve(node)
        props: dict[str, Any] = {}
        required: list[str] = []
        for part in node.get("allOf", []):
            sub = self.object_properties(part)
            if sub:
                props.update(sub[0])
                required += sub[1]
        if isinstance(node.get("properties"), dict):
            props.update(node["properties"])
            required += list(node.get("required", []))
        if not props and node.get("type") != "object":
            return None
        return props, required


def prune_defs(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Keep only the `$defs` the schema reaches (conversion may have visited more)."""
    reached: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref[len("#/$defs/") :]
                if name not in reached and name in defs:
                    reached.add(name)
                    stack.append(defs[name])
            stack.extend(v for k, v in node.items() if k != "$defs")
        elif isinstance(node, list):
            stack.extend(node)
    return {k: defs[k] for k in sorted(reached)}


def safe_arg_name(name: str, taken: set[str]) -> str:
    """An argument name MCP clients accept ([A-Za-z0-9_.-], at most 64), unique among `taken`."""
    arg = name if ARG_NAME.match(name) else re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:64] or "arg"
    base, n = arg, 2
    while arg in taken:
        arg = f"{base[:60]}_{n}"
        n += 1
    taken.add(arg)
    return arg
