"""The MCP server for one vendor, on the official SDK's low-level `Server`.

Tools come from the generated tool table (plain data; the vendor's typed `client/` package is
never imported), offered as the mode says (server/modes/: one tool per operation, per resource,
or search/describe/call). Every call reaches `CallPipeline` (server/calls.py) as the call of one
operation. The SDK's runner serves both
protocol eras on one connection: clients that probe `server/discover` get the newest revision the
SDK offers (2026-07-28), clients that send `initialize` negotiate a handshake revision (2025-11-25
and older).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from ledgermcp import __version__
from ledgermcp.server.calls import CallPipeline, UnknownToolError, Upstream, open_client
from ledgermcp.server.catalog import Vendor
from ledgermcp.server.modes import Surface, build_surface
from ledgermcp.server.render import ToolResult
from ledgermcp.server.settings import VendorSettings, load_settings
from ledgermcp.server.toolspec import Selection

log = logging.getLogger("ledgermcp.server")


def _instructions(vendor: Vendor, sandbox: bool, mode: str = "full") -> str:
    from ledgermcp.server.shaping import INSTRUCTIONS as SHAPING

    title = vendor.info.get("title") or vendor.name
    offer = {
        "full": "Each tool is one API operation",
        "consolidated": "Each tool is one resource; its `action` argument picks the API operation",
        "discovery": "Find API operations with search_operations, read their arguments with "
        "describe_operation and run them with call_operation",
    }[mode]
    text = (
        f"Tools for the {title} API. {offer}; arguments are checked before anything is sent, and "
        f"failures carry a code and a hint. {SHAPING}"
    )
    if sandbox:
        text += " SANDBOX: answers come from an in-memory simulation; no real account is touched."
    return text


def build_server(
    vendor: Vendor,
    pipeline: CallPipeline,
    *,
    selection: Selection | None = None,
    sandbox: bool = False,
    surface: Surface | None = None,
) -> Server[Any]:
    """An SDK `Server` whose tools/list is the surface's tools (default: full mode over the
    selection) and whose tools/call runs them through the pipeline."""
    surface = surface or build_surface("full", vendor, selection)
    tools = [types.Tool.model_validate(t) for t in surface.tools]
    listed = types.ListToolsResult(tools=tools)
    pipeline.allowed = surface.operation_names

    async def on_list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return listed

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        try:
            result = await surface.call(pipeline, params.name, params.arguments, context=ctx)
        except UnknownToolError as exc:
            raise MCPError(
                types.INVALID_PARAMS, f"{exc}; tools/list shows the tools this server offers"
            ) from None
        if isinstance(result, ToolResult):
            try:
                return types.CallToolResult.model_validate(result.to_wire())
            except Exception:
                log.exception("could not encode the result of %s", params.name)
                return types.CallToolResult(
                    content=[
                        types.TextContent(
                            text=f"INTERNAL_ERROR: {params.name}: the result could not be encoded"
                        )
                    ],
                    is_error=True,
                )
        return result

    return Server(
        f"ledgermcp-{vendor.name}",
        version=__version__,
        title=f"ledgermcp: {vendor.info.get('title') or vendor.name}" + (" (sandbox)" if sandbox else ""),
        instructions=_instructions(vendor, sandbox, surface.mode),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


class App:
    """A vendor's server together with what it owns: the pipeline, its HTTP client, the sandbox."""

    def __init__(
        self,
        vendor: Vendor,
        server: Server[Any],
        pipeline: CallPipeline,
        sandbox: Any = None,
        safety: Any = None,
    ) -> None:
        self.vendor = vendor
        self.server = server
        self.pipeline = pipeline
        self.sandbox = sandbox
        self.safety = safety  # ledgermcp.server.safety.Safety: the installed gates and hooks
        self.surface: Surface | None = None  # what tools/list shows and how a call reaches operations

    async def aclose(self) -> None:
        await self.pipeline.upstream.aclose()


def create_app(
    vendor: Vendor,
    *,
    selection: Selection | None = None,
    sandbox: bool = False,
    environ: Mapping[str, str] | None = None,
    client: Any = None,
    settings: VendorSettings | None = None,
    safety: Any = None,
    auth: Any = None,
    mode: str = "full",
    output_schemas: bool = False,
) -> App:
    """Wire settings, the HTTP seam (or the sandbox), the pipeline and the MCP server together.

    `client`: any `httpx.AsyncClient` to send through (tests, the vendor HTTP stack).
    `safety`: `ledgermcp.server.safety.SafetyOptions` (dry-run, approval, snapshots, audit log;
    `options_from_env` reads them with the CLI's flags). Without it no write-safety gate is
    installed: `ledgermcp serve` always passes one.
    `auth`: an `httpx.Auth` for the vendor (the rotating OAuth2 tokens of a profile); without it the
    HTTP stack derives auth from the environment.
    `mode`: `full`, `consolidated` or `discovery` (server/modes/); `output_schemas`: list the
    answers' schemas too (full mode)."""
    env = os.environ if environ is None else environ
    settings = settings or load_settings(vendor.info, env)
    simulated = None
    if client is None:
        transport = None
        if sandbox:
            from ledgermcp.server.sandbox import SandboxVendor

            simulated = SandboxVendor(
                vendor, base_url=settings.base_url, journal=env.get("LEDGERMCP_SANDBOX_JOURNAL")
            )
            transport = simulated.transport()
        client = open_client(vendor.info, settings, env=env, transport=transport, auth=auth)
    pipeline = CallPipeline(vendor, Upstream(client), settings=settings)
    from ledgermcp.server import shaping

    shaping.install(pipeline)
    guards = None
    if safety is not None:
        from ledgermcp.server.safety import install

        guards = install(pipeline, safety, ask=ask_user)
    surface = build_surface(mode, vendor, selection, output_schemas=output_schemas)
    server = build_server(vendor, pipeline, selection=selection, sandbox=sandbox, surface=surface)
    app = App(vendor, server, pipeline, simulated, guards)
    app.surface = surface
    return app


async def ask_user(call: Any, plan: dict[str, Any], text: str) -> str | None:
    """Ask the human through elicitation when the client declared it and the connection can carry a
    server request; None otherwise (the approval gate then falls back to a plan-bound token)."""
    ctx = call.context
    session = getattr(ctx, "session", None)
    if session is None:
        return None
    try:
        caps = session.client_capabilities
        if caps is None or caps.elicitation is None or not session.can_send_request:
            return None
    except Exception:
        return None
    message = (
        f"Approve {call.name}? Nothing has been sent yet.\n{text}\n"
        "Accept to send exactly this request; decline to send nothing."
    )
    try:
        answer = await session.elicit_form(
            message, {"type": "object", "properties": {}}, related_request_id=getattr(ctx, "request_id", None)
        )
    except Exception:
        log.warning("could not ask the user to approve %s; falling back to an approval token", call.name)
        return None
    return str(answer.action)


async def serve_stdio(app: App) -> None:
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read_stream, write_stream):
            await app.server.run(read_stream, write_stream, app.server.create_initialization_options())
    finally:
        await app.aclose()
