"""Retries follow what an operation does, not its HTTP method: one approval means at most one send.

A scripted upstream on 127.0.0.1 answers with errors; the server runs on the vendor HTTP stack (real
retry and rate-limit layers, real HTTP), driven by the official `mcp` client. The typed SDK finds
the same fact by method and path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions

TOKEN = "retry-test-access-token-0123456789abcdef"
INVOICE = {
    "Invoice": {"DocumentNumber": "17", "CustomerNumber": "1", "CustomerName": "Acme AB", "Total": 1250.0}
}


class Upstream(ThreadingHTTPServer):
    """Answers each path from a script (status, headers) popped per request; then 200 with INVOICE."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.seen if (m, p.split("?")[0]) == (method, path))


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        with self.server.lock:
            self.server.seen.append((self.command, self.path))
            queue = self.server.script.get(f"{self.command} {path}") or []
            status, headers = queue.pop(0) if queue else (200, {})
        body = json.dumps(INVOICE if status < 300 else {"ErrorInformation": {"message": "not now"}}).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def environ(upstream: Upstream) -> dict[str, str]:
    return {
        "LEDGERMCP_FORTNOX_BASE_URL": upstream.url,
        "LEDGERMCP_FORTNOX_ACCESS_TOKEN": TOKEN,
        "LEDGERMCP_FORTNOX_RATE_LIMIT": "off",
    }


def app_for(upstream: Upstream, tmp_path: Path) -> Any:
    safety = SafetyOptions(
        approve="destructive",
        snapshot_dir=str(tmp_path / "snapshots"),
        audit_log=str(tmp_path / "audit.jsonl"),
    )
    return create_app(load_vendor("fortnox"), environ=environ(upstream), safety=safety)


async def approved(client: Client, name: str, args: dict[str, Any]) -> Any:
    first = await client.call_tool(name, args)
    assert first.structured_content.get("approval_required"), first.content[0].text
    # the person sees what the write touches as it stands now, not only method and path
    assert "as it stands: document 17, party 1, amount 1250.0" in first.content[0].text
    return await client.call_tool(name, {**args, "_approval": first.structured_content["approval"]["token"]})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "headers"), [(500, {}), (502, {}), (429, {"Retry-After": "1"})], ids=["500", "502", "429"]
)
async def test_an_approved_send_goes_out_once_whatever_the_vendor_answers(
    upstream: Upstream, tmp_path: Path, status: int, headers: dict[str, str]
) -> None:
    send = "/3/invoices/17/email"
    upstream.script[f"GET {send}"] = [(status, headers)] * 3
    app = app_for(upstream, tmp_path)
    async with Client(app.server, mode="legacy") as client:
        result = await approved(client, "send_invoice_by_email", {"DocumentNumber": "17"})
    assert result.is_error
    assert upstream.count("GET", send) == 1  # a GET, sent once: it sends an e-mail
    # the entity read twice: shown in the plan, then kept as the snapshot before the send
    assert upstream.count("GET", "/3/invoices/17") == 2
    error = result.structured_content["error"]
    assert error["attempts"] == 1 and error["request_sent"]
    assert "not repeated" in error["hint"] and "check in Fortnox" in error["hint"]


@pytest.mark.anyio
async def test_a_read_is_still_retried_and_says_how_many_attempts(upstream: Upstream, tmp_path: Path) -> None:
    upstream.script["GET /3/invoices/17"] = [(503, {"Retry-After": "0"})]
    app = app_for(upstream, tmp_path)
    async with Client(app.server, mode="legacy") as client:
        result = await client.call_tool("get_invoice", {"DocumentNumber": "17"})
    assert not result.is_error, result.content[0].text
    assert upstream.count("GET", "/3/invoices/17") == 2
    assert result.meta["ledgermcp/attempts"] == 2


@pytest.mark.anyio
async def test_a_booking_put_is_not_repeated_but_an_update_put_is(upstream: Upstream, tmp_path: Path) -> None:
    upstream.script["PUT /3/invoices/17/bookkeep"] = [(503, {"Retry-After": "0"})]
    upstream.script["PUT /3/invoices/17"] = [(503, {"Retry-After": "0"})]
    app = app_for(upstream, tmp_path)
    async with Client(app.server, mode="legacy") as client:
        booked = await approved(client, "bookkeep_invoice", {"DocumentNumber": "17"})
        updated = await approved(client, "update_invoice", {"DocumentNumber": "17", "Comments": "x"})
    assert booked.is_error and upstream.count("PUT", "/3/invoices/17/bookkeep") == 1
    assert not updated.is_error and upstream.count("PUT", "/3/invoices/17") == 2


def test_the_typed_sdk_finds_the_fact_by_method_and_path(upstream: Upstream) -> None:
    from ledgermcp.generated.fortnox.client.api.invoices import get_invoice, send_invoice_by_email
    from ledgermcp.server.sdk import client_for

    upstream.script["GET /3/invoices/17/email"] = [(500, {})] * 3
    upstream.script["GET /3/invoices/17"] = [(503, {"Retry-After": "0"})]
    with client_for("fortnox", env=environ(upstream)) as client:
        sent = send_invoice_by_email.sync_detailed(document_number="17", client=client)
        read = get_invoice.sync_detailed(document_number="17", client=client)
    assert sent.status_code == 500 and upstream.count("GET", "/3/invoices/17/email") == 1
    assert read.status_code == 200 and upstream.count("GET", "/3/invoices/17") == 2


def test_routes_prefer_literal_paths_and_strip_the_base_path() -> None:
    from ledgermcp.server.http.retry import RetryRoutes

    tools = [
        {"binding": {"method": "POST", "path": "/invoices/{id}"}, "facts": {"retry": True}},
        {"binding": {"method": "POST", "path": "/invoices/bulk"}, "facts": {"retry": False}},
        {"binding": {"method": "GET", "path": "/invoices/{id}/email"}, "facts": {"retry": False}},
    ]
    routes = RetryRoutes(tools, "/v2")
    assert routes.safe("POST", "/v2/invoices/bulk") is False
    assert routes.safe("POST", "/v2/invoices/7") is True
    assert routes.safe("GET", "/v2/invoices/7/email") is False
    assert routes.safe("GET", "/v2/unknown") is None  # no operation: the method decides


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
