"""The call pipeline: validation before anything is sent, error codes, rendering, the tool boundary."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from fixtures.acme_tools import acme_vendor

from ledgermcp.server.calls import CallPipeline, UnknownToolError, Upstream
from ledgermcp.server.render import ToolResult
from ledgermcp.server.settings import VendorSettings

VENDOR = acme_vendor()
TOKEN = "sk-live-9f8e7d6c5b4a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pipeline(handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> CallPipeline:
    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.AsyncClient(
        base_url="https://api.acme.invalid",
        transport=httpx.MockTransport(recording),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    settings = VendorSettings("acme", "https://api.acme.invalid", {"access_token": TOKEN})
    return CallPipeline(VENDOR, Upstream(client), settings=settings)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"Customer": {"CustomerNumber": "1"}})


def test_each_missing_argument_is_named_once() -> None:
    from ledgermcp.server.calls import ArgumentValidator

    tool = {
        "name": "t",
        "input_schema": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}},
            "required": ["a", "b", "c"],
        },
    }
    problems = ArgumentValidator().problems(tool, {"b": 1})
    assert sorted(p["field"] for p in problems) == ["a", "c"]
    assert {p["problem"] for p in problems} == {
        "missing required argument 'a'",
        "missing required argument 'c'",
    }
    only_b = ArgumentValidator().problems(tool, {"a": "x", "c": "y"})
    assert [p["field"] for p in only_b] == ["b"] and "(integer)" in only_b[0]["fix"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args", "field", "words"),
    [
        ("get_customer", {"CustomerNumber": 5}, "CustomerNumber", ["must be string, got integer", '"5"']),
        ("get_customer", {}, "CustomerNumber", ["missing required argument 'CustomerNumber'"]),
        (
            "get_customer",
            {"CustomerNumber": "1", "Foo": 1},
            "Foo",
            ["unknown argument 'Foo'", "CustomerNumber"],
        ),
        ("list_customers", {"filter": "all"}, "filter", ["not allowed", "'active'"]),
        (
            "create_contact",
            {"name": "x", "main_address": {"city": 3}},
            "main_address.city",
            ["must be string"],
        ),
        ("list_contacts", {"limit": 500}, "limit", ["limit"]),
        ("upload_inbox_file", {"file": "***"}, "file", ["base64"]),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    tool: str, args: dict, field: str, words: list[str]
) -> None:
    seen: list[httpx.Request] = []
    result = await pipeline(ok, seen).call(tool, args)
    assert isinstance(result, ToolResult) and result.is_error
    error = result.structured["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == field
    assert error["request_sent"] is False
    assert error["hint"]  # the fix
    for word in words:
        assert word in result.text
    assert seen == []


@pytest.mark.anyio
async def test_unknown_tool_raises_for_the_protocol_layer() -> None:
    with pytest.raises(UnknownToolError):
        await pipeline(ok, []).call("no_such_tool", {})


def status_handler(status: int, body: object = None, headers: dict | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "words"),
    [
        (
            401,
            {"message": "invalid token"},
            None,
            "UNAUTHORIZED",
            ["invalid token", "LEDGERMCP_ACME_ACCESS_TOKEN", "ACME_ACCESS_TOKEN", "ledgermcp login acme"],
        ),
        (
            403,
            {"ErrorInformation": {"Error": 1, "Message": "No access", "Code": 2000663}},
            None,
            "FORBIDDEN",
            ["No access", "customer"],
        ),
        (
            404,
            {"ErrorInformation": {"Message": "Kunde hittades inte"}},
            None,
            "NOT_FOUND",
            ["CustomerNumber='42'", "Kunde hittades inte"],
        ),
        (409, {"message": "version mismatch"}, None, "CONFLICT", ["version mismatch"]),
        (400, {"code": 400, "message": "Name is too long"}, None, "VALIDATION_ERROR", ["Name is too long"]),
        (
            422,
            {"errors": [{"field": "Email", "message": "invalid"}]},
            None,
            "VALIDATION_ERROR",
            ["Email: invalid"],
        ),
        (429, {"message": "slow down"}, {"Retry-After": "17"}, "RATE_LIMITED", ["Retry after 17 seconds"]),
        (500, None, None, "UPSTREAM_ERROR", ["HTTP 500"]),
        (503, {"message": "maintenance"}, None, "UPSTREAM_ERROR", ["maintenance"]),
        (504, None, None, "TIMEOUT", ["HTTP 504"]),
    ],
)
async def test_vendor_errors_map_to_stable_codes(status, body, headers, code, words) -> None:
    seen: list[httpx.Request] = []
    result = await pipeline(status_handler(status, body, headers), seen).call(
        "get_customer", {"CustomerNumber": "42"}
    )
    assert result.is_error
    error = result.structured["error"]
    assert error["code"] == code and error["status"] == status and error["request_sent"] is True
    for word in words:
        assert word in result.text, result.text
    assert len(seen) == 1


@pytest.mark.anyio
async def test_403_names_the_scopes() -> None:
    result = await pipeline(status_handler(403), []).call("list_contacts", {})
    assert result.structured["error"]["required_scopes"] == ["contact"]
    assert "contact" in result.structured["error"]["hint"]


@pytest.mark.anyio
async def test_secrets_never_reach_a_result() -> None:
    echo = {"message": f"token {TOKEN} rejected; Authorization: Bearer {TOKEN}", "api_key": "abcdef123456"}
    result = await pipeline(status_handler(401, echo), []).call("get_customer", {"CustomerNumber": "1"})
    wire = str(result.to_wire())
    assert TOKEN not in wire and "abcdef123456" not in wire
    assert "UNAUTHORIZED" in wire


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ConnectError("connection refused"), "NETWORK_ERROR"),
        (httpx.ReadTimeout("timed out"), "TIMEOUT"),
        (RuntimeError(f"boom with {TOKEN}"), "INTERNAL_ERROR"),
    ],
)
async def test_exceptions_become_results_without_traceback(exc: Exception, code: str) -> None:
    def raising(request: httpx.Request) -> httpx.Response:
        raise exc

    result = await pipeline(raising, []).call("get_customer", {"CustomerNumber": "1"})
    assert result.is_error and result.structured["error"]["code"] == code
    wire = str(result.to_wire())
    assert "Traceback" not in wire and TOKEN not in wire and 'File "' not in wire


@pytest.mark.anyio
async def test_json_answer_is_structured_plus_short_text() -> None:
    items = {"Customers": [{"CustomerNumber": str(i), "Name": "x" * 50} for i in range(200)]}
    result = await pipeline(lambda r: httpx.Response(200, json=items), []).call("list_customers", {})
    assert not result.is_error
    assert result.structured == items
    assert "200 Customers" in result.text and len(result.text) < 5000


@pytest.mark.anyio
async def test_list_answer_is_wrapped_as_object() -> None:
    result = await pipeline(lambda r: httpx.Response(200, json=[1, 2]), []).call("list_customers", {})
    assert result.structured == {"items": [1, 2]}


@pytest.mark.anyio
async def test_pdf_answer_is_an_embedded_blob() -> None:
    pdf = b"%PDF-1.7\n\x00\xff\xfe binary \x80\n%%EOF"
    handler = lambda r: httpx.Response(200, content=pdf, headers={"Content-Type": "application/pdf"})  # noqa: E731
    result = await pipeline(handler, []).call("get_invoice_pdf", {"DocumentNumber": "12"})
    resource = next(c for c in result.content if c["type"] == "resource")["resource"]
    assert resource["mimeType"] == "application/pdf"
    assert base64.b64decode(resource["blob"]) == pdf
    assert resource["uri"] == "ledgermcp://acme/3/invoices/12/print"


@pytest.mark.anyio
async def test_no_content_answer() -> None:
    result = await pipeline(lambda r: httpx.Response(204), []).call(
        "delete_customer", {"CustomerNumber": "1"}
    )
    assert not result.is_error and result.structured == {"ok": True, "status": 204}


@pytest.mark.anyio
async def test_gates_can_stop_a_call_before_it_is_sent() -> None:
    seen: list[httpx.Request] = []
    pipe = pipeline(ok, seen)
    notes: list[str] = []

    async def dry_run(call):
        if not call.read_only:
            return ToolResult([{"type": "text", "text": "would send"}], {"plan": call.request.describe()})
        return None

    async def snapshot(call):
        notes.append(f"before {call.name}")

    async def audit(call, result):
        notes.append(f"after {call.name}")

    pipe.gates.append(dry_run)
    pipe.before_send.append(snapshot)
    pipe.after.append(audit)
    result = await pipe.call("update_customer", {"CustomerNumber": "1", "Name": "N"})
    assert result.structured == {
        "plan": {"method": "PUT", "path": "/3/customers/1", "body": {"Customer": {"Name": "N"}}}
    }
    assert seen == [] and notes == ["after update_customer"]
    await pipe.call("get_customer", {"CustomerNumber": "1"})
    assert len(seen) == 1 and notes[1:] == ["before get_customer", "after get_customer"]
