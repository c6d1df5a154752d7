"""Auto mode: every tool when the vendor is small enough, else discovery plus `enable_groups`,
after which the client is told the tool list changed and the groups' tools are listed in full.
End to end with the official `mcp` client over stdio, in both protocol eras."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from test_server_e2e import sent, serve

from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.modes import DEFAULT_MAX_TOOLS, ModeError, build_surface, max_tools_from
from ledgermcp.server.toolspec import Selection, listed_tools

pytestmark = pytest.mark.slow


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_small_selections_are_listed_in_full_and_large_ones_start_small() -> None:
    fortnox = load_vendor("fortnox")
    small = Selection(groups=("customers", "invoices"))
    assert build_surface("auto", fortnox, small).tools == build_surface("full", fortnox, small).tools
    auto = build_surface("auto", fortnox)
    assert auto.mode == "auto" and len(auto.tools) <= DEFAULT_MAX_TOOLS
    assert [t["name"] for t in auto.tools] == [
        "search_operations",
        "describe_operation",
        "call_operation",
        "enable_groups",
    ]
    described = auto.tools[-1]["description"]
    assert "invoices 15" in described and "customers 5" in described
    assert build_surface("auto", fortnox, max_tools=400).mode == "full"
    assert max_tools_from(None, {"LEDGERMCP_MAX_TOOLS": "128"}) == 128
    with pytest.raises(ModeError):
        max_tools_from(None, {"LEDGERMCP_MAX_TOOLS": "many"})


def test_enabled_groups_are_listed_exactly_as_full_mode_lists_them() -> None:
    fortnox = load_vendor("fortnox")
    auto = build_surface("auto", fortnox)
    result = auto.enable({"groups": ["invoices", "customers"]})
    assert not result.is_error and auto.version == 1
    ops = [op for op in Selection().apply(fortnox.tools) if op.get("group") in ("invoices", "customers")]
    assert auto.tools[4:] == listed_tools(fortnox, ops)
    again = auto.enable({"groups": ["invoices"]})  # nothing new: the listing does not move
    assert auto.version == 1 and "nothing new" in again.text
    bad = auto.enable({"groups": ["invoice"]})
    assert bad.is_error and "did you mean: invoices" in bad.text


@pytest.mark.anyio
async def test_enable_groups_over_stdio_with_a_2025_11_25_client(tmp_path: Path) -> None:
    params, journal, _ = serve(tmp_path, "fortnox", "--mode", "auto")
    changed = anyio.Event()

    async def on_message(message) -> None:
        if type(message).__name__ == "ToolListChangedNotification" or (
            getattr(getattr(message, "root", None), "method", None) == "notifications/tools/list_changed"
        ):
            changed.set()

    async with Client(params, mode="legacy", read_timeout_seconds=60, message_handler=on_message) as client:
        assert client.server_capabilities.tools.list_changed is True
        start = await client.list_tools()
        assert len(start.tools) <= 40 and "create_invoice" not in [t.name for t in start.tools]
        with pytest.raises(MCPError) as refused:  # not listed yet: the error says how to get it
            await client.call_tool("create_invoice", {"CustomerNumber": "1"})
        assert 'enable_groups {"groups": ["invoices"]}' in str(refused.value)
        enabled = await client.call_tool("enable_groups", {"groups": ["invoices"]})
        assert not enabled.is_error, enabled.content
        with anyio.fail_after(10):
            await changed.wait()
        after = await client.list_tools()
        names = [t.name for t in after.tools]
        assert "create_invoice" in names and "list_invoices" in names and len(names) == 4 + 15
        listed = await client.call_tool("list_invoices", {})
        assert not listed.is_error, listed.content
    assert ("GET", "/3/invoices") in [(r["method"], r["path"]) for r in sent(journal)]


@pytest.mark.anyio
async def test_enable_groups_over_stdio_with_a_2026_07_28_client(tmp_path: Path) -> None:
    params, journal, _ = serve(tmp_path, "fortnox")
    params.args = [a for a in params.args if a not in ("--mode", "full")]  # auto is the default
    async with Client(params, mode="auto", read_timeout_seconds=60) as client:
        assert client.protocol_version == "2026-07-28"
        start = await client.list_tools()
        assert len(start.tools) <= 40
        async with client.listen(tools_list_changed=True) as sub:
            enabled = await client.call_tool("enable_groups", {"groups": ["invoices", "customers"]})
            assert not enabled.is_error, enabled.content
            with anyio.fail_after(10):
                async for _event in sub:
                    break
        after = await client.list_tools()
        assert len(after.tools) == 4 + 15 + 5
        created = await client.call_tool("create_customer", {"Name": "Acme"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        invoice = await client.call_tool(
            "create_invoice",
            {"CustomerNumber": number, "InvoiceRows": [{"Description": "Work", "Price": 100}]},
        )
        assert not invoice.is_error, invoice.content
    assert [r["method"] for r in sent(journal)] == ["POST", "POST"]


@pytest.mark.anyio
async def test_describe_text_carries_types_required_marks_and_nested_shapes(tmp_path: Path) -> None:
    params, _journal, _ = serve(tmp_path, "fortnox", "--mode", "auto")
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        described = await client.call_tool("describe_operation", {"name": "create_invoice"})
    text = described.content[0].text
    assert "- CustomerNumber (string)" in text
    required = build_surface("discovery", load_vendor("fortnox")).describe({"name": "update_customer"}).text
    assert "- CustomerNumber (string, required)" in required
    assert "- InvoiceRows (array of object)" in text and "\n  - ArticleNumber (string)" in text
    assert "- DueDate (string, date)" in text
    consolidated = build_surface("consolidated", load_vendor("fortnox"))
    answer = consolidated.describe(consolidated.by_name["customers"], "update")
    assert "  - CustomerNumber (string, required)" in answer.text
    assert (
        "  - DefaultDeliveryTypes (object)" in answer.text
        and "    - Invoice (one of: PRINT, EMAIL, PRINTSERVICE)" in answer.text
    )
    assert json.dumps(answer.structured)  # structured content stays as it was


@pytest.mark.anyio
async def test_the_bench_measures_auto_mode_after_enable_groups(tmp_path: Path) -> None:
    import sys

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.append(str(root))
    from bench import measure
    from bench.harness import ENABLED_GROUPS

    server = measure.Server(
        label="fortnox auto",
        argv=[sys.executable, "-m", "ledgermcp", "serve", "fortnox", "--sandbox", "--mode", "auto"],
        env={"LEDGERMCP_DATA_DIR": str(tmp_path)},
        cwd=str(tmp_path),
        log=tmp_path / "log",
    )
    start = await measure.tools_list_wire(server)
    enabled = await measure.tools_list_wire(
        server, first_call=("enable_groups", {"groups": ENABLED_GROUPS["fortnox"]})
    )
    assert len(start["tools"]) == 4 and len(enabled["tools"]) == 4 + 15 + 5
    assert enabled["bytes"] > start["bytes"]
