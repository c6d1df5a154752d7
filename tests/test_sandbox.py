"""The sandbox: a stateful simulated vendor built from the tool table, behind the real pipeline."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fixtures.acme_tools import acme_vendor

from ledgermcp.server.app import create_app
from ledgermcp.server.calls import ArgumentValidator
from ledgermcp.server.catalog import load_vendor


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Session:
    def __init__(self, vendor) -> None:
        self.app = create_app(vendor, sandbox=True, environ={})

    async def __call__(self, tool: str, **args: Any):
        return await self.app.pipeline.call(tool, args)

    @property
    def requests(self):
        return self.app.sandbox.requests


def code(result) -> str | None:
    return result.structured["error"]["code"] if result.is_error else None


@pytest.mark.anyio
async def test_fortnox_customer_lifecycle() -> None:
    call = Session(load_vendor("fortnox"))
    assert (await call("list_customers")).structured["Customers"] == []
    created = await call("create_customer", Name="Acme AB", Email="a@example.com")
    assert created.structured == {
        "Customer": {"CustomerNumber": "1", "Name": "Acme AB", "Email": "a@example.com"}
    }
    own = await call("create_customer", Name="Own number", CustomerNumber="K-100")
    assert own.structured["Customer"]["CustomerNumber"] == "K-100"
    assert code(await call("create_customer", Name="Dup", CustomerNumber="K-100")) == "CONFLICT"
    fetched = await call("get_customer", CustomerNumber="1")
    assert fetched.structured["Customer"]["Name"] == "Acme AB"
    updated = await call("update_customer", CustomerNumber="1", City="Lund")
    assert updated.structured["Customer"] == {
        "CustomerNumber": "1",
        "Name": "Acme AB",
        "Email": "a@example.com",
        "City": "Lund",
    }
    listed = await call("list_customers")
    assert [c["CustomerNumber"] for c in listed.structured["Customers"]] == ["1", "K-100"]
    assert listed.structured["MetaInformation"]["@TotalResources"] == 2
    assert not (await call("delete_customer", CustomerNumber="1")).is_error
    gone = await call("get_customer", CustomerNumber="1")
    assert code(gone) == "NOT_FOUND" and "CustomerNumber='1'" in gone.text
    assert code(await call("update_customer", CustomerNumber="1", City="x")) == "NOT_FOUND"
    assert code(await call("delete_customer", CustomerNumber="1")) == "NOT_FOUND"


@pytest.mark.anyio
async def test_fortnox_invoice_print_is_a_pdf_of_an_existing_invoice() -> None:
    call = Session(load_vendor("fortnox"))
    assert code(await call("print_invoice", DocumentNumber="1")) == "NOT_FOUND"
    invoice = await call("create_invoice", CustomerNumber="1")
    number = invoice.structured["Invoice"]["DocumentNumber"]
    printed = await call("print_invoice", DocumentNumber=str(number))
    resource = next(c for c in printed.content if c["type"] == "resource")["resource"]
    assert resource["mimeType"] == "application/pdf"
    assert base64.b64decode(resource["blob"]).startswith(b"%PDF")


@pytest.mark.anyio
async def test_smallinvoice_contact_lifecycle_and_sub_collections() -> None:
    call = Session(load_vendor("smallinvoice"))
    empty = await call("list_contacts")
    assert empty.structured["items"] == [] and empty.structured["pagination"]["total"] == 0
    address = {"street": "Main 1", "postcode": "8000", "city": "Zurich", "country": "CH"}
    created = await call("create_contact", name="Muster AG", relation=["CL"], type="C", main_address=address)
    contact = created.structured["item"]
    assert contact["id"] == 1 and contact["name"] == "Muster AG"
    assert (await call("get_contact", contactId=1)).structured["item"]["main_address"]["city"] == "Zurich"
    updated = await call("update_contact", contactId=1, name="Muster GmbH", relation=["CL"], type="C")
    assert not updated.is_error, updated.text
    assert (await call("get_contact", contactId=1)).structured["item"]["name"] == "Muster GmbH"
    # people of contact 1 are their own collection
    person = await call("create_contact_people", contactId=1, name="Anna", surname="Meier", gender="F")
    assert not person.is_error, person.text
    assert person.structured["item"]["id"] == 1
    assert len((await call("list_contact_peoples", contactId=1)).structured["items"]) == 1
    assert (await call("list_contact_peoples", contactId=2)).structured["items"] == []
    assert (await call("get_contact_people", contactId=1, personId=1)).structured["item"][
        "surname"
    ] == "Meier"
    assert code(await call("get_contact", contactId=2)) == "NOT_FOUND"
    assert not (await call("delete_contacts", contactIds=1)).is_error
    assert code(await call("get_contact", contactId=1)) == "NOT_FOUND"


@pytest.mark.anyio
async def test_batch_delete_with_comma_separated_ids() -> None:
    call = Session(acme_vendor())
    for name in ("a", "b", "c"):
        await call("create_contact", name=name)
    assert code(await call("delete_contacts", contactIds="1,9")) == "NOT_FOUND"
    assert len((await call("list_contacts")).structured["items"]) == 3  # nothing deleted
    assert not (await call("delete_contacts", contactIds="1,3")).is_error
    assert [c["name"] for c in (await call("list_contacts")).structured["items"]] == ["b"]
    assert len((await call("list_contacts", limit=1, offset=0)).structured["items"]) == 1


@pytest.mark.anyio
async def test_validation_failure_sends_nothing_to_the_sandbox() -> None:
    call = Session(load_vendor("fortnox"))
    result = await call("get_customer", CustomerNumber=12)
    assert code(result) == "VALIDATION_ERROR" and call.requests == []


@pytest.mark.anyio
async def test_journal_records_every_request(tmp_path) -> None:
    journal = tmp_path / "requests.jsonl"
    app = create_app(acme_vendor(), sandbox=True, environ={"LEDGERMCP_SANDBOX_JOURNAL": str(journal)})
    await app.pipeline.call("list_customers", {"name": "a b"})
    lines = journal.read_text().splitlines()
    assert len(lines) == 1
    assert '"path": "/3/customers"' in lines[0] and '"query": "name=a%20b"' in lines[0]


def minimal(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """The smallest instance of a schema that is likely to validate (enough for a smoke test)."""
    if "$ref" in schema:
        return minimal(defs.get(schema["$ref"].split("/")[-1], {}), defs, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            return minimal(schema[key][0], defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {
            k: minimal(props.get(k, {}), defs, depth + 1) for k in schema.get("required", []) if depth < 6
        }
    if kind == "array":
        return [minimal(schema.get("items") or {}, defs, depth + 1) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "date":
        return "2024-01-31"
    if fmt == "date-time":
        return "2024-01-31T12:00:00Z"
    if fmt == "email":
        return "a@example.com"
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000001"
    if schema.get("contentEncoding") == "base64" or fmt in ("byte", "binary"):
        return base64.b64encode(b"%PDF-1.4 test").decode()
    return "1" * max(1, schema.get("minLength", 1))


@pytest.mark.anyio
@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
async def test_every_tool_answers_without_a_sandbox_failure(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    call = Session(vendor)
    checker = ArgumentValidator()
    called = 0
    for tool in vendor.tools:
        schema = tool["input_schema"]
        args = minimal(schema, schema.get("$defs", {}))
        if checker.problems(tool, args):
            continue
        result = await call(tool["name"], **args)
        called += 1
        assert code(result) not in ("INTERNAL_ERROR", "UPSTREAM_ERROR"), (tool["name"], result.text)
    assert called >= len(vendor.tools) * 0.9


@pytest.mark.anyio
async def test_sandbox_bounds_what_it_keeps_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """20k creates or 1 MB entities must not grow the process without limit."""
    from ledgermcp.server.app import create_app

    env = {
        "LEDGERMCP_SANDBOX_MAX_ENTITIES": "5",
        "LEDGERMCP_SANDBOX_MAX_ENTITY_BYTES": "2k",
        "LEDGERMCP_SANDBOX_MAX_HISTORY": "8",
    }
    app = create_app(load_vendor("fortnox"), sandbox=True, environ=env)
    try:
        created = [await app.pipeline.call("create_customer", {"Name": f"C{i}"}) for i in range(6)]
        assert [r.is_error for r in created] == [False] * 5 + [True]
        full = created[-1].structured["error"]
        assert "at most 5 entities per collection (LEDGERMCP_SANDBOX_MAX_ENTITIES)" in full["vendor_message"]
        await app.pipeline.call("delete_customer", {"CustomerNumber": "1"})
        assert not (await app.pipeline.call("create_customer", {"Name": "again"})).is_error  # room again

        big = await app.pipeline.call(
            "update_customer", {"CustomerNumber": "2", "Comments": "x" * 1000, "City": "y" * 1000}
        )
        assert (
            "at most 2 KiB of JSON (LEDGERMCP_SANDBOX_MAX_ENTITY_BYTES)"
            in big.structured["error"]["vendor_message"]
        )
        kept = await app.pipeline.call("get_customer", {"CustomerNumber": "2"})
        assert "Comments" not in kept.structured["Customer"]  # the refused update changed nothing

        assert len(app.sandbox.requests) == 8 and app.sandbox.dropped_requests > 0
        assert "keeps the last 8 requests (LEDGERMCP_SANDBOX_MAX_HISTORY)" in caplog.text
    finally:
        await app.aclose()
