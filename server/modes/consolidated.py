"""Consolidated mode: one tool per resource, the operation chosen by an `action` argument.

    invoices  {"action": "get", "DocumentNumber": "17"}
    invoices  {"action": "bookkeep", "DocumentNumber": "17"}
    invoices  {"action": "describe", "of": "create"}      -> the arguments `create` takes

Resources come from the paths: an operation belongs to the collection its path names
(`/3/invoices`, `/3/invoices/{DocumentNumber}` and `/3/invoices/{DocumentNumber}/bookkeep` are all
`/3/invoices`; `/receivables/invoices/{id}/payments` is a collection of its own). The deepest
collection another operation of the same group shares wins (`/3/assets/scrap/{Id}` joins
`/3/assets`); an operation that shares none joins its group's catch-all tool.

Action names are the operation names without the resource's noun (`bookkeep_invoice` ->
`bookkeep`, `list_invoices` -> `list`); where two would clash, the operation name stays.

The tool lists only `action` (and `of`); the description names the actions, grouped by what they
do, with the arguments each requires; `describe` returns an action's schema as full mode lists it.
Hints are the most cautious over the actions (`merged_hints`); at call time each action runs the
pipeline as its own operation, so a read action needs no approval and a destructive one does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.server import shaping
from ledgermcp.server.modes import Surface, argument_error, argument_lines, merged_hints
from ledgermcp.server.render import ToolResult
from ledgermcp.server.toolspec import listed_tool, vendor_title

ACTION_ARG = "action"
OF_ARG = "of"
DESCRIBE = "describe"
_PARAM = re.compile(r"^\{[^}]*\}$")
_VERSION = re.compile(r"^(\d+|v\d+|api)$")


@dataclass
class Resource:
    key: tuple[str, str]  # (group, collection path or "")
    operations: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)  # action -> operation


def _candidates(path: str) -> list[str]:
    """Collection paths an operation may belong to, deepest first: every prefix of its path that
    ends in a literal segment (parameters written `{}`)."""
    norm = ["{}" if _PARAM.match(s) else s for s in path.split("/") if s]
    return ["/".join(norm[: i + 1]) for i in reversed(range(len(norm))) if norm[i] != "{}"]


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    for x, y in ((a, b), (b, a)):
        if x == y + "s" or x == y + "es" or (x.endswith("ies") and x[:-3] + "y" == y):
            return True
    return False


def _noun(names: list[str]) -> list[str]:
    """The words every operation name shares after its verb (`list_invoices`, `get_invoice` ->
    ['invoice']), singular where the names disagree."""
    rests = [n.split("_")[1:] for n in names]
    if not rests:
        return []
    prefix: list[str] = []
    for i, word in enumerate(rests[0]):
        if all(len(r) > i and _same_word(r[i], word) for r in rests):
            forms = [r[i] for r in rests]
            prefix.append(min(forms, key=len))
        else:
            break
    return prefix


def _plural(word: str) -> str:
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    if word.endswith(("ss", "x", "ch", "sh")):
        return word + "es"
    return word if word.endswith("s") else word + "s"


def _action_names(resource: Resource, noun: list[str]) -> dict[str, dict[str, Any]]:
    wanted: dict[str, list[dict[str, Any]]] = {}
    for op in resource.operations:
        words = str(op["name"]).split("_")
        rest = words[1:]
        if (
            noun
            and len(rest) >= len(noun)
            and all(_same_word(a, b) for a, b in zip(rest, noun, strict=False))
        ):
            rest = rest[len(noun) :]
        action = "_".join([words[0], *rest]) if noun else str(op["name"])
        wanted.setdefault(action, []).append(op)
    actions: dict[str, dict[str, Any]] = {}
    for action, ops in wanted.items():
        if len(ops) == 1 and action != DESCRIBE:
            actions[action] = ops[0]
        else:
            for op in ops:
                actions[str(op["name"])] = op
    return dict(sorted(actions.items()))


def _path_name(key: str) -> str:
    literal = [s for s in key.split("/") if s != "{}" and not _VERSION.match(s)]
    words = re.sub(r"-v\d+$", "", literal[-1] if literal else "").replace("-", "_")
    return re.sub(r"[^a-z0-9_]", "", words.lower())


def resources_of(operations: list[dict[str, Any]], groups: Mapping[str, Any]) -> list[Resource]:
    """Operations grouped into resources, named uniquely, each with its actions."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        by_group.setdefault(str(op.get("group") or "other"), []).append(op)
    resources: dict[tuple[str, str], Resource] = {}
    for group, ops in by_group.items():
        counts: dict[str, int] = {}
        for op in ops:
            for c in _candidates(str(op["binding"]["path"])):
                counts[c] = counts.get(c, 0) + 1
        for op in ops:
            shared = [c for c in _candidates(str(op["binding"]["path"])) if counts[c] > 1]
            key = (group, shared[0] if shared else "")
            resources.setdefault(key, Resource(key)).operations.append(op)
    out = sorted(resources.values(), key=lambda r: r.key)
    per_group: dict[str, int] = {}
    for r in out:
        per_group[r.key[0]] = per_group.get(r.key[0], 0) + 1
    taken: set[str] = set()
    for r in out:
        group, path = r.key
        noun = _noun([str(o["name"]) for o in r.operations])
        if per_group[group] == 1 or not path:
            base = group
        elif noun:
            base = "_".join([*noun[:-1], _plural(noun[-1])])
        else:
            base = _path_name(path) or group
        name, i = base[:60], 2
        while name in taken:
            name, i = f"{group}_{base}"[:60] if i == 2 else f"{base[:56]}_{i}", i + 1
        taken.add(name)
        r.name = name
        r.actions = _action_names(r, noun)
    return out


