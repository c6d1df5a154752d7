"""`--output-schemas`: answer schemas listed in full mode, and the answers the server sends (plain,
shaped, plans, approval requests) all pass a client's check against them."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from modes_support import arguments_for

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.modes import build_surface
from ledgermcp.server.safety import SafetyOptions


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_output_schemas_only_when_asked_for_and_only_for_json_answers() -> None:
    vendor = load_vendor("fortnox")
    plain = build_surface("full", vendor).tools
    assert all("outputSchema" not in t for t in plain)
    listed = {t["name"]: t for t in build_surface("full", vendor, output_schemas=True).tools}
    for tool in vendor.tools:
        has = "outputSchema" in listed[tool["name"]]
        assert has == (tool["binding"]["responses"] == ["application/json"]), tool["name"]
        if has:
            schema = listed[tool["name"]]["outputSchema"]
            assert schema["type"] == "object"
            Draft202012Validator.check_schema(schema)
    customer = listed["get_customer"]["outputSchema"]
    assert "Customer" in str(customer) and "CustomerNumber" in str(customer)


@pytest.mark.anyio
@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
async def test_every_sandbox_answer_fits_its_listed_schema(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    app = create_app(vendor, sandbox=True, environ={}, output_schemas=True)
    schemas = {t["name"]: t["outputSchema"] for t in app.surface.tools if "outputSchema" in t}
    checked = 0
    for tool in vendor.tools:
        if tool["name"] not in schemas:
            continue
        result = await app.pipeline.call(tool["name"], arguments_for(tool))
        if result.is_error:
            continue  # errors are not checked against the answer schema
        problems = list(Draft202012Validator(schemas[tool["name"]]).iter_errors(result.structured))
        assert not problems, (tool["name"], problems[0].message)
        checked += 1
    assert checked >= len(schemas) * 0.6
    await app.aclose()


@pytest.mark.anyio
async def test_the_official_client_accepts_shaped_answers_plans_and_approvals(tmp_path: Any) -> None:
    safety = SafetyOptions(approve="destructive", snapshot_dir=tmp_path, audit_log="-")
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, output_schemas=True, safety=safety)
    async with Client(app.server, mode="legacy") as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert listed["get_customer"].output_schema is not None
        created = await client.call_tool("create_customer", {"Name": "Acme AB"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        picked = await client.call_tool("get_customer", {"CustomerNumber": number, "fields": ["Name"]})
        assert picked.structured_content["Customer"] == {"Name": "Acme AB"}
        listing = await client.call_tool("list_customers", {})
        assert listing.structured_content["_view"]["summarised"] is True
        asked = await client.call_tool("update_customer", {"CustomerNumber": number, "City": "Lund"})
        assert asked.structured_content["approval_required"] is True
    await app.aclose()
