"""Client-side rate limiting per vendor: requests wait for a slot, they never fail for it.

`SlidingWindow` remembers when the last N slots were granted and grants a new one only when the
oldest of those is at least `per_seconds` old. Any N+1 consecutive grants g0 < ... < gN therefore
satisfy gN - g0 >= per_seconds (when gN was granted, g0 was the oldest of the last N), so no
window of `per_seconds` ever holds more than N requests. The clock is read under the window's lock,
so grant times are recorded in order even across threads.

One window per vendor is shared by the sync and async clients of a process (`shared_window`), so
a developer's SDK calls and the MCP server's calls draw on the same budget. The wrappers queue in
arrival order (anyio's lock is fair).

The limit comes from `VENDOR["rate_limit"]`; a user on a bigger plan (or a test against a local
upstream) overrides it with `N/S` (N requests per S seconds, e.g. `100/1`) or `off`, parsed by
`parse_rate_limit` (`LEDGERMCP_<VENDOR>_RATE_LIMIT`, read in `ledgermcp.server.http.client`).

When the vendor reports its remaining budget in a header (`VENDOR["rate_limit"]["remaining_header"]`),
a warning is logged once each time it drops below the threshold (`warn_below`, default a tenth of
the limit).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from ledgermcp.server.http.errors import RATE_LIMIT_WAIT_KEY

logger = logging.getLogger("ledgermcp.http.ratelimit")


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float
    remaining_header: str | None = None
    warn_below: int | None = None

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"invalid rate limit: {self.requests} per {self.per_seconds}s")

    @property
    def warn_threshold(self) -> int:
        if self.warn_below is not None:
            return self.warn_below
        return max(1, math.ceil(self.requests / 10))

    @classmethod
    def from_vendor(cls, vendor_info: Mapping[str, Any]) -> RateLimit | None:
        """The vendor's limit from `VENDOR["rate_limit"]`, or None when it declares none."""
        spec = vendor_info.get("rate_limit")
        if not spec:
            return None
        return cls(
            requests=int(spec["requests"]),
            per_seconds=float(spec["per_seconds"]),
            remaining_header=spec.get("remaining_header"),
            warn_below=spec.get("warn_below"),
        )


_LIMIT_RE = re.compile(r"([0-9]+)\s*/\s*([0-9]+(?:\.[0-9]+)?)\s*s?")
RATE_LIMIT_OFF = "off"


def parse_rate_limit(text: str) -> RateLimit | None:
    """`"100/1"` or `"25/5s"` (requests per seconds) as a `RateLimit`; `"off"` as None (no limit).

    Raises ValueError naming the accepted forms for anything else."""
    value = text.strip().lower()
    if value == RATE_LIMIT_OFF:
        return None
    match = _LIMIT_RE.fullmatch(value)
    if match is None or int(match[1]) < 1 or float(match[2]) <= 0:
        raise ValueError(
            f"rate limit {text!r} is not N/S (N >= 1 requests per S > 0 seconds, e.g. 100/1 or 25/5s) "
            f"or {RATE_LIMIT_OFF!r}"
        )
    return RateLimit(int(match[1]), float(match[2]))


_MIN_WAIT = 1e-6


class SlidingWindow:
    """At most `requests` grants in any `per_seconds`; `try_acquire` never blocks."""

    def __init__(self, requests: int, per_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.requests = requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._grants: deque[float] = deque(maxlen=requests)
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a slot now and return 0.0, or return how many seconds until one frees up."""
        with self._lock:
            now = self._clock()
            if self._grants:
                now = max(now, self._grants[-1])  # never record out of order
            if len(self._grants) < self.requests:
                self._grants.append(now)
                return 0.0
            age = now - self._grants[0]
            if age >= self.per_seconds:
                self._grants.append(now)  # maxlen drops the oldest
                return 0.0
            # at least a microsecond, so that a caller adding the wait to a float clock moves it
            return max(self.per_seconds - age, _MIN_WAIT)


_shared: dict[tuple[str, int, float], SlidingWindow] = {}
_shared_lock = threading.Lock()


def shared_window(vendor: str, limit: RateLimit) -> SlidingWindow:
    """The process-wide window for `vendor` (monotonic clock), created on first use."""
    key = (vendor, limit.requests, limit.per_seconds)
    with _shared_lock:
        window = _shared.get(key)
        if window is None:
            window = _shared[key] = SlidingWindow(limit.requests, limit.per_seconds)
        return window


class BudgetMonitor:
    """Warns when the vendor's remaining-budget header drops below a threshold (once per dip)."""

    def __init__(self, vendor: str, header: str, threshold: int) -> None:
        self.vendor = vendor
        self.header = header
        self.threshold = threshold
        self._low = False

    def observe(self, response: httpx.Response) -> None:
        raw = response.headers.get(self.header)
        if raw is None:
            return
        try:
            remaining = int(raw.strip())
        except ValueError:
            return
        if remaining < self.threshold:
            if not self._low:
                self._low = True
                logger.warning(
                    "%s rate limit nearly used up: %s=%d (warning below %d); requests will slow down",
                    self.vendor,
                    self.header,
                    remaining,
                    self.threshold,
                )
        else:
            self._low = False


def _add_wait(request: httpx.Request, waited: float) -> None:
    request.extensions[RATE_LIMIT_WAIT_KEY] = request.extensions.get(RATE_LIMIT_WAIT_KEY, 0.0) + waited


class RateLimitTransport(httpx.BaseTransport):
    """Sync wrapper: waits for a slot in `window` before each request it passes on."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        window: SlidingWindow,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monitor: BudgetMonitor | None = None,
    ) -> None:
        self._transport = transport
        self._window = window
        self._sleep = sleep
        self._monitor = monitor
        self._queue = threading.Lock()

    def acquire(self) -> float:
        waited = 0.0
        with self._queue:
            while (wait := self._window.try_acquire()) > 0:
                self._sleep(wait)
                waited += wait
        return waited

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _add_wait(request, self.acquire())
        response = self._transport.handle_request(request)
        if self._monitor is not None:
            self._monitor.observe(response)
        return response

    def close(self) -> None:
        self._transport.close()


class AsyncRateLimitTransport(httpx.AsyncBaseTransport):
    """Async twin of `RateLimitTransport`; waiters are served in arrival order."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        window: SlidingWindow,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        monitor: BudgetMonitor | None = None,
    ) -> None:
        self._transport = transport
        self._window = window
        self._sleep = sleep
        self._monitor = monitor
        self._queue = anyio.Lock()

    async def acquire(self) -> float:
        waited = 0.0
        async with self._queue:
            while (wait := self._window.try_acquire()) > 0:
                await self._sleep(wait)
                waited += wait
        return waited

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _add_wait(request, await self.acquire())
        response = await self._transport.handle_async_request(request)
        if self._monitor is not None:
            self._monitor.observe(response)
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()
