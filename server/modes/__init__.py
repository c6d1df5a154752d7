"""How the selected operations are offered as tools: `full`, `consolidated` or `discovery`.

A surface lists its tools (plain data, the MCP wire shape) and turns a call of one of them into
calls of the underlying operations. Every operation call goes through `CallPipeline.call` with
the operation's own tool name and arguments, so validation, dry-run, approval (plans and tokens
bound to the operation and its arguments), snapshots, shaping and the audit log behave the same
in every mode.

    full          one tool per operation (server/toolspec.py)
    consolidated  one tool per resource with an `action` argument (consolidated.py)
    discovery     a fixed handful: search, describe, call (discovery.py)

No `mcp` import: `ledgermcp tools VENDOR --mode M` prints `Surface.tools`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgermcp.server.catalog import Vendor
from ledgermcp.server.toolspec import Selection, listed_tools

MODES = ("full", "consolidated", "discovery")
MODE_ENV = "LEDGERMCP_MODE"


class ModeError(ValueError):
    """An unknown mode name."""


class Surface:
    """Full mode: the selected operations, one tool each. The other modes subclass it."""

    mode = "full"

    def __init__(self, vendor: Vendor, selection: Selection | None = None, *, output_schemas: bool = False):
        self.vendor = vendor
        self.selection = selection or Selection()
        self.output_schemas = output_schemas
        self.operations: list[dict[str, Any]] = self.selection.apply(vendor.tools)  # type: ignore[assignment]
        self.tools: list[dict[str, Any]] = self._list()

    def _list(self) -> list[dict[str, Any]]:
        return listed_tools(self.vendor, self.operations, output_schemas=self.output_schemas)

    @property
    def operation_names(self) -> set[str]:
        """The operations this surface can reach: the pipeline refuses every other name."""
        return {str(t["name"]) for t in self.operations}

    async def call(
        self, pipeline: Any, name: str, arguments: Mapping[str, Any] | None, context: Any = None
    ) -> Any:
        """Run one tool call; raises `UnknownToolError` (server/calls.py) for a name not listed."""
        return await pipeline.call(name, arguments, context=context)


def mode_from(value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The mode named by a flag, else by LEDGERMCP_MODE, else `full`; ModeError when unknown."""
    import os

    env = os.environ if environ is None else environ
    mode = (value or env.get(MODE_ENV) or "full").strip().lower()
    if mode not in MODES:
        raise ModeError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    return mode


def build_surface(
    mode: str, vendor: Vendor, selection: Selection | None = None, *, output_schemas: bool = False
) -> Surface:
    if mode == "full":
        return Surface(vendor, selection, output_schemas=output_schemas)
    if mode == "consolidated":
        from ledgermcp.server.modes.consolidated import ConsolidatedSurface

        return ConsolidatedSurface(vendor, selection, output_schemas=output_schemas)
    if mode == "discovery":
        from ledgermcp.server.modes.discovery import DiscoverySurface

        return DiscoverySurface(vendor, selection, output_schemas=output_schemas)
    raise ModeError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")


# --- shared by the modes ------------------------------------------------------------------


def merged_hints(operations: list[Mapping[str, Any]]) -> dict[str, bool]:
    """All four hints of a tool that can run any of these operations, as cautious as the most
    dangerous one: read-only and idempotent only when every operation is, destructive and
    open-world when any is."""
    anns = [o.get("annotations") or {} for o in operations]
    return {
        "readOnlyHint": all(bool(a.get("readOnlyHint")) for a in anns),
        "destructiveHint": any(bool(a.get("destructiveHint", True)) for a in anns),
        "idempotentHint": all(bool(a.get("idempotentHint")) for a in anns),
        "openWorldHint": any(bool(a.get("openWorldHint", True)) for a in anns),
    }


def argument_error(tool: str, field: str, problem: str, fix: str) -> Any:
    """A VALIDATION_ERROR result for a mode's own arguments (nothing was sent)."""
    from ledgermcp.server import errors, render

    failure = errors.ToolFailure(
        errors.VALIDATION_ERROR,
        f"{tool}: {problem}",
        fix,
        details={"field": field, "problems": [{"field": field, "problem": problem, "fix": fix}]},
    )
    return render.failure(failure)
