"""The reviewed tool surface (`tools.lock.json`) and the change between two of them.

Per tool the lock keeps its name, group, operation, effect, hints, a hash of its input schema and
its arguments (name, type, whether required, enum values). Against a new surface the report names
tools added, removed, renamed or moved to another operation, hint and effect changes, and each
argument added, removed or changed; breaking for a client that worked before: a removed or renamed
tool, a less cautious hint or effect, a removed argument, an argument that became required (or a
new required one), an enum that lost values (or gained one where any value went), a narrower type.
"""

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


ANY = "any"  # an argument whose schema names no type


def _resolve(schema: Any, defs: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """The schema a local `$ref` points at (`#/$defs/X`), followed a few levels at most."""
    while isinstance(schema, dict) and "$ref" in schema and depth < 8:
        ref = str(schema["$ref"])
        schema = defs.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/$defs/") else {}
        depth += 1
    return schema if isinstance(schema, dict) else {}


def _types(schema: Any, defs: dict[str, Any], depth: int = 0) -> set[str] | None:
    """The JSON types an argument accepts; None for any."""
    schema = _resolve(schema, defs)
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {str(k) for k in kind}
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches and depth < 8:
        found: set[str] = set()
        for branch in branches:
            sub = _types(branch, defs, depth + 1)
            if sub is None:
                return None
            found |= sub
        return found
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        return {names.get(type(v), "object") for v in schema["enum"]}
    return None


def _enum(schema: Any, defs: dict[str, Any]) -> list[Any] | None:
    """The values an argument (or each item of an array argument) may take, when listed."""
    schema = _resolve(schema, defs)
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    items = _resolve(schema.get("items"), defs)
    if schema.get("type") == "array" and isinstance(items.get("enum"), list):
        return list(items["enum"])
    return None


def argument_entries(input_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Each argument of an input schema: name, type (`integer`, `integer|string`, `any`), whether
    required, and its enum values when it has them; sorted by name."""
    defs = input_schema.get("$defs") or {}
    required = set(input_schema.get("required") or [])
    out = []
    for name, schema in sorted((input_schema.get("properties") or {}).items()):
        types = _types(schema, defs)
        entry: dict[str, Any] = {
            "name": name,
            "type": "|".join(sorted(types)) if types else ANY,
            "required": name in required,
        }
        values = _enum(schema, defs)
        if values is not None:
            entry["enum"] = values
        out.append(entry)
    return out


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
            "arguments": argument_entries(t["input_schema"]),
        }
        for t in sorted(tools, key=lambda t: t["name"])
    ]


def _covers(new: set[str] | None, old: set[str] | None) -> bool:
    """Whether every value of the old types is still accepted by the new ones."""
    if new is None:
        return True
    if old is None:
        return False
    return all(t in new or (t == "integer" and "number" in new) for t in old)


def _type_set(text: str) -> set[str] | None:
    return None if text == ANY else set(text.split("|"))


def diff_arguments(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(change, breaking) for each argument added, removed or changed between two lock entries."""
    old = {a["name"]: a for a in before}
    new = {a["name"]: a for a in after}
    out: list[tuple[str, bool]] = []
    for name in sorted(old.keys() - new.keys()):
        out.append((f"argument {name!r} removed", True))
    for name in sorted(new.keys() - old.keys()):
        required = bool(new[name].get("required"))
        out.append((f"argument {name!r} added" + (" (required)" if required else ""), required))
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        if bool(a.get("required")) != bool(b.get("required")):
            became = "required" if b.get("required") else "optional"
            out.append((f"argument {name!r} now {became}", bool(b.get("required"))))
        if a.get("type") != b.get("type"):
            narrower = not _covers(_type_set(str(b.get("type"))), _type_set(str(a.get("type"))))
            out.append((f"argument {name!r} type {a.get('type')} -> {b.get('type')}", narrower))
        was, now = a.get("enum"), b.get("enum")
        if was != now:
            if now is None:
                out.append((f"argument {name!r} takes any value now (enum dropped)", False))
            elif was is None:
                out.append((f"argument {name!r} limited to {_values(now)}", True))
            else:
                lost = [v for v in was if v not in now]
                gained = [v for v in now if v not in was]
                parts = ([f"lost {_values(lost)}"] if lost else []) + (
                    [f"gained {_values(gained)}"] if gained else []
                )
                if parts:
                    out.append((f"argument {name!r} enum " + ", ".join(parts), bool(lost)))
    return out


def _values(values: list[Any]) -> str:
    shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values[:8])
    return shown + (f", ... ({len(values)} values)" if len(values) > 8 else "")


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
    arguments: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool, change, breaking)

    @property
    def breaking(self) -> list[str]:
        out = [f"removed {n}" for n in self.removed]
        out += [f"renamed {a} -> {b}" for a, b in self.renamed]
        out += [f"{n} now calls {new} (was {old})" for n, old, new in self.retargeted]
        out += [f"{t}: {c}" for t, c, br in self.hints if br]
        out += [f"{t}: {c}" for t, c, br in self.arguments if br]
        return out

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.renamed
            or self.retargeted
            or self.hints
            or self.schema
            or self.arguments
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
        lines += [f"~ argument {t}: {c}" + ("   [BREAKING]" if br else "") for t, c, br in self.arguments]
        explained = {t for t, _, _ in self.arguments}
        lines += [f"~ schema   {n}: input schema changed" for n in self.schema if n not in explained]
        summary = f"{len(self.added)} added, {len(self.removed)} removed, {len(self.renamed)} renamed, "
        if self.retargeted:
            summary += f"{len(self.retargeted)} moved to another operation, "
        summary += (
            f"{len(self.hints)} hint changes, {len(self.arguments)} argument changes, "
            f"{len(self.schema)} schema changes; {len(self.breaking)} breaking"
        )
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
        if (
            "arguments" in before and "arguments" in after
        ):  # a lock from before arguments were kept: hash only
            for text, breaking in diff_arguments(before["arguments"], after["arguments"]):
                change.arguments.append((after["name"], text, breaking))
    return change
