"""Retries as a transport wrapper; every decision is made by the pure function `decide`.

Rules:
- only connect errors, 408, 429 and 5xx are retried;
- a retryable status is retried only for a request whose operation may be repeated (the tool
  table's `facts.retry`, carried on the request as `RETRY_SAFE_KEY`, or found by method and path
  through `RetryRoutes` for the typed SDK) and whose body can be sent again: a GET that sends an
  e-mail is never re-sent, a PUT that books an invoice neither. A request no operation describes
  (a token request) falls back to its method (GET, HEAD, OPTIONS, PUT, DELETE);
- a connect error proves nothing left, so it is retried for every method, POST included; any
  other transport error (read/write error, dropped connection, timeout) is raised at once, with a
  note on writes that the change may have happened (`errors.classify_exception` reports it);
- `Retry-After` (seconds or an HTTP date) is honoured when it is within `max_retry_after`; a longer
  wait is not attempted and the response goes back to the caller (RATE_LIMITED with the wait);
- otherwise exponential backoff with full jitter, capped at `max_backoff`;
- at most `max_attempts` attempts and no retry that would end after `max_elapsed` seconds.

The number of re-sends is written to `request.extensions` and `response.extensions` under
`errors.RETRIES_KEY`, so a log line can report it even when the request finally fails.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from ledgermcp.server.http.errors import (
    IDEMPOTENT_METHODS,
    RETRIES_KEY,
    RETRY_SAFE_KEY,
    may_have_left,
    parse_retry_after,
)

logger = logging.getLogger("ledgermcp.http.retry")

RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # first attempt included
    base_backoff: float = 0.5  # seconds; attempt n waits up to base * 2**(n-1)
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # longest server-requested wait we sit out
    max_elapsed: float = 120.0  # no retry may end later than this after the first attempt began

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float = 0.0
    reason: str = ""


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def decide(
    *,
    method: str,
    attempt: int,
    elapsed: float,
    policy: RetryPolicy,
    status: int | None = None,
    retry_after: str | None = None,
    error: BaseException | None = None,
    replayable: bool = True,
    safe: bool | None = None,
    now: float = 0.0,
    jitter: Callable[[], float] = random.random,
) -> Decision:
    """Whether to send the request again, and after how long.

    `attempt` is the number of attempts made so far (1 after the first), `elapsed` the seconds since
    the first attempt began, `status`/`retry_after` describe a response, `error` a transport error
    (exactly one of the two), `now` is the wall clock (epoch seconds, for HTTP-date `Retry-After`),
    `jitter` returns a float in [0, 1), and `safe` says whether the request's operation may be
    repeated (None: not known, the method decides).
    """
    if attempt >= policy.max_attempts:
        return Decision(False, reason="attempts exhausted")

    method = method.upper()
    if error is not None:
        if not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return Decision(False, reason=f"{type(error).__name__} is not retried")
        # Nothing left on a connect error (not even a streamed body's first chunk), so any method
        # may go again, even a POST.
        server_wait: float | None = None
    else:
        if status is None or not is_retryable_status(status):
            return Decision(False, reason="not a retryable status")
        if safe is False:
            return Decision(False, reason="the operation is not safe to repeat")
        if safe is None and method not in IDEMPOTENT_METHODS:
            return Decision(False, reason=f"{method} is not idempotent")
        if not replayable:
            return Decision(False, reason="request body cannot be sent twice")
        server_wait = parse_retry_after(retry_after, now=now)

    if server_wait is not None:
        if server_wait > policy.max_retry_after:
            return Decision(False, reason=f"Retry-After {server_wait:.0f}s exceeds the cap")
        delay = server_wait
        reason = f"Retry-After {server_wait:g}s"
    else:
        ceiling = min(policy.max_backoff, policy.base_backoff * (2 ** (attempt - 1)))
        delay = ceiling * jitter()
        reason = "backoff"

    if elapsed + delay > policy.max_elapsed:
        return Decision(False, reason="time budget exhausted")
    what = f"status {status}" if error is None else type(error).__name__
    return Decision(True, delay=delay, reason=f"{what}; {reason}")


def _replayable(request: httpx.Request) -> bool:
    # bytes, json=, data= bodies are ByteStream and can be sent again; a generator cannot
    return isinstance(request.stream, httpx.ByteStream)


def _record(request: httpx.Request, response: httpx.Response | None, retries: int) -> None:
    request.extensions[RETRIES_KEY] = retries
    if response is not None:
        response.extensions[RETRIES_KEY] = retries


def _note_write_risk(exc: BaseException, request: httpx.Request) -> None:
    if request.method.upper() not in {"GET", "HEAD", "OPTIONS"} and may_have_left(exc):
        exc.add_note("the request may have reached the vendor; the write may have happened")


class _RetryBase:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        routes: RetryRoutes | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._routes = routes
        self._clock = clock
        self._wall_clock = wall_clock
        self._jitter = jitter

    def _decide(
        self,
        request: httpx.Request,
        attempt: int,
        start: float,
        replayable: bool,
        response: httpx.Response | None = None,
        error: BaseException | None = None,
    ) -> Decision:
        decision = decide(
            method=request.method,
            attempt=attempt,
            elapsed=self._clock() - start,
            policy=self.policy,
            status=response.status_code if response is not None else None,
            retry_after=response.headers.get("Retry-After") if response is not None else None,
            error=error,
            replayable=replayable,
            safe=self._safe(request),
            now=self._wall_clock(),
            jitter=self._jitter,
        )
        if decision.retry:
            logger.info(
                "retrying %s %s in %.2fs (attempt %d of %d): %s",
                request.method,
                request.url.path,
                decision.delay,
                attempt + 1,
                self.policy.max_attempts,
                decision.reason,
            )
        return decision

    def _safe(self, request: httpx.Request) -> bool | None:
        safe = request.extensions.get(RETRY_SAFE_KEY)
        if safe is None and self._routes is not None:
            safe = self._routes.safe(request.method, request.url.path)
        return None if safe is None else bool(safe)


class RetryRoutes:
    """Which operations may be repeated, found by method and path: for requests that do not carry
    the fact themselves (the typed SDK's generated calls). Built from the tool table."""

    def __init__(self, tools: Iterable[Mapping[str, Any]], base_path: str = "") -> None:
        self._base = base_path.rstrip("/")
        self._routes: list[tuple[str, re.Pattern[str], bool]] = []
        for tool in tools:
            binding, facts = tool["binding"], tool.get("facts") or {}
            if "retry" not in facts:
                continue
            pattern = "".join(
                "[^/]+" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}]+\})", str(binding["path"]))
                if part
            )
            # literal paths before templated ones: /invoices/bulk is not /invoices/{id}
            self._routes.append(
                (str(binding["method"]).upper(), re.compile(pattern + "/?"), bool(facts["retry"]))
            )
        self._routes.sort(key=lambda r: r[1].pattern.count("[^/]+"))

    def safe(self, method: str, path: str) -> bool | None:
        if self._base and path.startswith(self._base):
            path = path[len(self._base) :]
        for route_method, pattern, safe in self._routes:
            if route_method == method.upper() and pattern.fullmatch(path):
                return safe
        return None


