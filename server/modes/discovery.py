"""Discovery mode: three tools whatever the size of the API.

    search_operations   {"query": "send invoice"} or {"group": "invoices"}: matching operations
                        (name, group, summary, hints); no arguments: the groups
    describe_operation  {"name": "send_invoice_by_email"}: the tool exactly as full mode lists it
    call_operation      {"name": ..., "arguments": {...}}: runs the operation through the pipeline

`call_operation` takes the operation's own arguments in `arguments` (also `_approval`, `fields`,
`include_raw`; an `_approval` given beside `arguments` is moved in), so validation, approval,
dry-run, snapshots and shaping see the same call full mode would make. Its hints are the most
cautious over the operations it can reach; the search and describe tools only read the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledgermcp.server.modes import Surface, argument_error, arguments_text, merged_hints
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety.gates import APPROVAL_ARG
from ledgermcp.server.toolspec import listed_tool, nearest_names, vendor_title

SEARCH = "search_operations"
DESCRIBE = "describe_operation"
CALL = "call_operation"
SEARCH_LIMIT = 15
_WORD = re.compile(r"[a-z0-9]+")
_LOCAL = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower().replace("_", " ")):
        out.add(w)
        if len(w) > 3 and w.endswith("s"):
            out.add(w[:-1])  # invoices ~ invoice
    return out


def _hint_words(op: Mapping[str, Any]) -> str:
    ann = op.get("annotations") or {}
    if ann.get("readOnlyHint"):
        return "read-only"
    return "destructive" if ann.get("destructiveHint") else "writes"


class DiscoverySurface(Surface):
    mode = "discovery"

    def _list(self) -> list[dict[str, Any]]:
        self.title = vendor_title(self.vendor)
        self.by_name = {str(op["name"]): op for op in self.operations}
        self._index = {
            name: (
                _words(name),
                _words(f"{op.get('group', '')} {self.group_title(op)}"),
                _words(f"{op.get('title', '')} {op.get('description', '')}"),
            )
            for name, op in self.by_name.items()
        }
        t = self.title
        return [
            {
                "name": SEARCH,
                "description": f"Find {t} API operations by words (e.g. 'send invoice') or by group. "
                "Without arguments: the groups. Then describe_operation, then call_operation.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string"},
                        "group": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                },
                "annotations": dict(_LOCAL),
            },
            {
                "name": DESCRIBE,
                "description": f"The arguments of one {t} operation (its input schema) and its hints.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
                "annotations": dict(_LOCAL),
            },
            {
                "name": CALL,
                "description": f"Run one {t} operation with its arguments. Writes may need approval: "
                "the answer then says how to confirm.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                    "required": ["name"],
                },
                "annotations": merged_hints(self.operations),
            },
        ]

    def group_title(self, op: Mapping[str, Any]) -> str:
        group = str(op.get("group") or "")
        return str((self.vendor.info.get("groups") or {}).get(group) or group)

    # --- the three tools ------------------------------------------------------------------

    def search(self, args: Mapping[str, Any]) -> Any:
        query, group, limit = args.get("query"), args.get("group"), args.get("limit", SEARCH_LIMIT)
        for key, value in (("query", query), ("group", group)):
            if value is not None and not isinstance(value, str):
                return argument_error(
                    SEARCH, key, f"'{key}' must be a string", f'pass e.g. "{key}": "invoice"'
                )
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            return argument_error(SEARCH, "limit", "'limit' must be an integer from 1 to 100", "pass e.g. 10")
        groups: dict[str, int] = {}
        for op in self.operations:
            groups[str(op.get("group"))] = groups.get(str(op.get("group")), 0) + 1
        if group and group not in groups:
            return argument_error(
                SEARCH, "group", f"unknown group {group!r}", f"use one of: {', '.join(sorted(groups))}"
            )
        if not query and not group:
            rows = [
                {"group": g, "title": self.group_title({"group": g}), "operations": n}
                for g, n in sorted(groups.items())
            ]
            text = f"{len(rows)} groups; search with group=... or words:\n" + "\n".join(
                f"{r['group']} ({r['operations']})" for r in rows
            )
            return ToolResult([{"type": "text", "text": text}], {"groups": rows})
        wanted = _words(query or "")
        scored = []
        for name, op in self.by_name.items():
            if group and op.get("group") != group:
                continue
            in_name, in_group, in_text = self._index[name]
            score = sum(3 * (w in in_name) + 2 * (w in in_group) + (w in in_text) for w in wanted)
            if wanted and not score:
                continue
            scored.append((-score, name, op))
        scored.sort(key=lambda s: (s[0], s[1]))
        found = [
            {
                "name": name,
                "group": op.get("group"),
                "summary": op.get("title") or "",
                "hints": _hint_words(op),
            }
            for _, name, op in scored[:limit]
        ]
        more = len(scored) - len(found)
        head = f"{len(found)} operation(s)" + (
            f", {more} more (raise limit or add words)" if more > 0 else ""
        )
        text = head + ":\n" + "\n".join(f"{f['name']} [{f['hints']}]: {f['summary']}" for f in found)
        return ToolResult([{"type": "text", "text": text}], {"operations": found, "more": max(more, 0)})

    def _operation(self, tool: str, args: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Any]:
        name = args.get("name")
        if not isinstance(name, str) or not name:
            return None, argument_error(
                tool, "name", "missing 'name'", f"pass an operation name from {SEARCH}"
            )
        op = self.by_name.get(name)
        if op is None:
            close = nearest_names(name, self.by_name)
            hint = f"did you mean: {', '.join(close)}? " if close else ""
            return None, argument_error(
                tool, "name", f"unknown operation {name!r}", f"{hint}find the operation with {SEARCH}"
            )
        return op, None

    def describe(self, args: Mapping[str, Any]) -> Any:
        op, error = self._operation(DESCRIBE, args)
        if op is None:
            return error
        outputs: Mapping[str, Any] = {}
        if self.output_schemas:
            from ledgermcp.server.outputs import output_schemas_for

            outputs = output_schemas_for(self.vendor)
        listed = listed_tool(op, self.title, outputs.get(str(op["name"])))
        text = (
            f"{listed['name']} [{_hint_words(op)}]: {listed.get('description', '')}\n"
            f"{arguments_text(listed['inputSchema'])}\n"
            f'Call it with {CALL} {{"name": "{listed["name"]}", "arguments": {{...}}}}.'
        )
        return ToolResult([{"type": "text", "text": text}], listed)

    async def call(
        self, pipeline: Any, name: str, arguments: Mapping[str, Any] | None, context: Any = None
    ) -> Any:
        from ledgermcp.server.calls import UnknownToolError

        args = dict(arguments or {})
        if name == SEARCH:
            return self.search(args)
        if name == DESCRIBE:
            return self.describe(args)
        if name != CALL:
            raise UnknownToolError(f"unknown tool {name!r}")
        op, error = self._operation(CALL, args)
        if op is None:
            return error
        inner = args.get("arguments", {})
        if not isinstance(inner, dict):
            return argument_error(
                CALL, "arguments", "'arguments' must be an object", "pass the operation's arguments as {...}"
            )
        extra = [k for k in args if k not in ("name", "arguments", APPROVAL_ARG)]
        if extra:
            return argument_error(
                CALL,
                extra[0],
                f"unknown argument {extra[0]!r}",
                "put the operation's arguments inside 'arguments'",
            )
        inner = dict(inner)
        if APPROVAL_ARG in args:
            inner.setdefault(APPROVAL_ARG, args[APPROVAL_ARG])
        return await pipeline.call(str(op["name"]), inner, context=context)
