"""Response shaping on read tools: `fields`, list summaries and cuts with a paging note that works,
`include_raw`, and clear errors where shaping does not apply."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from mcp import Client
from modes_support import arguments_for

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import Vendor, load_vendor
from ledgermcp.server.shaping import LIST_LIMIT, RAW_ARG, VIEW_KEY, next_page
from ledgermcp.server.toolspec import wire_tools

COUNT = LIST_LIMIT * 2 + 5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


PAGING = ("page", "limit")


def fortnox_without_paging() -> Vendor:
    """Fortnox as its description has it: list_customers without the paging arguments the overlay
    adds, as any list whose vendor documents no paging."""
    vendor = load_vendor("fortnox")
    tools = [copy.deepcopy(t) if t["name"] == "list_customers" else t for t in vendor.tools]
    listing = next(t for t in tools if t["name"] == "list_customers")
    listing["binding"]["params"] = [p for p in listing["binding"]["params"] if p["name"] not in PAGING]
    for name in PAGING:
        del listing["input_schema"]["properties"][name]
    listing["facts"] = {k: v for k, v in listing["facts"].items() if k != "paging"}
    return Vendor(info=vendor.info, tools=tools, by_name={t["name"]: t for t in tools})


async def fortnox_with_customers(vendor: Vendor | None = None, count: int = COUNT) -> Any:
    app = create_app(vendor or load_vendor("fortnox"), sandbox=True, environ={})
    for i in range(count):
        created = await app.pipeline.call(
            "create_customer",
            {"Name": f"Customer {i:03d}", "City": "Lund", "DefaultDeliveryTypes": {"Invoice": "EMAIL"}},
        )
        assert not created.is_error, created.text
    return app


def names(count: int, start: int = 0) -> list[str]:
    return [f"Customer {i:03d}" for i in range(start, count)]


async def follow(app: Any, args: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The customers of a first call and of every call its notes lead to, and the notes' arguments."""
    seen: list[str] = []
    followed: list[dict[str, Any]] = []
    nxt: dict[str, Any] | None = args
    while nxt is not None:
        page = await app.pipeline.call("list_customers", nxt)
        assert not page.is_error, page.text
        seen += [c["Name"] for c in page.structured["Customers"]]
        nxt = page.structured.get(VIEW_KEY, {}).get("next")
        if nxt is not None:
            followed.append(nxt)
    return seen, followed


@pytest.mark.anyio
async def test_a_list_is_summarised_and_cut_and_include_raw_returns_it_whole() -> None:
    app = await fortnox_with_customers(fortnox_without_paging())
    first = await app.pipeline.call("list_customers", {})
    view = first.structured[VIEW_KEY]
    assert len(first.structured["Customers"]) == LIST_LIMIT and view["returned"] == COUNT
    assert view["summarised"] is True and view["left_out"] == ["DefaultDeliveryTypes"]
    # the tool has no paging arguments: the note offers the whole answer instead
    assert "next" not in view and f"showing {LIST_LIMIT} of {COUNT} items" in first.text
    assert "include_raw=true" in view["note"]
    raw = await app.pipeline.call("list_customers", {RAW_ARG: True})
    assert VIEW_KEY not in raw.structured and len(raw.structured["Customers"]) == COUNT
    assert raw.structured["Customers"][0]["DefaultDeliveryTypes"] == {"Invoice": "EMAIL"}
    await app.aclose()


@pytest.mark.anyio
async def test_a_fortnox_list_pages_with_page_and_limit_to_the_end() -> None:
    app = await fortnox_with_customers()
    first = await app.pipeline.call("list_customers", {})
    items = first.structured["Customers"]
    view = first.structured[VIEW_KEY]
    assert len(items) == LIST_LIMIT and view["returned"] == COUNT and view["total"] == COUNT
    assert view["summarised"] is True and view["left_out"] == ["DefaultDeliveryTypes"]
    assert all("DefaultDeliveryTypes" not in c and c["City"] == "Lund" for c in items)
    assert view["next"] == {"page": 2, "limit": LIST_LIMIT}
    assert "page=2" in first.text and "limit=25" in first.text

    # following the notes gives the next items: no gap, no overlap, to the end; pages, never offsets
    seen, followed = await follow(app, {})
    assert seen == names(COUNT)
    assert followed == [{"page": 2, "limit": LIST_LIMIT}, {"page": 3, "limit": LIST_LIMIT}]
    # what the sandbox was asked: the page and its size, as Fortnox takes them
    asked = [dict(r.url.params) for r in app.sandbox.requests if r.method == "GET"]
    assert asked[-2:] == [{"page": "2", "limit": "25"}, {"page": "3", "limit": "25"}]
    await app.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("count", [130, 230])