class RetryTransport(_RetryBase, httpx.BaseTransport):
    """Sync transport wrapper that re-sends a request when `decide` says so."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        routes: RetryRoutes | None = None,
    ) -> None:
        super().__init__(policy, clock=clock, wall_clock=wall_clock, jitter=jitter, routes=routes)
        self._transport = transport
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = self._clock()
        # judged before the first attempt: a transport that reads a streamed body may swap it
        replayable = _replayable(request)
        attempt = 0
        while True:
            attempt += 1
            _record(request, None, attempt - 1)
            try:
                response = self._transport.handle_request(request)
            except httpx.TransportError as exc:
                decision = self._decide(request, attempt, start, replayable, error=exc)
                if not decision.retry:
                    _note_write_risk(exc, request)
                    raise
                self._sleep(decision.delay)
                continue
            decision = self._decide(request, attempt, start, replayable, response=response)
            if not decision.retry:
                _record(request, response, attempt - 1)
                return response
            response.close()
            self._sleep(decision.delay)

    def close(self) -> None:
        self._transport.close()


class AsyncRetryTransport(_RetryBase, httpx.AsyncBaseTransport):
    """Async twin of `RetryTransport`."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        routes: RetryRoutes | None = None,
    ) -> None:
        super().__init__(policy, clock=clock, wall_clock=wall_clock, jitter=jitter, routes=routes)
        self._transport = transport
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = self._clock()
        # judged before the first attempt: a transport that reads a streamed body may swap it
        replayable = _replayable(request)
        attempt = 0
        while True:
            attempt += 1
            _record(request, None, attempt - 1)
            try:
                response = await self._transport.handle_async_request(request)
            except httpx.TransportError as exc:
                decision = self._decide(request, attempt, start, replayable, error=exc)
                if not decision.retry:
                    _note_write_risk(exc, request)
                    raise
                await self._sleep(decision.delay)
                continue
            decision = self._decide(request, attempt, start, replayable, response=response)
            if not decision.retry:
                _record(request, response, attempt - 1)
                return response
            await response.aclose()
            await self._sleep(decision.delay)

    async def aclose(self) -> None:
        await self._transport.aclose()
