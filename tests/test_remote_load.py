"""Load over the HTTP transport, bounded: 20 concurrent MCP clients x 50 calls each against
`ledgermcp serve fortnox --transport http` on 127.0.0.1, which calls a local Fortnox-shaped
upstream over real HTTP (its full stack: bearer auth, retry, rate limit). Every call must be
answered without error, and the upstream must see each call exactly once: nothing lost, nothing
re-sent. Latency is printed, not asserted.

The vendor's own limit (25 requests per 5 s) would stretch 1000 calls over 200 s, so the server
runs with `LEDGERMCP_FORTNOX_RATE_LIMIT=10000/1`: the limiter stays in the path but never waits.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
from mcp import Client
from test_remote_support import ServerProcess, clean_env

CLIENTS = 20
CALLS = 50
BUDGET_SECONDS = 90.0  # hard bound on the calls; a healthy run takes a few seconds
TOKEN = "load-test-access-token-4f1c9e"
INVOICE_PATH = re.compile(r"^/3/invoices/([0-9]+)$")


class FortnoxStub(ThreadingHTTPServer):
    """Answers the two read operations the test calls, in Fortnox's JSON shape, and counts every
    request it gets (by path), plus any without the server's bearer token."""

    daemon_threads = True
    request_queue_size = 128  # 20 clients open their connections at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.lock = threading.Lock()
        self.paths: Counter[str] = Counter()
        self.unauthorized = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.paths[path] += 1
            if authorization != f"Bearer {TOKEN}":
                self.unauthorized += 1
                return 401, {"ErrorInformation": {"error": 1, "message": "Unauthorized", "code": 2000310}}
        if path == "/3/invoices":
            invoices = [_invoice(n) for n in range(1, 4)]
            meta = {"@TotalResources": 3, "@TotalPages": 1, "@CurrentPage": 1}
            return 200, {"MetaInformation": meta, "Invoices": invoices}
        match = INVOICE_PATH.match(path)
        if match:
            return 200, {"Invoice": _invoice(int(match[1]))}
        return 404, {"ErrorInformation": {"error": 1, "message": "Not found", "code": 2000430}}


def _invoice(number: int) -> dict[str, Any]:
    return {
        "@url": f"https://api.fortnox.se/3/invoices/{number}",
        "DocumentNumber": str(number),
        "CustomerNumber": "10",
        "CustomerName": "Load AB",
        "Currency": "SEK",
        "Total": 125.0,
        "Booked": False,
        "Cancelled": False,
    }


class _StubHandler(BaseHTTPRequestHandler):
    server: FortnoxStub
    protocol_version = "HTTP/1.1"  # keep-alive: the server's client reuses its connections

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, body = self.server.answer(self.path.split("?", 1)[0], self.headers.get("Authorization"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FortnoxStub]:
    stub = FortnoxStub()
    thread = threading.Thread(target=stub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield stub
    stub.shutdown()
    stub.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, upstream: FortnoxStub) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("load")
    env = clean_env(
        LEDGERMCP_FORTNOX_BASE_URL=upstream.url,
        LEDGERMCP_FORTNOX_ACCESS_TOKEN=TOKEN,
        LEDGERMCP_FORTNOX_RATE_LIMIT="10000/1",
        LEDGERMCP_DATA_DIR=str(tmp / "data"),
        LEDGERMCP_CONFIG_DIR=str(tmp / "config"),
    )
    proc = ServerProcess(["fortnox", "--read-only"], env, tmp / "stderr")
    yield proc
    proc.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def document_number(client: int, call: int) -> str:
    return str(client * CALLS + call + 1)


@pytest.mark.slow
@pytest.mark.anyio
async def test_concurrent_clients_lose_nothing(
    server: ServerProcess, upstream: FortnoxStub, capsys: pytest.CaptureFixture[str]
) -> None:
    latencies: list[float] = []
    errors: list[str] = []

    async def one_client(n: int) -> None:
        async with Client(server.url, mode="legacy") as client:
            for i in range(CALLS):
                # odd calls read one invoice each, with a number no other call uses
                if i % 2:
                    name, args = "get_invoice", {"DocumentNumber": document_number(n, i)}
                else:
                    name, args = "list_invoices", {"sortby": "documentnumber"}
                started = time.perf_counter()
                try:
                    result = await client.call_tool(name, args)
                except Exception as exc:  # counted, reported below
                    errors.append(f"client {n} call {i}: {type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                data = result.structured_content or {}
                if result.is_error:
                    errors.append(f"client {n} call {i}: {result.content}")
                elif (
                    name == "get_invoice"
                    and data.get("Invoice", {}).get("DocumentNumber") != args["DocumentNumber"]
                ):
                    errors.append(f"client {n} call {i}: answered with another invoice: {data}")
                elif name == "list_invoices" and len(data.get("Invoices", [])) != 3:
                    errors.append(f"client {n} call {i}: unexpected list: {data}")

    began = time.perf_counter()
    with anyio.fail_after(BUDGET_SECONDS):
        async with anyio.create_task_group() as tg:
            for n in range(CLIENTS):
                tg.start_soon(one_client, n)
    wall = time.perf_counter() - began

    total = CLIENTS * CALLS
    assert errors == []
    assert len(latencies) == total
    # the upstream saw every call exactly once, each with the server's token
    expected = Counter({"/3/invoices": total // 2})
    expected.update(
        f"/3/invoices/{document_number(n, i)}" for n in range(CLIENTS) for i in range(1, CALLS, 2)
    )
    with upstream.lock:
        assert upstream.unauthorized == 0
        assert upstream.paths == expected
        assert sum(upstream.paths.values()) == total
    # and the server logged every call as ok, with no re-sends
    seen = server.call_lines()
    assert len(seen) == total
    assert Counter(r["tool"] for r in seen) == {"list_invoices": total // 2, "get_invoice": total // 2}
    assert all(r["status"] == "ok" and r["http_status"] == 200 and not r["retries"] for r in seen), [
        r for r in seen if r["status"] != "ok" or r["retries"]
    ][:3]
    with capsys.disabled():  # shown in every run, not only with -s
        print(
            f"\nHTTP load via a local upstream: {CLIENTS} clients x {CALLS} calls = {total} calls in "
            f"{wall:.1f} s ({total / wall:.0f}/s); latency p50 {percentile(latencies, 50):.1f} ms, "
            f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms; server-side p50 "
            f"{percentile([r['duration_ms'] for r in seen], 50):.1f} ms"
        )
