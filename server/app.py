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
from dataclasses import replace
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
        "auto": "Find API operations with search_operations, read their arguments with "
        "describe_operation and run them with call_operation, or list whole groups of them as tools "
        "with enable_groups",
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
    selection) and whose tools/call runs them through the pipeline. A surface whose listing can
    change (auto mode) gets `tools/list_changed` sent after a call changed it: as a notification on
    handshake-era connections, on `subscriptions/listen` streams on 2026-07-28."""
    surface = surface or build_surface("full", vendor, selection)
    # The answer is the wire form itself: the SDK validates and dumps whatever a handler returns,
    # so models here would only add a copy of the whole listing (a few MiB for Fortnox).
    for tool in surface.tools:
        types.Tool.model_validate(tool)  # a malformed tool fails here, at start-up
    empty = types.ListToolsResult(tools=[]).model_dump(by_alias=True, mode="json", exclude_none=True)
    listed: list[Any] = [surface.version, {**empty, "tools": surface.tools}]  # the model's own defaults
    pipeline.allowed = surface.operation_names
    bus = None
    if surface.dynamic:
        from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler

        bus = InMemorySubscriptionBus()

    async def on_list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> dict[str, Any]:
        if listed[0] != surface.version:
            listed[:] = [surface.version, {**empty, "tools": surface.tools}]
        return listed[1]  # type: ignore[no-any-return]

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        before = surface.version
        try:
            result = await surface.call(pipeline, params.name, params.arguments, context=ctx)
        except UnknownToolError:
            raise MCPError(
                types.INVALID_PARAMS,
                f"{surface.unknown_tool(params.name)}; tools/list shows the tools this server offers",
            ) from None  # the name in it is cut (modes.unknown_tool_message)
        if surface.version != before:
            for tool in surface.tools:
                types.Tool.model_validate(tool)
            await _tools_changed(ctx, bus)
        return tool_call_result(params.name, result)

    server = Server(
        f"ledgermcp-{vendor.name}",
        version=__version__,
        title=f"ledgermcp: {vendor.info.get('title') or vendor.name}" + (" (sandbox)" if sandbox else ""),
        instructions=_instructions(vendor, sandbox, surface.mode),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_subscriptions_listen=ListenHandler(bus) if bus is not None else None,
    )
    return server


async def _tools_changed(ctx: Any, bus: Any) -> None:
    """Tell the client its tool list changed, in the way its protocol revision has."""
    from mcp.shared.subscriptions import ToolsListChanged
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    session = getattr(ctx, "session", None)
    try:
        if session is not None and session.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await session.send_tool_list_changed()
        elif bus is not None:
            await bus.publish(ToolsListChanged())
    except Exception:  # the call itself succeeded; the client can still list again
        log.warning("could not send tools/list_changed")


def notification_options(app: App) -> Any:
    """The list-changed flags a handshake-era client is told at `initialize`."""
    from mcp.server.lowlevel.server import NotificationOptions

    return NotificationOptions(tools_changed=bool(app.surface is not None and app.surface.dynamic))


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
    max_tools: int | None = None,
    ask: Any = None,
    tenant: str | None = None,
) -> App:
    """Wire settings, the HTTP seam (or the sandbox), the pipeline and the MCP server together.

    `client`: any `httpx.AsyncClient` to send through (tests, the vendor HTTP stack).
    `safety`: `ledgermcp.server.safety.SafetyOptions` (dry-run, approval, snapshots, audit log;
    `options_from_env` reads them with the CLI's flags). Without it no write-safety gate is
    installed: `ledgermcp serve` always passes one.
    `auth`: an `httpx.Auth` for the vendor (the rotating OAuth2 tokens of a profile); without it the
    HTTP stack derives auth from the environment.
    `mode`: `auto`, `full`, `consolidated` or `discovery` (server/modes/; `max_tools`: auto's
    threshold); `output_schemas`: list the answers' schemas too (full mode).
    `ask`: how the approval gate asks the human (default: the MCP client's elicitation).
    `tenant`: the tenant bound parameters take when `LEDGERMCP_<VENDOR>_TENANT_ID` is not set (the
    profile's stored tenant; server/bound.py)."""
    from ledgermcp.server.limits import Limits

    env = os.environ if environ is None else environ
    settings = settings or load_settings(vendor.info, env)
    limits = Limits.from_env(env)
    simulated = None
    if client is None:
        transport = None
        if sandbox:
            from ledgermcp.server.sandbox import SandboxVendor

            simulated = SandboxVendor(
                vendor,
                base_url=settings.base_url,
                journal=env.get("LEDGERMCP_SANDBOX_JOURNAL"),
                limits=limits,
            )
            transport = simulated.transport()
        client = open_client(vendor.info, settings, env=env, transport=transport, auth=auth)
    from ledgermcp.server.bound import binder_for
    from ledgermcp.server.downloads import default_downloads_dir

    binder = binder_for(
        vendor, settings.credentials, tenant=settings.tenant_id or tenant, require_tenant=not sandbox
    )
    pipeline = CallPipeline(vendor, Upstream(client, binder), settings=settings, limits=limits)
    pipeline.downloads_dir = default_downloads_dir(vendor.name, env)
    from ledgermcp.server import shaping

    shaping.install(pipeline)
    guards = None
    if safety is not None:
        from ledgermcp.server.safety import install

        guards = install(pipeline, safety, ask=ask or ask_user)
    from ledgermcp.server.modes import DEFAULT_MAX_TOOLS

    surface = build_surface(
        mode,
        vendor,
        selection,
        output_schemas=output_schemas,
        max_tools=DEFAULT_MAX_TOOLS if max_tools is None else max_tools,
    )
    server = build_server(vendor, pipeline, selection=selection, sandbox=sandbox, surface=surface)
    if guards is not None and guards.store is not None:
        serve_snapshots(server, pipeline, guards.store, selection)
    approval = guards.approval if guards is not None else None
    serve_prompts(server, vendor, surface, approval.needs_approval if approval is not None else None)
    app = App(vendor, server, pipeline, simulated, guards)
    app.surface = surface
    return app


# --- write safety over MCP: asking the human, snapshots as resources, restore_snapshot ----------

APPROVAL_INPUT = "approval"  # the key of the question in an InputRequiredResult


def _asks_forms(session: Any) -> bool:
    caps = session.client_capabilities
    asks = caps.elicitation if caps is not None else None
    # an empty `elicitation: {}` (older clients) means form mode; URL mode alone cannot show a plan
    return asks is not None and (asks.form is not None or asks.url is None)


async def ask_user(prompt: Any) -> Any:
    """Ask the human to approve `prompt.plan` through the client's elicitation, in the way the
    connection's protocol revision has: on 2026-07-28 an InputRequiredResult whose answer comes
    with the client's retry (bound to the plan by `prompt.state()`); on handshake revisions
    (2025-11-25 and older) an `elicitation/create` request while the call waits. None when the
    client cannot be asked (the approval gate then falls back to a plan-bound token)."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    call = prompt.call
    ctx = call.context
    session = getattr(ctx, "session", None)
    if session is None or not _asks_forms(session):
        return None
    message = (
        f"Approve {call.name}? Nothing has been sent yet. It will send:\n{prompt.text}\n"
        "Accept to send exactly this request; decline to send nothing."
    )
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        params = ctx.params or {}
        answer = (params.get("inputResponses") or {}).get(APPROVAL_INPUT)
        if answer is not None:
            stale = await prompt.check_state(params.get("requestState"))
            try:
                action = types.ElicitResult.model_validate(answer).action
            except ValueError:
                stale = "the answer is not an elicitation result"
            if stale is None:
                return str(action)
            log.warning("%s: ignoring an approval answer (%s); asking again", call.name, stale)
        question = types.ElicitRequest(
            params=types.ElicitRequestFormParams(message=message, requested_schema=schema)
        )
        return types.InputRequiredResult(
            input_requests={APPROVAL_INPUT: question}, request_state=prompt.state()
        )
    if not session.can_send_request:
        return None
    try:
        reply = await session.elicit_form(
            message, schema, related_request_id=getattr(ctx, "request_id", None)
        )
    except Exception:
        log.warning("could not ask the user to approve %s; falling back to an approval token", call.name)
        return None
    return str(reply.action)


def tool_call_result(name: str, result: Any) -> Any:
    """A pipeline outcome as the SDK's result: a ToolResult encoded, anything else as it is."""
    if not isinstance(result, ToolResult):
        return result
    try:
        return types.CallToolResult.model_validate(result.to_wire())
    except Exception:
        log.exception("could not encode the result of %s", name)
        text = f"INTERNAL_ERROR: {name}: the result could not be encoded"
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def serve_prompts(server: Server[Any], vendor: Vendor, surface: Surface, needs_approval: Any) -> None:
    """prompts/list and prompts/get (server/prompts.py), when the vendor serves any recipe.
    `needs_approval`: the approval gate's rule; None when this server asks for no approval."""
    from ledgermcp.server.prompts import PromptError, Prompts

    prompts = Prompts(vendor, surface, needs_approval or (lambda tool: False))
    if not prompts.offered:
        return
    listing = types.ListPromptsResult.model_validate({"prompts": prompts.listing()})

    async def on_list_prompts(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return listing

    async def on_get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        try:
            return types.GetPromptResult.model_validate(prompts.get(params.name, params.arguments))
        except PromptError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None

    server.add_request_handler("prompts/list", types.PaginatedRequestParams, on_list_prompts)
    server.add_request_handler("prompts/get", types.GetPromptRequestParams, on_get_prompt)


def serve_snapshots(
    server: Server[Any], pipeline: CallPipeline, store: Any, selection: Selection | None
) -> None:
    """Snapshots as resources (list, templates, read) and `restore_snapshot` next to the table's
    tools: wraps the server's tools/list and tools/call handlers, adds the resource handlers."""
    from ledgermcp.server.safety.resources import BadSnapshotRef, SnapshotNotFound, SnapshotResources
    from ledgermcp.server.safety.restore import RESTORE_TOOL, Restorer
    from ledgermcp.server.toolspec import wire_tool

    resources = SnapshotResources(store, pipeline.vendor.name)

    async def on_list_resources(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            page = resources.list(params.cursor if params else None)
        except BadSnapshotRef as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        return types.ListResourcesResult.model_validate(page)

    async def on_list_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult.model_validate(resources.templates())

    async def on_read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        try:
            return types.ReadResourceResult.model_validate(resources.read(str(params.uri)))
        except (BadSnapshotRef, SnapshotNotFound) as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc), data={"uri": str(params.uri)}) from None

    server.add_request_handler("resources/list", types.PaginatedRequestParams, on_list_resources)
    server.add_request_handler("resources/templates/list", types.PaginatedRequestParams, on_list_templates)
    server.add_request_handler("resources/read", types.ReadResourceRequestParams, on_read_resource)

    restorer = Restorer(pipeline, store)
    # the selection's hint and name rules apply; its groups do not (the update it uses must be served)
    if not replace(selection or Selection(), groups=()).matches(restorer.entry):
        return
    restore_tool = wire_tool(restorer.entry)
    types.Tool.model_validate(restore_tool)  # a malformed entry fails here, at start-up
    listing = server.get_request_handler("tools/list")
    calling = server.get_request_handler("tools/call")
    assert listing is not None and calling is not None
    last: list[dict[str, Any]] = []  # [answer of the listing, that answer with restore_snapshot]

    async def on_list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> Any:
        listed = await listing.handler(ctx, params)
        if listed.get("nextCursor") is not None:  # not the last page
            return listed
        if not last or last[0] is not listed:  # the listing answers with one dict: built once
            last[:] = [listed, {**listed, "tools": [*listed["tools"], restore_tool]}]
        return last[1]

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        if params.name == RESTORE_TOOL:
            return tool_call_result(RESTORE_TOOL, await restorer(params.arguments, context=ctx))
        return await calling.handler(ctx, params)

    server.add_request_handler("tools/list", listing.params_type, on_list_tools)
    server.add_request_handler("tools/call", calling.params_type, on_call_tool)


async def serve_stdio(app: App) -> None:
    """Serve over stdin/stdout; every request line with an id gets an answer (server/stdio_guard.py)."""
    import anyio
    from mcp.server.stdio import stdio_server

    from ledgermcp.server.stdio_guard import LineGuard, standard_input
    from ledgermcp.server.stdio_pipes import pipe_streams

    try:
        async with pipe_streams() as streams:
            lines, writer = streams if streams is not None else (standard_input(), None)
            guard = LineGuard(lines)
            async with (
                stdio_server(guard, writer) as (read_stream, write_stream),  # type: ignore[arg-type]
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(guard.forward, write_stream)
                # the answers end with the input, as the server's run does
                await app.server.run(
                    read_stream,
                    write_stream,
                    app.server.create_initialization_options(notification_options(app)),
                )
    finally:
        await app.aclose()
