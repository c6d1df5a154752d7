"""Schema parts that tools.py writes once and every tool that has them refers to.

A vendor's input schemas repeat themselves: `{'type': 'string'}` a thousand times, the same date
field, enum, row item or whole parameter list in many tools. Written as one literal per tool, each
repetition is its own dict when the table is imported; for Fortnox that is half of the table's
memory. Written once as a module constant (`_S12 = {...}`) and named where it recurs, it is one
object. Parameter bindings repeat in the same way (paging parameters, path ids). The table stays
plain data (dicts, lists, strings); the runtime reads it and never changes it in place, which
tests/test_tool_table.py checks.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

# a part shorter than this (as JSON) costs about as much to name as to repeat
MIN_CHARS = 16


class PartName:
    """Stands for a shared part inside a literal: `pprint` writes its repr, the constant's name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _count(node: Any, counts: Counter[str], texts: dict[int, str]) -> None:
    """Count every dict and list under `node` by its JSON text, kept in `texts` by id."""
    if isinstance(node, dict | list):
        # key order counts: a part is shared only where the literal would be identical
        texts[id(node)] = text = json.dumps(node, ensure_ascii=False)
        counts[text] += 1
        for value in node.values() if isinstance(node, dict) else node:
            _count(value, counts, texts)


# the entries of a tool whose parts recur across tools (schemas, parameter bindings)
SHARED_KEYS = ("input_schema", "binding", "snapshot")


def share_parts(
    tools: list[dict[str, Any]], keys: tuple[str, ...] = SHARED_KEYS
) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """(parts, tools): the parts of each tool's `keys` entries found more than once, as (name,
    literal) in an order where each part comes after the parts it uses, and the tools with those
    parts replaced by their names. The input is not changed."""
    counts: Counter[str] = Counter()
    texts: dict[int, str] = {}  # the input stays alive throughout, so its ids are stable
    for tool in tools:
        for key in keys:
            _count(tool.get(key), counts, texts)
    shared = {text for text, n in counts.items() if n > 1 and len(text) >= MIN_CHARS}
    names: dict[str, PartName] = {}
    parts: list[tuple[str, Any]] = []

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            out: Any = {k: replace(v) for k, v in node.items()}
        elif isinstance(node, list):
            out = [replace(v) for v in node]
        else:
            return node
        text = texts[id(node)]
        if text not in shared:
            return out
        if text not in names:
            names[text] = PartName(f"_S{len(names) + 1}")
            parts.append((names[text].name, out))
        return names[text]

    replaced = [{k: replace(v) if k in keys else v for k, v in tool.items()} for tool in tools]
    return parts, replaced
