"""Response shaping on read tools: `fields`, list summaries and cuts with a paging note that works,
`include_raw`, and clear errors where shaping does not apply."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from modes_support import arguments_for

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import Vendor, load_vendor
from ledgermcp.server.shaping import LIST_LIMIT, RAW_ARG, VIEW_KEY
from ledgermcp.server.toolspec import wire_tools

COUNT = LIST_LIMIT * 2 + 5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fortnox_with_paging() -> Vendor:
    """Fortnox with `page` and `limit` on list_customers: the API takes them on every list, but its
    description leaves them out, so the generated table has them only once the overlay adds them."""
    vendor = load_vendor("fortnox")
    tools = [copy.deepcopy(t) if t["name"] == "list_customers" else t for t in vendor.tools]
    listing = next(t for t in tools if t["name"] == "list_customers")
    for name in ("page", "limit"):
        listing["binding"]["params"].append(
            {"arg": name, "name": name, "in": "query", "required": False, "style": "form", "explode": True}
        )
        listing["input_schema"]["properties"][name] = {"type": "integer", "minimum": 1}
    return Vendor(info=vendor.info, tools=tools, by_name={t["name"]: t for t in tools})


async def fortnox_with_customers(vendor: Vendor | None = None) -> Any:
    app = create_app(vendor or load_vendor("fortnox"), sandbox=True, environ={})
    for i in range(COUNT):
        created = await app.pipeline.call(
            "create_customer",
            {"Name": f"Customer {i:02d}", "City": "Lund", "DefaultDeliveryTypes": {"Invoice": "EMAIL"}},
        )
        assert not created.is_error, created.text
    return app


@pytest.mark.anyio
async def test_a_list_is_summarised_and_cut_and_include_raw_returns_it_whole() -> None:
    app = await fortnox_with_customers()
    first = await app.pipeline.call("list_customers", {})
    view = first.structured[VIEW_KEY]
    assert len(first.structured["Customers"]) == LIST_LIMIT and view["returned"] == COUNT
    assert view["summarised"] is True and view["left_out"] == ["DefaultDeliveryTypes"]
    # the table has no paging arguments for this list: the note offers the whole answer instead
    assert "next" not in view and f"showing {LIST_LIMIT} of {COUNT} items" in first.text
    assert "include_raw=true" in view["note"]
    raw = await app.pipeline.call("list_customers", {RAW_ARG: True})
    assert VIEW_KEY not in raw.structured and len(raw.structured["Customers"]) == COUNT
    assert raw.structured["Customers"][0]["DefaultDeliveryTypes"] == {"Invoice": "EMAIL"}
    await app.aclose()


@pytest.mark.anyio
async def test_fortnox_list_pages_with_page_and_limit_when_the_table_has_them() -> None:
    app = await fortnox_with_customers(fortnox_with_paging())
    first = await app.pipeline.call("list_customers", {})
    items = first.structured["Customers"]
    view = first.structured[VIEW_KEY]
    assert len(items) == LIST_LIMIT and view["returned"] == COUNT and view["total"] == COUNT
    assert view["summarised"] is True and view["left_out"] == ["DefaultDeliveryTypes"]
    assert all("DefaultDeliveryTypes" not in c and c["City"] == "Lund" for c in items)
    assert view["next"] == {"page": 2, "limit": LIST_LIMIT}
    assert "page=2" in first.text and "limit=25" in first.text

    # following the note gives the next items: no gap, no overlap, to the end
    seen = [c["Name"] for c in items]
    nxt = view["next"]
    while nxt:
        page = await app.pipeline.call("list_customers", nxt)
        seen += [c["Name"] for c in page.structured["Customers"]]
        nxt = page.structured.get(VIEW_KEY, {}).get("next")
    assert seen == [f"Customer {i:02d}" for i in range(COUNT)]
    await app.aclose()


@pytest.mark.anyio
async def test_fields_keep_only_the_named_fields_of_items_and_entities() -> None:
    app = await fortnox_with_customers()
    listing = await app.pipeline.call("list_customers", {"fields": ["Name", "customernumber"]})
    first = listing.structured["Customers"][0]
    assert set(first) == {"Name", "CustomerNumber"}
    one = await app.pipeline.call(
        "get_customer", {"CustomerNumber": first["CustomerNumber"], "fields": "City"}
    )
    assert one.structured["Customer"] == {"City": "Lund"}
    unknown = await app.pipeline.call("get_customer", {"CustomerNumber": "1", "fields": ["Colour"]})
    assert unknown.structured[VIEW_KEY]["unknown_fields"] == ["Colour"]
    await app.aclose()


@pytest.mark.anyio
async def test_smallinvoice_pages_with_offset_and_limit() -> None:
    vendor = load_vendor("smallinvoice")
    app = create_app(vendor, sandbox=True, environ={})
    required = arguments_for(vendor.tool("create_catalog_product"))
    for i in range(COUNT):
        created = await app.pipeline.call("create_catalog_product", {**required, "name": f"P{i:02d}"})
        assert not created.is_error, created.text
    seen: list[str] = []
    args: dict[str, Any] | None = {}
    while args is not None:
        page = await app.pipeline.call("list_catalog_products", args)
        seen += [p["name"] for p in page.structured["items"]]
        args = page.structured.get(VIEW_KEY, {}).get("next")
        if args is not None:
            assert set(args) == {"offset", "limit"}
    assert seen == [f"P{i:02d}" for i in range(COUNT)]
    await app.aclose()


@pytest.mark.anyio
async def test_shaping_arguments_are_refused_where_they_do_not_apply() -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={})
    write = await app.pipeline.call("create_customer", {"Name": "A", "fields": ["Name"]})
    assert write.is_error and write.structured["error"]["code"] == "VALIDATION_ERROR"
    assert write.structured["error"]["field"] == "fields"
    bad = await app.pipeline.call("list_customers", {"fields": 3, RAW_ARG: "yes"})
    assert {p["field"] for p in bad.structured["error"]["problems"]} == {"fields", RAW_ARG}
    assert app.sandbox.requests == []
    await app.aclose()


@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
def test_read_tools_list_the_shaping_arguments_and_no_tool_owns_them(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    listed = {t["name"]: t for t in wire_tools(vendor)}
    for tool in vendor.tools:
        own = tool["input_schema"].get("properties") or {}
        assert not {"fields", RAW_ARG, "_approval"} & set(own), tool["name"]
        props = listed[tool["name"]]["inputSchema"]["properties"]
        answers = tool["binding"]["responses"]
        json_answer = not answers or any("json" in a for a in answers)
        reads_json = tool["annotations"]["readOnlyHint"] and tool["kind"] != "download" and json_answer
        assert ("fields" in props) == reads_json, tool["name"]
        assert (RAW_ARG in props) == (reads_json and tool["kind"] == "list"), tool["name"]
