"""Validation, approval, dry-run and snapshots behave the same in every mode: each mode's call
reaches the pipeline as the operation's own call, so the gates see the operation, not the tool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modes_support import MODES, spelled

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sandbox_app(mode: str, tmp_path: Path, **options: Any) -> Any:
    opts = SafetyOptions(snapshot_dir=tmp_path / mode, audit_log="-", **options)
    return create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=opts, mode=mode)


async def call(app: Any, operation: str, **arguments: Any) -> Any:
    name, args = spelled(app, operation, arguments)
    return await app.surface.call(app.pipeline, name, args)


def error(result: Any) -> dict[str, Any] | None:
    return result.structured["error"] if result.is_error else None


@pytest.mark.anyio
async def test_validation_errors_are_the_same_in_every_mode(tmp_path: Path) -> None:
    seen = {}
    for mode in MODES:
        app = sandbox_app(mode, tmp_path)
        wrong_type = error(await call(app, "get_customer", CustomerNumber=17))
        unknown = error(await call(app, "create_customer", Name="A", Colour="red"))
        missing = error(await call(app, "update_customer", City="Lund"))
        assert app.sandbox.requests == []
        seen[mode] = (wrong_type, unknown, missing)
        await app.aclose()
    assert seen["full"][0]["code"] == "VALIDATION_ERROR" and seen["full"][0]["field"] == "CustomerNumber"
    assert seen["full"][1]["field"] == "Colour"
    assert seen["full"][2]["field"] == "CustomerNumber"
    assert seen["consolidated"] == seen["full"] == seen["discovery"]


def writes(app: Any) -> list[Any]:
    return [r for r in app.sandbox.requests if r.method != "GET"]


@pytest.mark.anyio
async def test_approval_is_per_operation_and_bound_to_it_in_every_mode(tmp_path: Path) -> None:
    plans = {}
    for mode in MODES:
        app = sandbox_app(mode, tmp_path, approve="destructive")
        created = await call(app, "create_customer", Name="Acme AB")  # additive: no approval
        number = created.structured["Customer"]["CustomerNumber"]
        got = await call(app, "get_customer", CustomerNumber=number)  # a read action: no approval
        assert not got.is_error and got.structured["Customer"]["Name"] == "Acme AB"
        sent_before = len(writes(app))
        requests_before = len(app.sandbox.requests)

        first = await call(app, "delete_customer", CustomerNumber=number)
        assert first.structured["approval_required"] is True, mode
        assert len(writes(app)) == sent_before  # nothing written (the customer is read for the plan)
        token = first.structured["approval"]["token"]
        plans[mode] = first.structured["plan"]

        # the token approves this operation with these arguments only
        other = await call(app, "delete_customer", CustomerNumber=str(int(number) + 1), _approval=token)
        assert error(other)["code"] == "APPROVAL_INVALID"
        assert len(writes(app)) == sent_before

        again = await call(app, "delete_customer", CustomerNumber=number, _approval=token)
        assert not again.is_error, (mode, again.text)
        # read for the plan, read again as the snapshot, then the delete
        assert [r.method for r in app.sandbox.requests[requests_before:]] == ["GET", "GET", "DELETE"]
        snapshot = again.meta["ledgermcp/snapshot"]["id"]
        assert list((tmp_path / mode).rglob(f"*{snapshot}*")), mode

        reused = await call(app, "delete_customer", CustomerNumber=number, _approval=token)
        assert error(reused)["code"] == "APPROVAL_INVALID"
        await app.aclose()
    assert plans["consolidated"] == plans["full"] == plans["discovery"]
    assert plans["full"]["tool"] == "delete_customer" and plans["full"]["method"] == "DELETE"


@pytest.mark.anyio
async def test_discovery_takes_the_approval_token_beside_the_arguments_too(tmp_path: Path) -> None:
    app = sandbox_app("discovery", tmp_path, approve="destructive")
    created = await call(app, "create_customer", Name="Acme AB")
    number = created.structured["Customer"]["CustomerNumber"]
    first = await call(app, "delete_customer", CustomerNumber=number)
    token = first.structured["approval"]["token"]
    result = await app.surface.call(
        app.pipeline,
        "call_operation",
        {"name": "delete_customer", "arguments": {"CustomerNumber": number}, "_approval": token},
    )
    assert not result.is_error, result.text
    assert app.sandbox.requests[-1].method == "DELETE"
    await app.aclose()


@pytest.mark.anyio
async def test_dry_run_plans_are_the_same_in_every_mode(tmp_path: Path) -> None:
    plans = {}
    for mode in MODES:
        app = sandbox_app(mode, tmp_path, dry_run=True, approve="never")
        result = await call(app, "bookkeep_invoice", DocumentNumber="7")
        assert result.structured["dry_run"] is True and result.structured["sent"] is False
        listing = await call(app, "list_invoices")  # reads still work
        assert not listing.is_error
        assert [r.method for r in app.sandbox.requests] == ["GET"]
        plans[mode] = result.structured["plan"]
        await app.aclose()
    assert plans["consolidated"] == plans["full"] == plans["discovery"]
    assert plans["full"]["path"] == "/3/invoices/7/bookkeep"


@pytest.mark.anyio
async def test_mode_errors_name_the_fix_and_send_nothing(tmp_path: Path) -> None:
    app = sandbox_app("consolidated", tmp_path)
    missing = error(await app.surface.call(app.pipeline, "customers", {"CustomerNumber": "1"}))
    assert missing["code"] == "VALIDATION_ERROR" and "delete" in missing["hint"]
    unknown = error(await app.surface.call(app.pipeline, "customers", {"action": "erase"}))
    assert "unknown action 'erase'" in unknown["message"] and "list" in unknown["hint"]
    described = await app.surface.call(app.pipeline, "customers", {"action": "describe", "of": "update"})
    (update,) = described.structured["actions"]
    assert update["operation"] == "update_customer"
    assert "CustomerNumber" in update["inputSchema"]["required"]
    await app.aclose()

    app = sandbox_app("discovery", tmp_path)
    no_name = error(await app.surface.call(app.pipeline, "call_operation", {"arguments": {}}))
    assert no_name["field"] == "name"
    stray = error(
        await app.surface.call(app.pipeline, "call_operation", {"name": "list_customers", "page": 2})
    )
    assert stray["field"] == "page" and "inside 'arguments'" in stray["hint"]
    not_object = error(
        await app.surface.call(app.pipeline, "call_operation", {"name": "list_customers", "arguments": [1]})
    )
    assert not_object["field"] == "arguments"
    assert app.sandbox.requests == []
    await app.aclose()
