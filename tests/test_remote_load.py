"""Load over the HTTP transport, bounded: 20 concurrent MCP clients x 50 calls each against
`ledgermcp serve fortnox --sandbox --transport http` on 127.0.0.1. Every call must succeed and
every call must be seen by the server (one log line each). Latency is printed, not asserted."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import anyio
import pytest
from mcp import Client
from test_remote_support import ServerProcess, clean_env

CLIENTS = 20
CALLS = 50
BUDGET_SECONDS = 45.0  # hard bound on the whole run


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        ["fortnox", "--sandbox", "--read-only"], clean_env(), tmp_path_factory.mktemp("load") / "stderr"
    )
    yield proc
    proc.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@pytest.mark.anyio
async def test_concurrent_clients_lose_nothing(server: ServerProcess) -> None:
    latencies: list[float] = []
    errors: list[str] = []

    async def one_client(n: int) -> None:
        async with Client(server.url, mode="legacy") as client:
            for i in range(CALLS):
                started = time.perf_counter()
                try:
                    result = await client.call_tool("list_invoices", {"sortby": "documentnumber"})
                except Exception as exc:  # counted, reported below
                    errors.append(f"client {n} call {i}: {type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if result.is_error:
                    errors.append(f"client {n} call {i}: {result.content}")

    began = time.perf_counter()
    with anyio.fail_after(BUDGET_SECONDS):
        async with anyio.create_task_group() as tg:
            for n in range(CLIENTS):
                tg.start_soon(one_client, n)
    wall = time.perf_counter() - began

    assert errors == []
    assert len(latencies) == CLIENTS * CALLS
    seen = [r for r in server.call_lines() if r["tool"] == "list_invoices"]
    assert len(seen) == CLIENTS * CALLS and all(r["status"] == "ok" for r in seen)
    print(
        f"\nHTTP load: {CLIENTS} clients x {CALLS} calls = {len(latencies)} calls in {wall:.1f} s "
        f"({len(latencies) / wall:.0f}/s); latency p50 {percentile(latencies, 50):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, "
        f"mean {statistics.fmean(latencies):.1f} ms; server-side p50 "
        f"{percentile([r['duration_ms'] for r in seen], 50):.1f} ms"
    )
