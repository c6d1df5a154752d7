"""The client-side rate limit: a sliding window that never lets N+1 requests into one window."""

from __future__ import annotations

import logging
import threading

import anyio
import anyio.lowlevel
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgermcp.server.http.errors import RATE_LIMIT_WAIT_KEY
from ledgermcp.server.http.ratelimit import (
    AsyncRateLimitTransport,
    BudgetMonitor,
    RateLimit,
    RateLimitTransport,
    SlidingWindow,
)

FORTNOX_LIKE = {
    "name": "fakefortnox",
    "rate_limit": {"requests": 25, "per_seconds": 5, "remaining_header": "X-Rate-Limit-Remaining"},
}
SMALLINVOICE_LIKE = {
    "name": "fakesmallinvoice",
    "rate_limit": {
        "requests": 360,
        "per_seconds": 60,
        "remaining_header": "X-Rate-Limit-Remaining",
        "warn_below": 30,
    },
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self, start: float = 500.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def max_in_any_window(times: list[float], per: float) -> int:
    """The largest number of timestamps less than `per` apart (inside one window [t, t + per))."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= per:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_vendor_rate_limit_is_read_from_the_table() -> None:
    limit = RateLimit.from_vendor(FORTNOX_LIKE)
    assert limit == RateLimit(25, 5.0, "X-Rate-Limit-Remaining")
    assert limit.warn_threshold == 3
    assert RateLimit.from_vendor(SMALLINVOICE_LIKE).warn_threshold == 30
    assert RateLimit.from_vendor({"name": "x", "rate_limit": None}) is None


@pytest.mark.anyio
async def test_200_concurrent_requests_never_exceed_25_in_any_5_seconds() -> None:
    clock = FakeClock()
    limit = RateLimit.from_vendor(FORTNOX_LIKE)
    sent: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock())
        await anyio.lowlevel.checkpoint()
        return httpx.Response(200)

    window = SlidingWindow(limit.requests, limit.per_seconds, clock=clock)
    transport = AsyncRateLimitTransport(httpx.MockTransport(handler), window, sleep=clock.asleep)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.test") as client:

        async def call(i: int) -> None:
            response = await client.get(f"/3/invoices/{i}")
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(call, i)

    assert statuses == [200] * 200  # queued, never failed
    assert len(sent) == 200
    assert max_in_any_window(sent, 5.0) == 25
    # and it does not crawl: 8 windows' worth of requests need 7 waits of 5 s
    assert sent[-1] - sent[0] == pytest.approx(35.0)


def test_sync_transport_queues_and_records_the_wait() -> None:
    clock = FakeClock()
    sent: list[float] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock())
        waits.append(request.extensions[RATE_LIMIT_WAIT_KEY])
        return httpx.Response(200)

    window = SlidingWindow(25, 5.0, clock=clock)
    with httpx.Client(
        transport=RateLimitTransport(httpx.MockTransport(handler), window, sleep=clock.sleep)
    ) as client:
        for _ in range(60):
            assert client.get("https://api.example.test/3/customers").status_code == 200
    assert max_in_any_window(sent, 5.0) == 25
    assert waits[:25] == [0.0] * 25 and waits[25] == pytest.approx(5.0)


def test_sync_and_threads_share_one_window() -> None:
    # real threads, simulated time: the window's lock keeps grant times ordered and within budget
    clock = FakeClock()
    lock = threading.Lock()
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            sent.append(clock())
        return httpx.Response(200)

    window = SlidingWindow(10, 1.0, clock=clock)
    transport = RateLimitTransport(httpx.MockTransport(handler), window, sleep=sleep)
    with httpx.Client(transport=transport) as client:
        threads = [
            threading.Thread(target=lambda: [client.get("https://api.example.test/") for _ in range(10)])
            for _ in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(sent) == 50
    assert max_in_any_window(sent, 1.0) <= 10


@settings(max_examples=80, deadline=None)
@given(
    requests=st.integers(min_value=1, max_value=30),
    per=st.sampled_from([0.5, 1.0, 5.0, 60.0]),
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=150),
)
def test_window_never_grants_more_than_n_per_window(requests: int, per: float, gaps: list[float]) -> None:
    clock = FakeClock(0.0)
    window = SlidingWindow(requests, per, clock=clock)
    granted: list[float] = []
    for gap in gaps:  # arrivals at arbitrary times; each waits as told and tries again
        clock.now += gap
        while (wait := window.try_acquire()) > 0:
            clock.now += wait
        granted.append(clock.now)
    assert max_in_any_window(granted, per) <= requests


def test_smallinvoice_budget_of_360_per_minute() -> None:
    clock = FakeClock()
    window = SlidingWindow(360, 60.0, clock=clock)
    granted = []
    for _ in range(1000):
        while (wait := window.try_acquire()) > 0:
            clock.now += wait
        granted.append(clock.now)
    assert max_in_any_window(granted, 60.0) == 360


def test_low_remaining_budget_warns_once_per_dip(caplog: pytest.LogCaptureFixture) -> None:
    monitor = BudgetMonitor("fakefortnox", "X-Rate-Limit-Remaining", threshold=3)
    caplog.set_level(logging.WARNING, logger="ledgermcp.http.ratelimit")
    for remaining in ["20", "5", "2", "1", "0", "25", "2", "garbage"]:
        monitor.observe(httpx.Response(200, headers={"X-Rate-Limit-Remaining": remaining}))
    monitor.observe(httpx.Response(200))
    warnings = [r for r in caplog.records if r.name == "ledgermcp.http.ratelimit"]
    assert len(warnings) == 2
    assert "X-Rate-Limit-Remaining=2" in warnings[0].getMessage()
    assert warnings[0].levelno == logging.WARNING


@pytest.mark.anyio
async def test_async_transport_feeds_the_monitor(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="ledgermcp.http.ratelimit")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Rate-Limit-Remaining": "1"})

    transport = AsyncRateLimitTransport(
        httpx.MockTransport(handler),
        SlidingWindow(25, 5.0, clock=clock),
        sleep=clock.asleep,
        monitor=BudgetMonitor("fakefortnox", "X-Rate-Limit-Remaining", 3),
    )
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://api.example.test/")
    assert any("nearly used up" in r.getMessage() for r in caplog.records)
