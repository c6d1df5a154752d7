"""MCP prompts built from the tool table: offered only when their tools are served, naming the
tools they use and the approvals they will meet. Driven by the official `mcp` client."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from test_server_e2e import serve

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.prompts import RECIPES
from ledgermcp.server.safety import SafetyOptions
from ledgermcp.server.toolspec import Selection


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def app_for(vendor: str, tmp_path: Path, **kwargs):
    safety = SafetyOptions(approve="destructive", snapshots=False, audit_log="-", approval_key=b"k" * 32)
    return create_app(load_vendor(vendor), sandbox=True, environ={}, safety=safety, **kwargs)


def tools_named(description: str) -> list[str]:
    return description.split("Tools: ", 1)[1].split(".", 1)[0].split(", ")


@pytest.mark.anyio
async def test_fortnox_prompts_name_their_tools_and_approvals(tmp_path: Path) -> None:
    vendor = load_vendor("fortnox")
    app = app_for("fortnox", tmp_path, mode="full")
    async with Client(app.server, mode="legacy") as client:
        listed = await client.list_prompts()
        names = [p.name for p in listed.prompts]
        assert names == [
            "invoice_customer",
            "chase_overdue_invoices",
            "check_month_bookings",
            "record_payment",
        ]
        for prompt in listed.prompts:
            used = tools_named(prompt.description)
            assert used and all(t in vendor.by_name for t in used)
            destructive = [t for t in used if vendor.tool(t)["annotations"].get("destructiveHint")]
            if destructive:
                assert f"Needs approval: {', '.join(destructive)}." in prompt.description
            else:
                assert "Needs no approval." in prompt.description
        got = await client.get_prompt("invoice_customer", {"customer": "Acme AB", "items": "3 hours of work"})
        text = got.messages[0].content.text
        assert text.startswith("Invoice Acme AB for 3 hours of work.")
        for tool in (
            "list_customers",
            "create_customer",
            "create_invoice",
            "send_invoice_by_email",
            "bookkeep_invoice",
        ):
            assert f": {tool} (group " in text
        assert "Approvals you will meet: send_invoice_by_email, bookkeep_invoice." in text
        assert "create_invoice (group invoices, writes)" in text

        with pytest.raises(MCPError) as missing:
            await client.get_prompt("invoice_customer", {})
        assert "customer" in str(missing.value)
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("invoice_customers", {"customer": "Acme"})
        assert "did you mean: invoice_customer" in str(unknown.value)
    await app.aclose()


@pytest.mark.anyio
async def test_a_prompt_is_offered_only_when_its_tools_are_served(tmp_path: Path) -> None:
    app = app_for("smallinvoice", tmp_path, mode="full")
    async with Client(app.server, mode="auto") as client:
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert "check_month_bookings" not in names  # smallinvoice has no vouchers
        got = await client.get_prompt("invoice_customer", {"customer": "Acme"})
        assert "send_invoice_by_e_mail" in got.messages[0].content.text  # smallinvoice's own name
    await app.aclose()
    app = app_for("fortnox", tmp_path, mode="full", selection=Selection(exclude=("create_invoice",)))
    async with Client(app.server, mode="legacy") as client:
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert "invoice_customer" not in names and "chase_overdue_invoices" in names
    await app.aclose()
    # every tool a recipe names is a tool of some vendor's table: no stale names
    known = set(load_vendor("fortnox").by_name) | set(load_vendor("smallinvoice").by_name)
    assert sorted({t for r in RECIPES for s in r.steps for t in s.tools} - known) == []


@pytest.mark.anyio
async def test_prompts_follow_the_mode_and_the_approval_setting(tmp_path: Path) -> None:
    app = app_for("fortnox", tmp_path, mode="consolidated")
    async with Client(app.server, mode="legacy") as client:
        text = (
            (await client.get_prompt("record_payment", {"customer": "Acme", "amount": "100 SEK"}))
            .messages[0]
            .content.text
        )
        assert (
            '2. register the payment: invoice_payments with "action": "create" (group invoice_payments'
            in text
        )
        assert 'invoice_payments with "action": "bookkeep"' in text and "needs approval" in text
    await app.aclose()
    params, _journal, _ = serve(tmp_path, "fortnox", "--mode", "auto")  # the sandbox asks for no approval
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        assert client.server_capabilities.prompts is not None
        got = await client.get_prompt("chase_overdue_invoices", {})
    text = got.messages[0].content.text
    assert "None of these tools needs approval on this server." in text
    assert 'enable_groups with {"groups": ["invoices"]}' in text
