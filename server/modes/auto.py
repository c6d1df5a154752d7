"""Auto mode over a selection larger than the client's tool limit: discovery's three tools plus
`enable_groups`, which adds whole groups of operations to the listing in full form.

    enable_groups  {"groups": ["invoices", "customers"]}: those groups' operations are listed
                   from now on, one tool each, exactly as full mode lists them; the server then
                   tells the client that the tool list changed

Its description names every group with its number of operations. Enabled groups stay enabled for
the life of the server process (over stateless HTTP: for every client of that process). The
enabled tools run through the pipeline as full mode's do; search, describe and call_operation
keep reaching every selected operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgermcp.server.catalog import Vendor
from ledgermcp.server.modes import argument_error, unknown_tool_message
from ledgermcp.server.modes.discovery import DiscoverySurface
from ledgermcp.server.render import ToolResult
from ledgermcp.server.toolspec import Selection, listed_tools, nearest_names

ENABLE = "enable_groups"
_LOCAL = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


class AutoSurface(DiscoverySurface):
    mode = "auto"
    dynamic = True

    def __init__(
        self,
        vendor: Vendor,
        selection: Selection | None = None,
        *,
        output_schemas: bool = False,
        max_tools: int = 40,
    ) -> None:
        self.max_tools = max_tools
        self.enabled: list[str] = []
        self.enabled_tools: list[dict[str, Any]] = []
        super().__init__(vendor, selection, output_schemas=output_schemas)

    def group_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operations:
            counts[str(op.get("group"))] = counts.get(str(op.get("group")), 0) + 1
        return dict(sorted(counts.items()))

    def _list(self) -> list[dict[str, Any]]:
        tools = super()._list()
        counts = ", ".join(f"{g} {n}" for g, n in self.group_counts().items())
        tools.append(
            {
                "name": ENABLE,
                "description": f"List the {self.title} operations of these groups as tools of their own "
                f"(full schemas), instead of going through call_operation. Groups (operations): {counts}.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"groups": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
                    "required": ["groups"],
                },
                "annotations": dict(_LOCAL),
            }
        )
        return tools + self.enabled_tools

    def enable(self, args: Mapping[str, Any]) -> Any:
        groups = args.get("groups")
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(",") if g.strip()]
        if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
            return argument_error(
                ENABLE, "groups", "'groups' must be a list of group names", 'pass e.g. ["invoices"]'
            )
        counts = self.group_counts()
        unknown = [g for g in groups if g not in counts]
        if unknown:
            close = nearest_names(unknown[0], counts)
            fix = f"did you mean: {', '.join(close)}? " if close else ""
            return argument_error(
                ENABLE,
                "groups",
                f"unknown group(s) {', '.join(map(repr, unknown))}",
                fix + f"groups: {', '.join(counts)}",
            )
        new = [g for g in dict.fromkeys(groups) if g not in self.enabled]
        if new:
            self.enabled += new
            ops = [op for op in self.operations if op.get("group") in self.enabled]
            self.enabled_tools = listed_tools(self.vendor, ops, output_schemas=self.output_schemas)
            self.tools = self._list()
            self.version += 1
        added = [str(op["name"]) for op in self.operations if op.get("group") in new]
        text = (
            f"Enabled {', '.join(new) or 'nothing new'}"
            + (f": {len(added)} tools listed now ({', '.join(added)})" if added else "")
            + f". Enabled groups: {', '.join(self.enabled)}; {len(self.tools)} tools listed."
        )
        if len(self.tools) > self.max_tools:
            text += f" That is more than the {self.max_tools} this server was asked to keep to."
        structured = {"enabled": list(self.enabled), "added": added, "listed": len(self.tools)}
        return ToolResult([{"type": "text", "text": text}], structured)

    def unknown_tool(self, name: str) -> str:
        op = self.by_name.get(name)
        if op is not None:  # an operation of a group not enabled yet
            return (
                f"tool {name!r} is in group {op.get('group')!r}, which is not enabled: call "
                f'{ENABLE} {{"groups": ["{op.get("group")}"]}} first, or call_operation'
            )
        return unknown_tool_message(name, [str(t["name"]) for t in self.tools] + list(self.by_name))

    async def call(
        self, pipeline: Any, name: str, arguments: Mapping[str, Any] | None, context: Any = None
    ) -> Any:
        if name == ENABLE:
            return self.enable(dict(arguments or {}))
        if name in self.by_name and self.by_name[name].get("group") in self.enabled:
            return await pipeline.call(name, arguments, context=context)
        return await super().call(pipeline, name, arguments, context=context)
