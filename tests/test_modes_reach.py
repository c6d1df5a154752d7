"""Every operation of Fortnox and smallinvoice is reachable in every mode, and sends exactly the
request full mode sends for the same arguments."""

from __future__ import annotations

from collections import Counter

import pytest
from fixtures.acme_tools import acme_vendor
from modes_support import MODES, arguments_for, recording_app, run

from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.modes import build_surface
from ledgermcp.server.toolspec import Selection


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
def test_consolidated_actions_cover_every_operation_once(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    surface = build_surface("consolidated", vendor)
    reached = Counter(op["name"] for r in surface.resources for op in r.actions.values())
    assert set(reached) == {t["name"] for t in vendor.tools}
    assert max(reached.values()) == 1
    names = [t["name"] for t in surface.tools]
    assert len(names) == len(set(names)) < len(vendor.tools)
    for tool in surface.tools:
        assert len(tool["name"]) <= 64 and tool["name"].replace("_", "").isalnum()
        actions = tool["inputSchema"]["properties"]["action"]["enum"]
        assert len(actions) == len(set(actions)) and actions[-1] == "describe"


@pytest.mark.anyio
@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
async def test_every_operation_sends_the_same_request_in_every_mode(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    apps = {mode: recording_app(vendor, mode) for mode in MODES}
    for tool in vendor.tools:
        args = arguments_for(tool)
        sent = {}
        for mode, (app, recorder) in apps.items():
            before = len(recorder.requests)
            result = await run(app, tool["name"], args)
            assert not result.is_error, (mode, tool["name"], result.text)
            assert len(recorder.requests) == before + 1, (mode, tool["name"])
            sent[mode] = recorder.requests[-1]
        assert sent["consolidated"] == sent["full"] == sent["discovery"], tool["name"]
        assert sent["full"]["method"] == tool["binding"]["method"]
    for app, _ in apps.values():
        await app.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_selection_limits_every_mode(mode: str) -> None:
    """A read-only selection: no mode can reach a write, however it is spelled."""
    vendor = acme_vendor()
    app, recorder = recording_app(vendor, mode, selection=Selection.from_options(read_only=True))
    from modes_support import spelled

    from ledgermcp.server.calls import UnknownToolError

    if mode == "consolidated":
        actions = {a for r in app.surface.resources for a in r.actions}
        assert "delete" not in actions and "create" not in actions
        name = app.surface.resources[0].name
        result = await app.surface.call(app.pipeline, name, {"action": "delete", "CustomerNumber": "1"})
        assert result.is_error and result.structured["error"]["code"] == "VALIDATION_ERROR"
    elif mode == "discovery":
        result = await app.surface.call(
            app.pipeline, "call_operation", {"name": "delete_customer", "arguments": {"CustomerNumber": "1"}}
        )
        assert result.is_error and "unknown operation" in result.structured["error"]["message"]
        found = await app.surface.call(app.pipeline, "search_operations", {"query": "delete customer"})
        assert "delete_customer" not in [o["name"] for o in found.structured["operations"]]
    else:
        name, args = spelled(app, "delete_customer", {"CustomerNumber": "1"})
        with pytest.raises(UnknownToolError):
            await app.surface.call(app.pipeline, name, args)
    assert recorder.requests == []
    # and the pipeline itself refuses an operation outside the selection
    with pytest.raises(UnknownToolError):
        await app.pipeline.call("delete_customer", {"CustomerNumber": "1"})
    await app.aclose()


@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
def test_no_operation_has_an_argument_the_modes_reserve(vendor_name: str) -> None:
    """`action` and `of` sit beside an operation's own arguments in a consolidated call."""
    for tool in load_vendor(vendor_name).tools:
        assert not {"action", "of"} & set(tool["input_schema"].get("properties") or {}), tool["name"]
