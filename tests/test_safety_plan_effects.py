"""Approval plans say what a write does: an irreversible one says it cannot be undone and keeps its
snapshot as a record; restore is offered only where an update can write the state back; the plan
names what a person checks (recipient, amount, currency, party, document)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.requests import build_request
from ledgermcp.server.safety import SafetyOptions
from ledgermcp.server.safety.plan import build_plan, plan_text


def plan_of(vendor: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    entry = load_vendor(vendor).tool(tool)
    return build_plan(entry, arguments, build_request(entry, arguments))


@pytest.mark.parametrize(
    ("tool", "effect"),
    [
        ("bookkeep_invoice", "ledger"),
        ("send_invoice_by_email", "send"),
        ("credit_invoice", "cancel"),
        ("delete_customer", "delete"),
    ],
)
def test_irreversible_plans_say_so_and_offer_no_restore(tool: str, effect: str) -> None:
    key = "CustomerNumber" if tool == "delete_customer" else "DocumentNumber"
    plan = plan_of("fortnox", tool, {key: "17"})
    assert plan["effect"] == effect and plan["irreversible"]
    assert plan["snapshot"] is not None and plan["snapshot"]["restore_tool"] is None
    text = plan_text(plan)
    assert "cannot be undone" in text and "as a record" in text
    assert "can be written back" not in text


def test_an_update_plan_offers_restore() -> None:
    plan = plan_of("fortnox", "update_customer", {"CustomerNumber": "17", "City": "Malmö"})
    assert plan["effect"] == "update" and not plan["irreversible"]
    assert plan["snapshot"]["restore_tool"] == "update_customer"
    text = plan_text(plan)
    assert "can be written back with restore_snapshot" in text and "cannot be undone" not in text


def test_the_plan_names_recipient_amount_currency_party_and_document() -> None:
    plan = plan_of(
        "smallinvoice",
        "send_invoice_by_e_mail",
        {"invoiceId": 42, "subject": "Invoice", "recipients": ["anna@example.com"], "body": "Hello"},
    )
    assert plan["highlights"]["recipient"] == ["anna@example.com"]
    assert "recipient: anna@example.com" in plan_text(plan)
    payment = plan_of(
        "fortnox", "create_invoicepayment", {"InvoiceNumber": 1001, "Amount": 1250.5, "CurrencyRate": 1.0}
    )
    assert payment["effect"] == "ledger" and payment["highlights"]["amount"] == 1250.5
    assert payment["highlights"]["document"] == 1001
    invoice = plan_of("fortnox", "create_invoice", {"CustomerNumber": "7", "Currency": "EUR"})
    assert invoice["highlights"] == {"party": "7", "currency": "EUR"}


@pytest.mark.anyio
async def test_restore_after_a_delete_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    safety = SafetyOptions(approve="never", snapshot_dir=str(tmp_path / "s"), audit_log="-")
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=safety)
    async with Client(app.server, mode="legacy") as client:
        made = await client.call_tool("create_customer", {"Name": "Acme AB"})
        number = made.structured_content["Customer"]["CustomerNumber"]
        deleted = await client.call_tool("delete_customer", {"CustomerNumber": number})
        assert not deleted.is_error, deleted.content[0].text
        snapshot_id = deleted.meta["ledgermcp/snapshot"]["id"]
        before = len(app.sandbox.requests)
        restore = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
    assert restore.is_error and restore.structured_content["error"]["code"] == "RESTORE_UNSUPPORTED"
    assert "it is a record" in restore.content[0].text
    assert len(app.sandbox.requests) == before  # nothing sent, not even a read


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