def _required(op: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in op["input_schema"].get("required") or []]


def _describe_actions(resource: Resource) -> str:
    """`read: list, get(DocumentNumber); write: create; destructive: delete(DocumentNumber)`"""
    kinds: dict[str, list[str]] = {"read": [], "write": [], "destructive": []}
    for action, op in resource.actions.items():
        ann = op.get("annotations") or {}
        kind = "read" if ann.get("readOnlyHint") else "destructive" if ann.get("destructiveHint") else "write"
        req = _required(op)
        kinds[kind].append(f"{action}({', '.join(req)})" if req else action)
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in kinds.items() if v)


class ConsolidatedSurface(Surface):
    mode = "consolidated"

    def _list(self) -> list[dict[str, Any]]:
        self.title = vendor_title(self.vendor)
        self.resources = resources_of(self.operations, self.vendor.info.get("groups") or {})
        self.by_name = {r.name: r for r in self.resources}
        return [self._tool(r) for r in self.resources]

    def _tool(self, r: Resource) -> dict[str, Any]:
        group_title = (self.vendor.info.get("groups") or {}).get(r.key[0]) or r.key[0]
        subject = group_title if r.name == r.key[0] else f"{group_title}: {r.name.replace('_', ' ')}"
        description = (
            f"{self.title} {subject}. Actions, {_describe_actions(r)}. Pass the action's arguments "
            f'beside "{ACTION_ARG}"; {{"{ACTION_ARG}": "{DESCRIBE}", "{OF_ARG}": ACTION}} shows them.'
        )
        properties: dict[str, Any] = {
            ACTION_ARG: {"enum": [*r.actions, DESCRIBE]},
            OF_ARG: {"type": "string"},
        }
        for op in r.operations:  # the shaping arguments its read actions take
            properties.update(shaping.listed_arguments(op))
        return {
            "name": r.name,
            "description": description,
            "inputSchema": {"type": "object", "properties": properties, "required": [ACTION_ARG]},
            "annotations": merged_hints(r.operations),
        }

    def describe(self, r: Resource, of: Any) -> Any:
        if of is not None and of not in r.actions:
            return argument_error(
                r.name, OF_ARG, f"unknown action {of!r}", f"use one of: {', '.join(r.actions)}"
            )
        chosen = {of: r.actions[of]} if of is not None else r.actions
        outputs = self._outputs()
        described = []
        for action, op in chosen.items():
            listed = listed_tool(op, self.title, outputs.get(str(op["name"])))
            listed.pop("name")
            described.append({ACTION_ARG: action, "operation": op["name"], **listed})
        lines = []
        for d in described:
            args = argument_lines(d["inputSchema"], 1)
            lines.append(
                f"{d[ACTION_ARG]}: {d.get('description', '')} Arguments:" + (" none" if not args else "")
            )
            lines += args
        text = f'{r.name} actions (arguments go beside "{ACTION_ARG}"):\n' + "\n".join(lines)
        return ToolResult([{"type": "text", "text": text}], {"tool": r.name, "actions": described})

    def _outputs(self) -> Mapping[str, Any]:
        if not self.output_schemas:
            return {}
        from ledgermcp.server.outputs import output_schemas_for

        return output_schemas_for(self.vendor)

    async def call(
        self, pipeline: Any, name: str, arguments: Mapping[str, Any] | None, context: Any = None
    ) -> Any:
        from ledgermcp.server.calls import UnknownToolError

        r = self.by_name.get(name)
        if r is None:
            raise UnknownToolError(f"unknown tool {name!r}")
        args = dict(arguments or {})
        action = args.pop(ACTION_ARG, None)
        if action == DESCRIBE:
            return self.describe(r, args.get(OF_ARG))
        op = r.actions.get(action) if isinstance(action, str) else None
        if op is None:
            problem = "missing 'action'" if action is None else f"unknown action {action!r}"
            return argument_error(r.name, ACTION_ARG, problem, f"use one of: {', '.join(r.actions)}")
        return await pipeline.call(str(op["name"]), args, context=context)
