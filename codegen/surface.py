"""The reviewed tool surface (`tools.lock.json`) and the change between two of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.codegen.effects import DANGER
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
            "effect": (t.get("facts") or {}).get("effect"),
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
    # (name, old operation, new operation): the same name now sends a different request
    retargeted: list[tuple[str, str, str]] = field(default_factory=list)
    hints: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool, change, breaking)
    schema: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> list[str]:
        out = [f"removed {n}" for n in self.removed]
        out += [f"renamed {a} -> {b}" for a, b in self.renamed]
        out += [f"{n} now calls {new} (was {old})" for n, old, new in self.retargeted]
        out += [f"{t}: {c}" for t, c, br in self.hints if br]
        return out

    @property
    def empty(self) -> bool:
        return not (
            self.added or self.removed or self.renamed or self.retargeted or self.hints or self.schema
        )

    def render(self) -> str:
        if self.empty:
            return "tool surface unchanged"
        lines = []
        lines += [f"+ added    {n}" for n in self.added]
        lines += [f"- removed  {n}   [BREAKING]" for n in self.removed]
        lines += [f"~ renamed  {a} -> {b}   [BREAKING]" for a, b in self.renamed]
        lines += [f"~ moved    {n}: {old} -> {new}   [BREAKING]" for n, old, new in self.retargeted]
        lines += [
            f"~ hints    {t}: {c}" + ("   [BREAKING: less cautious]" if br else "") for t, c, br in self.hints
        ]
        lines += [f"~ schema   {n}: input schema changed" for n in self.schema]
        summary = f"{len(self.added)} added, {len(self.removed)} removed, {len(self.renamed)} renamed, "
        if self.retargeted:
            summary += f"{len(self.retargeted)} moved to another operation, "
        summary += f"{len(self.hints)} hint changes, {len(self.schema)} schema changes; {len(self.breaking)} breaking"
        return "\n".join([*lines, summary])


def diff_surface(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> SurfaceChange:
    change = SurfaceChange()
    old_by_name = {e["name"]: e for e in old}
    new_by_name = {e["name"]: e for e in new}
    old_by_op = {e["operation"]: e for e in old}
    new_ops = {e["operation"] for e in new}
    pairs = []
    for name, entry in sorted(new_by_name.items()):
        op = entry["operation"]
        same_name, same_op = old_by_name.get(name), old_by_op.get(op)
        if same_name is not None and same_name["operation"] != op:
            change.retargeted.append((name, same_name["operation"], op))
        if same_op is not None:
            if same_op["name"] != name:
                change.renamed.append((same_op["name"], name))
            pairs.append((same_op, entry))
        elif same_name is not None:
            if same_name["operation"] not in new_ops:  # the operation moved: compare what the name offers
                pairs.append((same_name, entry))
        else:
            change.added.append(name)
    change.removed = sorted(
        e["name"] for e in old if e["operation"] not in new_ops and e["name"] not in new_by_name
    )
    for before, after in pairs:
        old_effect, new_effect = before.get("effect"), after.get("effect")
        if old_effect and new_effect and old_effect != new_effect:
            # an effect of less danger is a less cautious reading of the operation
            less = DANGER.get(new_effect, 0) < DANGER.get(old_effect, 0)
            change.hints.append((after["name"], f"effect {old_effect} -> {new_effect}", less))
        for key in HINT_KEYS:
            if before["hints"][key] != after["hints"][key]:
                flip = (before["hints"][key], after["hints"][key])
                change.hints.append(
                    (after["name"], f"{key} {flip[0]} -> {flip[1]}", LESS_CAUTIOUS[key] == flip)
                )
        if before["input_schema"] != after["input_schema"]:
            change.schema.append(after["name"])
    return change
