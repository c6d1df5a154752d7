"""MCP tool annotations, layered: HTTP-method/kind default < spec extension < vendor overlay.

Every tool carries all four hints explicitly. Irreversible actions (send, book, credit, cancel,
finalize, pay, submit, ...) are destructive and open-world: their effect leaves the ledger (an
e-mail is sent, a voucher is booked) and cannot be taken back by another call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgermcp.codegen.diagnostics import GenerationError

HINT_KEYS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
SPEC_EXTENSIONS = ("x-ledgermcp-hints", "x-mcp-annotations")

IRREVERSIBLE_VERBS = frozenset(
    {
        "send", "email", "eprint", "einvoice", "externalprint", "bookkeep", "book", "credit", "cancel",
        "finalize", "finalise", "pay", "submit", "void", "scrap", "sell", "depreciate", "writedown",
        "writeup", "approve", "approval", "release", "report", "stop",
    }
)  # fmt: skip
# Actions that only add something new (an invoice from an order, an attachment).
ADDITIVE_VERBS = frozenset({"create", "copy", "duplicate", "convert", "attach", "upload", "import", "add"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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


def classify(method: str, verb: str, binary_only: bool) -> str:
    """The tool's kind: list, get, download, create, update, delete or action."""
    if method == "DELETE":
        return "delete"
    if verb in IRREVERSIBLE_VERBS:
        return "action"
    if method in ("GET", "HEAD"):
        if binary_only:
            return "download"
        return "list" if verb == "list" else "get"
    if method == "POST" and verb in ("create", "add"):
        return "create"
    if method in ("PUT", "PATCH") and verb in ("update", "set", "change", "patch", "modify", "save"):
        return "update"
    return "action"


def default_hints(method: str, kind: str, verb: str) -> Hints:
    idempotent = method in IDEMPOTENT_METHODS
    if kind in ("list", "get", "download"):
        return Hints(read_only=True, destructive=False, idempotent=True, open_world=False)
    if verb in IRREVERSIBLE_VERBS:
        return Hints(
            read_only=False, destructive=True, idempotent=method in ("PUT", "DELETE"), open_world=True
        )
    if kind == "create" or (kind == "action" and verb in ADDITIVE_VERBS):
        return Hints(read_only=False, destructive=False, idempotent=idempotent, open_world=False)
    # update, delete and any other action change what exists: destructive.
    return Hints(read_only=False, destructive=True, idempotent=idempotent, open_world=False)


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
