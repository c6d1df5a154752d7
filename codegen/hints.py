"""MCP tool annotations, layered: the effect's hints (codegen/effects.py) < spec extension <
vendor overlay. Every tool carries all four hints explicitly; a contradiction fails generation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgermcp.codegen.diagnostics import GenerationError

HINT_KEYS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
SPEC_EXTENSIONS = ("x-ledgermcp-hints", "x-mcp-annotations")


@dataclass(frozen=True)
class Hints:
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    def annotations(self, title: str) -> dict[str, Any]:
        return {
            "title": title,
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }

    @classmethod
    def from_mapping(cls, values: dict[str, bool]) -> Hints:
        return cls(
            read_only=values["readOnlyHint"],
            destructive=values["destructiveHint"],
            idempotent=values["idempotentHint"],
            open_world=values["openWorldHint"],
        )

    def as_mapping(self) -> dict[str, bool]:
        return {k: v for k, v in self.annotations("").items() if k != "title"}


def layer(base: Hints, *overrides: tuple[str, dict[str, Any] | None]) -> tuple[Hints, list[str]]:
    """Apply (source, {hint: bool}) overrides in order; returns the result and what changed it."""
    values = base.as_mapping()
    applied = []
    for source, override in overrides:
        if not override:
            continue
        for key, value in override.items():
            if key not in HINT_KEYS or not isinstance(value, bool):
                raise GenerationError(
                    f"{source}: hint {key!r}={value!r} is not one of {', '.join(HINT_KEYS)} with a true/false value"
                )
            if values[key] != value:
                applied.append(f"{key}={value} ({source})")
            values[key] = value
    return Hints.from_mapping(values), applied


def check_consistent(tool_name: str, method: str, hints: Hints) -> None:
    """A contradiction fails generation, naming the tool."""
    problems = []
    if hints.read_only and hints.destructive:
        problems.append("readOnlyHint and destructiveHint are both true")
    if method == "DELETE" and not hints.destructive:
        problems.append("a DELETE must be destructive")
    if method == "DELETE" and hints.read_only:
        problems.append("a DELETE cannot be read-only")
    if problems:
        raise GenerationError(
            f"tool {tool_name!r} ({method}): contradictory hints: {'; '.join(problems)}. "
            "Fix the hints for this operation in the vendor overlay (specs/<vendor>/overlay.toml)."
        )
