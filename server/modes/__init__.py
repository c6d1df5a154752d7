"""How the selected operations are offered as tools: `full`, `consolidated` or `discovery`.

A surface lists its tools (plain data, the MCP wire shape) and turns a call of one of them into
calls of the underlying operations. Every operation call goes through `CallPipeline.call` with
the operation's own tool name and arguments, so validation, dry-run, approval (plans and tokens
bound to the operation and its arguments), snapshots, shaping and the audit log behave the same
in every mode.

    auto          full when the selection has at most `max_tools` operations, else discovery plus
                  `enable_groups`, which adds whole groups in full form on request (auto.py)
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

MODES = ("auto", "full", "consolidated", "discovery")
DEFAULT_MODE = "auto"
MODE_ENV = "LEDGERMCP_MODE"
MAX_TOOLS_ENV = "LEDGERMCP_MAX_TOOLS"
# Cursor takes about 40 tools; VS Code and the OpenAI tool API 128
DEFAULT_MAX_TOOLS = 40


class ModeError(ValueError):
    """An unknown mode name."""


class Surface:
    """Full mode: the selected operations, one tool each. The other modes subclass it."""

    mode = "full"
    # the listing can change while serving (auto mode's enable_groups): the app re-reads `tools`
    # when `version` moves and tells the client the list changed
    dynamic = False
    version = 0

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

    def unknown_tool(self, name: str) -> str:
        """Why `name` is not a tool here, with the nearest names this surface lists."""
        return unknown_tool_message(name, [str(t["name"]) for t in self.tools])


def unknown_tool_message(name: str, names: list[str]) -> str:
    from ledgermcp.server.toolspec import nearest_names

    if len(name) > 80:  # an echoed name is cut; a name that long is near nothing
        return f"unknown tool {name[:80]!r}... ({len(name)} characters)"
    close = nearest_names(name, names)
    return f"unknown tool {name!r}" + (f"; did you mean: {', '.join(close)}?" if close else "")


def mode_from(value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The mode named by a flag, else by LEDGERMCP_MODE, else `auto`; ModeError when unknown."""
    import os

    env = os.environ if environ is None else environ
    mode = (value or env.get(MODE_ENV) or DEFAULT_MODE).strip().lower()
    if mode not in MODES:
        raise ModeError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    return mode


def max_tools_from(value: int | None, environ: Mapping[str, str] | None = None) -> int:
    """The auto-mode threshold from a flag, else LEDGERMCP_MAX_TOOLS, else 40; ModeError when it
    is not a positive integer."""
    import os

    if value is None:
        raw = ((os.environ if environ is None else environ).get(MAX_TOOLS_ENV) or "").strip()
        if not raw:
            return DEFAULT_MAX_TOOLS
        try:
            value = int(raw)
        except ValueError:
            raise ModeError(f"{MAX_TOOLS_ENV} must be a whole number of tools, not {raw!r}") from None
    if value < 1:
        raise ModeError(f"the tool limit must be at least 1, not {value}")
    return value


def build_surface(
    mode: str,
    vendor: Vendor,
    selection: Selection | None = None,
    *,
    output_schemas: bool = False,
    max_tools: int = DEFAULT_MAX_TOOLS,
) -> Surface:
    if mode == "auto":
        if len((selection or Selection()).apply(vendor.tools)) <= max_tools:
            return Surface(vendor, selection, output_schemas=output_schemas)
        from ledgermcp.server.modes.auto import AutoSurface

        return AutoSurface(vendor, selection, output_schemas=output_schemas, max_tools=max_tools)
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


# --- arguments as text (describe_operation, consolidated `describe`) -----------------------

_MAX_DEPTH = 4


def _type_of(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """(what the value is, the object schema whose fields to show beneath it, if any)."""
    schema = _resolved(schema, defs)
    if "enum" in schema:
        values = ", ".join(str(v) for v in list(schema["enum"])[:12])
        more = ", ..." if len(schema["enum"]) > 12 else ""
        return f"one of: {values}{more}", None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    for key in ("anyOf", "oneOf"):
        if not kind and schema.get(key):
            kinds = [_type_of(s, defs)[0] for s in schema[key]]
            return " or ".join(dict.fromkeys(kinds)), None
    if kind == "array":
        item, fields = _type_of(schema.get("items") or {}, defs)
        return f"array of {item}", fields
    if kind == "object" or (not kind and schema.get("properties")):
        return "object", schema if schema.get("properties") else None
    text = str(kind or "any")
    if schema.get("format"):
        text += f", {schema['format']}"
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength") if k in schema]
    return ", ".join([text, *bounds]), None


def _resolved(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return defs.get(ref.split("/")[-1]) or {}
    return schema


def argument_lines(
    schema: Mapping[str, Any], depth: int = 0, defs: Mapping[str, Any] | None = None
) -> list[str]:
    """One line per argument, nested fields indented beneath their object or list:
    `- InvoiceRows (array of object): ...` / `  - ArticleNumber (string, required)`."""
    defs = defs if defs is not None else (schema.get("$defs") or {})
    schema = _resolved(schema, defs)
    required = set(schema.get("required") or [])
    lines: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        kind, fields = _type_of(sub, defs)
        marks = kind + (", required" if name in required else "")
        about = str(_resolved(sub, defs).get("description") or "").strip().split("\n")[0]
        if len(about) > 100:
            about = about[:97] + "..."
        lines.append(f"{'  ' * depth}- {name} ({marks})" + (f": {about}" if about else ""))
        if fields is not None and depth + 1 < _MAX_DEPTH:
            lines += argument_lines(fields, depth + 1, defs)
    return lines


def arguments_text(schema: Mapping[str, Any]) -> str:
    """The argument list of an input schema as text: names, types, required marks, nested shapes."""
    lines = argument_lines(schema)
    return "Arguments:\n" + "\n".join(lines) if lines else "Arguments: none"
