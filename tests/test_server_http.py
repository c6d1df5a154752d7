"""Calls against a real HTTP server on 127.0.0.1 (`LEDGERMCP_<VENDOR>_BASE_URL`), through the vendor
HTTP stack: every error code, binary answers, and how paths and queries reach the wire."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor

TOKEN = "tok_live_5c1e0a9d8b7f"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n\x00\xff binary tail\n%%EOF\n"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(
        self,
        path: str,
        status: int,
        body: Any = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.script[path] = (status, headers or {}, body, delay)


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, query = self.path.partition("?")
        self.server.seen.append(
            {
                "method": self.command,
                "path": raw_path,
                "query": query,
                "headers": dict(self.headers),
                "body": body,
            }
        )
        status, headers, content, delay = self.server.script.get(
            raw_path, (200, {"Content-Type": "application/json"}, b"{}", 0.0)
        )
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fresh(upstream: Upstream) -> Upstream:
    upstream.script.clear()
    upstream.seen.clear()
    return upstream


def app_for(vendor: str, base_url: str, **extra: str):
    prefix = f"LEDGERMCP_{vendor.upper()}"
    env = {f"{prefix}_BASE_URL": base_url, f"{prefix}_ACCESS_TOKEN": TOKEN, **extra}
    return create_app(load_vendor(vendor), environ=env)


async def call(app, tool: str, **args: Any):
    return await app.pipeline.call(tool, args)


def error(result) -> dict[str, Any]:
    assert result.is_error, result.text
    return result.structured["error"]


@pytest.mark.anyio
async def test_base_url_override_and_bearer_token(fresh: Upstream) -> None:
    fresh.answer("/contacts/7", 200, {"item": {"id": 7, "name": "Muster AG"}})
    app = app_for("smallinvoice", fresh.url)
    result = await call(app, "get_contact", contactId=7)
    assert result.structured == {"item": {"id": 7, "name": "Muster AG"}}
    assert fresh.seen[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(result.to_wire())
    await app.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args", "path", "status", "body", "headers", "code", "words"),
    [
        (
            "get_contact",
            {"contactId": 5},
            "/contacts/5",
            401,
            {"code": 401, "message": "The access token is invalid", "meta": {"error_type": "invalid_token"}},
            None,
            "UNAUTHORIZED",
            [
                "The access token is invalid",
                "LEDGERMCP_SMALLINVOICE_ACCESS_TOKEN",
                "SMALLINVOICE_ACCESS_TOKEN",
                "ledgermcp login smallinvoice",
            ],
        ),
        (
            "get_contact",
            {"contactId": 5},
            "/contacts/5",
            403,
            {"code": 403, "message": "Feature missing", "meta": {"feature": "contacts", "plans": ["pro"]}},
            None,
            "FORBIDDEN",
            ["Feature missing", "scope(s) contact"],
        ),
        (
            "get_contact",
            {"contactId": 5},
            "/contacts/5",
            404,
            {"code": 404, "message": "Entity not found"},
            None,
            "NOT_FOUND",
            ["contactId='5'", "Entity not found"],
        ),
        (
            "create_contact",
            {
                "name": "A",
                "relation": ["CL"],
                "type": "C",
                "main_address": {"street": "s", "postcode": "1", "city": "c", "country": "CH"},
            },
            "/contacts",
            409,
            {"code": 409, "message": "Number already used"},
            None,
            "CONFLICT",
            ["Number already used"],
        ),
        (
            "create_contact",
            {
                "name": "A",
                "relation": ["CL"],
                "type": "C",
                "main_address": {"street": "s", "postcode": "1", "city": "c", "country": "CH"},
            },
            "/contacts",
            400,
            {"code": 400, "message": "main_address.country: invalid country"},
            None,
            "VALIDATION_ERROR",
            ["invalid country"],
        ),
        (
            "get_contact",
            {"contactId": 5},
            "/contacts/5",
            429,
            {"code": 429, "message": "Too many requests"},
            {"Retry-After": "120"},
            "RATE_LIMITED",
            ["Retry after 120 seconds", "Too many requests"],
        ),
        (
            "create_contact",
            {
                "name": "A",
                "relation": ["CL"],
                "type": "C",
                "main_address": {"street": "s", "postcode": "1", "city": "c", "country": "CH"},
            },
            "/contacts",
            502,
            b"<html>bad gateway</html>",
            {"Content-Type": "text/html"},
            "UPSTREAM_ERROR",
            ["HTTP 502"],
        ),
    ],
)
async def test_error_codes(fresh: Upstream, tool, args, path, status, body, headers, code, words) -> None:
    fresh.answer(path, status, body, headers)
    app = app_for("smallinvoice", fresh.url)
    result = await call(app, tool, **args)
    err = error(result)
    assert err["code"] == code and err["status"] == status
    for word in words:
        assert word in result.text, result.text
    assert "<html>" not in result.text and "Traceback" not in result.text and TOKEN not in result.text
    await app.aclose()


@pytest.mark.anyio
async def test_timeout(fresh: Upstream) -> None:
    fresh.answer("/contacts/5", 200, {"item": {}}, delay=1.5)
    app = app_for("smallinvoice", fresh.url, LEDGERMCP_SMALLINVOICE_TIMEOUT_MS="300")
    err = error(await call(app, "get_contact", contactId=5))
    assert err["code"] == "TIMEOUT"
    await app.aclose()


@pytest.mark.anyio
async def test_network_error() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = app_for("smallinvoice", f"http://127.0.0.1:{port}")
    result = await call(
        app,
        "create_contact",
        name="A",
        relation=["CL"],
        type="C",
        main_address={"street": "s", "postcode": "1", "city": "c", "country": "CH"},
    )
    err = error(result)
    assert err["code"] == "NETWORK_ERROR" and "Traceback" not in result.text
    await app.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("vendor", "tool", "args", "path"),
    [
        ("fortnox", "print_invoice", {"DocumentNumber": "1001"}, "/3/invoices/1001/print"),
        ("smallinvoice", "get_invoice_pdf", {"invoiceId": 12}, "/receivables/invoices/12/pdf"),
    ],
)
async def test_pdf_answer_is_embedded_unmangled(fresh: Upstream, vendor, tool, args, path) -> None:
    fresh.answer(path, 200, PDF, {"Content-Type": "application/pdf"})
    app = app_for(vendor, fresh.url)
    result = await call(app, tool, **args)
    assert not result.is_error, result.text
    blobs = [c["resource"] for c in result.content if c["type"] == "resource"]
    assert len(blobs) == 1 and blobs[0]["mimeType"] == "application/pdf"
    assert base64.b64decode(blobs[0]["blob"]) == PDF
    await app.aclose()


@pytest.mark.anyio
async def test_path_special_characters_reach_the_wire_encoded(fresh: Upstream) -> None:
    app = app_for("fortnox", fresh.url)
    await call(app, "get_customer", CustomerNumber="A/B ?&#%ü")
    assert fresh.seen[-1]["path"] == "/3/customers/A%2FB%20%3F%26%23%25%C3%BC"
    assert fresh.seen[-1]["query"] == ""
    await app.aclose()


@pytest.mark.anyio
async def test_query_arrays_and_special_characters(fresh: Upstream) -> None:
    app = app_for("fortnox", fresh.url)
    await call(
        app, "get_warehouse_status_stockbalance", itemIds=["A 1", "B&2", "C,3"], stockPointCodes=["SP1"]
    )
    seen = fresh.seen[-1]
    assert seen["path"] == "/api/warehouse/status-v1/stockbalance"
    assert seen["query"] == "itemIds=A%201&itemIds=B%262&itemIds=C%2C3&stockPointCodes=SP1"
    await app.aclose()


@pytest.mark.anyio
async def test_json_body_is_assembled_from_flattened_arguments(fresh: Upstream) -> None:
    fresh.answer("/3/customers/K%2F1", 200, {"Customer": {"CustomerNumber": "K/1", "City": "Lund"}})
    app = app_for("fortnox", fresh.url)
    result = await call(app, "update_customer", CustomerNumber="K/1", City="Lund", Active=True)
    assert result.structured["Customer"]["City"] == "Lund"
    sent = fresh.seen[-1]
    assert sent["method"] == "PUT" and json.loads(sent["body"]) == {
        "Customer": {"City": "Lund", "Active": True}
    }
    assert sent["headers"]["Content-Type"] == "application/json"
    await app.aclose()
