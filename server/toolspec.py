"""What `tools/list` shows, as plain data: selection by group, hints and name globs, and the wire
form of each tool (name, title, description, inputSchema, all four annotations; no output schema).

No `mcp` import: `ledgermcp tools VENDOR --format json` prints exactly these dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ledgermcp.server.catalog import Vendor

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


def wire_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """One tool as `tools/list` sends it."""
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


def wire_tools(vendor: Vendor, selection: Selection | None = None) -> list[dict[str, Any]]:
    return [wire_tool(t) for t in (selection or Selection()).apply(vendor.tools)]
