"""The reviewed tool surface (`tools.lock.json`) and the change between two of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.codegen.hints import HINT_KEYS

# A hint change in this direction makes a tool less cautious: breaking for reviewers.
LESS_CAUTIOUS = {
    "readOnlyHint": (False, True),
    "destructiveHint": (True, False),
    "idempotentHint": (False, True),
    "openWorldHint": (True, False),
}


def schema_hash(schema: dict[str, Any]) -> str:
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def lock_entries(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per tool, sorted by name: what a reviewer must see change."""
    return [
        {
            "name": t["name"],
            "group": t["group"],
            "operation": f"{t['binding']['method']} {t['binding']['path']}",
            "hints": {k: t["annotations"][k] for k in HINT_KEYS},
            "input_schema": schema_hash(t["input_schema"]),
        }
        for t in sorted(tools, key=lambda t: t["name"])
    ]


def render_lock(header: str, entries: list[dict[str, Any]]) -> str:
    lines = ['{"_generated": ' + json.dumps(header.lstrip("# ")) + ",", ' "tools": [']
    lines += [
        "  " + json.dumps(e, sort_keys=False) + ("," if i < len(entries) - 1 else "")
        for i, e in enumerate(entries)
    ]
    lines += [" ]", "}", ""]
    return "\n".join(lines)


def parse_lock(text: str) -> list[dict[str, Any]]:
    return list(json.loads(text)["tools"])


@dataclass
class SurfaceChange:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    hints: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool, change, breaking)
    schema: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> list[str]:
        out = [f"removed {n}" for n in self.removed]
        out += [f"renamed {a} -> {b}" for a, b in self.renamed]
        out += [f"{t}: {c}" for t, c, br in self.hints if br]
        return out

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.hints or self.schema)

    def render(self) -> str:
        if self.empty:
            return "tool surface unchanged"
        lines = []
        lines += [f"+ added    {n}" for n in self.added]
        lines += [f"- removed  {n}   [BREAKING]" for n in self.removed]
        lines += [f"~ renamed  {a} -> {b}   [BREAKING]" for a, b in self.renamed]
        lines += [
            f"~ hints    {t}: {c}" + ("   [BREAKING: less cautious]" if br else "") for t, c, br in self.hints
        ]
        lines += [f"~ schema   {n}: input schema changed" for n in self.schema]
        summary = f"{len(self.added)} added, {len(self.removed)} removed, {len(self.renamed)} renamed, "
        summary += f"{len(self.hints)} hint changes, {len(self.schema)} schema changes; {len(self.breaking)} breaking"
        return "\n".join([*lines, summary])


def diff_surface(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> SurfaceChange:
    change = SurfaceChange()
    old_by_name = {e["name"]: e for e in old}
    new_by_name = {e["name"]: e for e in new}
    old_by_op = {e["operation"]: e for e in old}
    pairs = []
    for name, entry in sorted(new_by_name.items()):
        if name in old_by_name:
            pairs.append((old_by_name[name], entry))
        elif entry["operation"] in old_by_op and old_by_op[entry["operation"]]["name"] not in new_by_name:
            before = old_by_op[entry["operation"]]
            change.renamed.append((before["name"], name))
            pairs.append((before, entry))
        else:
            change.added.append(name)
    renamed_from = {a for a, _ in change.renamed}
    change.removed = sorted(n for n in old_by_name if n not in new_by_name and n not in renamed_from)
    for before, after in pairs:
        for key in HINT_KEYS:
            if before["hints"][key] != after["hints"][key]:
                flip = (before["hints"][key], after["hints"][key])
                change.hints.append(
                    (after["name"], f"{key} {flip[0]} -> {flip[1]}", LESS_CAUTIOUS[key] == flip)
                )
        if before["input_schema"] != after["input_schema"]:
            change.schema.append(after["name"])
    return change
