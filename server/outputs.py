"""Answer schemas for `serve --output-schemas`: `ledgermcp.generated.<vendor>.outputs`, imported
only when asked for (the default start-up never pays for it), each tool's root schema joined with
the definitions it reaches, then compacted like the input schemas."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from ledgermcp.server.catalog import Vendor
from ledgermcp.server.compact import compact_schema

_PREFIX = "#/$defs/"


class NoOutputSchemasError(LookupError):
    """The vendor's generated package has no answer schemas (generated before they existed)."""


def _reached(root: Any, defs: dict[str, Any]) -> dict[str, Any]:
    reached: dict[str, Any] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_PREFIX):
                name = ref[len(_PREFIX) :]
                if name not in reached and name in defs:
                    reached[name] = defs[name]
                    stack.append(defs[name])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return dict(sorted(reached.items()))


@cache
def _load(vendor_name: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(f"ledgermcp.generated.{vendor_name}.outputs")
    except ModuleNotFoundError:
        raise NoOutputSchemasError(
            f"{vendor_name} has no answer schemas; regenerate it with `ledgermcp generate {vendor_name}`"
        ) from None
    out = {}
    for name, root in module.SCHEMAS.items():
        defs = _reached(root, module.DEFS)
        out[name] = compact_schema({**root, "$defs": defs} if defs else root)
    return out


def output_schemas_for(vendor: Vendor) -> dict[str, Any]:
    """Tool name -> listed answer schema, for the tools whose answer is JSON with a schema."""
    return _load(vendor.name)
