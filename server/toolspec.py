"""What `tools/list` shows in full mode, as plain data: selection by group, hints and name globs,
and the listed form of each tool (name, description, inputSchema, all four annotations; an output
schema only when asked for).

`wire_tool` is a table entry as it stands; `listed_tool` is what a model reads: compacted
(server/compact.py) and with the shaping arguments of read tools (server/shaping.py). The other
modes (server/modes/) build on `listed_tool`. No `mcp` import: `ledgermcp tools VENDOR --format
json` prints exactly these dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ledgermcp.server import shaping
from ledgermcp.server.catalog import Vendor
from ledgermcp.server.compact import compact_tool, share_fields

HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


class SelectionError(ValueError):
    """A selection that names groups the vendor does not have, or selects nothing."""


def split_csv(values: str | Sequence[str] | None) -> list[str]:
    """`a,b` or repeated options -> ['a', 'b']; empty pieces dropped."""
    if not values:
        return []
    if isinstance(values, str):
        values = [values]
    return [piece.strip() for value in values for piece in value.split(",") if piece.strip()]


@dataclass(frozen=True)
class Selection:
    groups: tuple[str, ...] = ()
    read_only: bool = False
    include: tuple[str, ...] = ()  # name globs
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls, groups: Any = None, read_only: bool = False, tools: Any = None, exclude: Any = None
    ) -> Selection:
        return cls(
            tuple(split_csv(groups)), bool(read_only), tuple(split_csv(tools)), tuple(split_csv(exclude))
        )

    def check(self, vendor: Vendor) -> None:
        known = vendor.info.get("groups") or {}
        unknown = [g for g in self.groups if g not in known]
        if unknown:
            raise SelectionError(
                f"unknown group(s) {', '.join(unknown)} for {vendor.name}; groups: {', '.join(known)}"
            )

    def matches(self, tool: Mapping[str, Any]) -> bool:
        name = str(tool["name"])
        if self.groups and tool.get("group") not in self.groups:
            return False
        if self.read_only and not tool["annotations"].get("readOnlyHint"):
            return False
        if self.include and not any(fnmatchcase(name, g) for g in self.include):
            return False
        return not any(fnmatchcase(name, g) for g in self.exclude)

    def apply(self, tools: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        # deterministic: by name, whatever order the table came in
        return sorted((t for t in tools if self.matches(t)), key=lambda t: str(t["name"]))


def nearest_names(name: str, names: Iterable[str], n: int = 3) -> list[str]:
    """The names closest to a mistyped one (difflib), best first."""
    import difflib

    return difflib.get_close_matches(name, list(names), n=n, cutoff=0.6)


def wire_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """One table entry in MCP wire shape, uncompacted (title, description and schema as generated)."""
    ann = tool.get("annotations") or {}
    annotations: dict[str, Any] = {}
    if ann.get("title") or tool.get("title"):
        annotations["title"] = ann.get("title") or tool.get("title")
    for hint in HINTS:
        annotations[hint] = bool(ann.get(hint, hint == "destructiveHint" or hint == "openWorldHint"))
    out: dict[str, Any] = {"name": tool["name"]}
    if tool.get("title"):
        out["title"] = tool["title"]
    if tool.get("description"):
        out["description"] = tool["description"]
    out["inputSchema"] = tool["input_schema"]
    out["annotations"] = annotations
    return out


def listed_tool(
    tool: Mapping[str, Any], vendor_title: str, output_schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One tool as full mode lists it (and as discovery mode's `describe` returns it)."""
    listed = compact_tool(wire_tool(tool), vendor_title, tool.get("facts"))
    extra = shaping.listed_arguments(tool)
    if extra:
        schema = listed["inputSchema"]
        schema["properties"] = {**(schema.get("properties") or {}), **extra}
    if output_schema is not None:
        listed["outputSchema"] = dict(output_schema)
    return listed


def vendor_title(vendor: Vendor) -> str:
    return str(vendor.info.get("title") or vendor.name)


def wire_tools(
    vendor: Vendor, selection: Selection | None = None, *, output_schemas: bool = False
) -> list[dict[str, Any]]:
    """Full mode's tools/list: every selected tool in its listed form."""
    return listed_tools(vendor, (selection or Selection()).apply(vendor.tools), output_schemas=output_schemas)


def listed_tools(
    vendor: Vendor, operations: Iterable[Mapping[str, Any]], *, output_schemas: bool = False
) -> list[dict[str, Any]]:
    """These operations (already selected, in listing order) as full mode lists them."""
    outputs: Mapping[str, Any] = {}
    if output_schemas:
        from ledgermcp.server.outputs import output_schemas_for

        outputs = output_schemas_for(vendor)
    title = vendor_title(vendor)
    return share_fields(
        [listed_tool(t, title, outputs.get(str(t["name"]))) for t in operations],
        keep=shaping.SHAPING_ARGS,
    )