async def test_a_later_page_of_the_default_size_continues_where_it_was_cut(count: int) -> None:
    # page 2 of Fortnox's 100 a page starts at customer 100: the note must go on at 125 whether page 2
    # is the last (30 items: no measure of the page size; MetaInformation tells it) or a full one
    app = await fortnox_with_customers(count=count)
    second = await app.pipeline.call("list_customers", {"page": 2})
    view = second.structured[VIEW_KEY]
    assert view["returned"] == min(count - 100, 100) and view["shown"] == LIST_LIMIT
    assert view["total"] == count and view["next"] == {"page": 6, "limit": LIST_LIMIT}
    seen, _ = await follow(app, {"page": 2})
    assert seen == names(count, start=100)
    await app.aclose()


def test_a_later_page_without_its_size_or_the_vendors_count_offers_no_guess() -> None:
    tool = load_vendor("fortnox").tool("list_customers")
    items = {"Customers": [{"Name": str(i)} for i in range(30)]}

    def call(arguments: dict[str, Any]) -> Any:
        return SimpleNamespace(tool=tool, arguments=arguments)

    # page 2 of an unknown size: 30 items could be a short last page of 100 or a page of 30
    assert next_page(call({"page": 2}), items, 30, LIST_LIMIT) == (None, None)
    assert next_page(call({"page": 2, "limit": 50}), items, 30, LIST_LIMIT) == (
        {"page": 4, "limit": LIST_LIMIT},
        None,
    )
    meta = {"@TotalResources": 130, "@TotalPages": 2, "@CurrentPage": 2}
    assert next_page(call({"page": 2}), {**items, "MetaInformation": meta}, 30, LIST_LIMIT) == (
        {"page": 6, "limit": LIST_LIMIT},
        130,
    )


@pytest.mark.anyio
async def test_a_page_size_the_cut_cannot_continue_in_pages_offers_the_whole_page() -> None:
    # page 2 of 27 starts at 27; its 26th item (52) starts no page of 25 items
    app = await fortnox_with_customers()
    second = await app.pipeline.call("list_customers", {"page": 2, "limit": 27})
    view = second.structured[VIEW_KEY]
    assert view["returned"] == 27 and view["shown"] == LIST_LIMIT and "next" not in view
    assert "include_raw=true for all items" in view["note"]
    whole = await app.pipeline.call("list_customers", {"page": 2, "limit": 27, RAW_ARG: True})
    assert [c["Name"] for c in whole.structured["Customers"]] == names(54, start=27)
    await app.aclose()


@pytest.mark.anyio
async def test_paging_arguments_out_of_range_are_refused_before_anything_is_sent() -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={})
    for args, field in (({"limit": 501}, "limit"), ({"page": 0}, "page"), ({"limit": 0}, "limit")):
        bad = await app.pipeline.call("list_invoices", args)
        assert bad.is_error and bad.structured["error"]["code"] == "VALIDATION_ERROR", args
        assert bad.structured["error"]["field"] == field
    assert app.sandbox.requests == []
    await app.aclose()


@pytest.mark.anyio
async def test_an_mcp_client_sees_the_paging_arguments_and_pages_with_the_note() -> None:
    app = await fortnox_with_customers()
    async with Client(app.server, mode="auto") as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        props = listed["list_customers"].input_schema["properties"]
        assert props["page"]["minimum"] == 1 and "offset" not in props  # page and limit reach every item
        assert (props["limit"]["minimum"], props["limit"]["maximum"]) == (1, 500)
        seen: list[str] = []
        args: dict[str, Any] | None = {}
        while args is not None:
            result = await client.call_tool("list_customers", args)
            assert not result.is_error
            seen += [c["Name"] for c in result.structured_content["Customers"]]
            args = result.structured_content.get(VIEW_KEY, {}).get("next")
        assert seen == names(COUNT)
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
