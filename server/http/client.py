"""Build the configured httpx client for a vendor: one call for MCP tools and the typed SDK alike.

    auth (httpx.Auth)  ->  RetryTransport  ->  RateLimitTransport  ->  network transport

Rate limiting sits under retry, so each attempt (a re-sent GET as much as the first one) waits for
and takes its own slot; with the limiter above retry, re-sends would bypass the vendor's budget
and could burst past it exactly when the vendor is already struggling. Auth is the client's
`auth=`, so a token request it yields goes through the same retry and rate-limit layers.

Settings, strongest first: the keyword argument, the environment (`LEDGERMCP_<VENDOR>_BASE_URL`,
`LEDGERMCP_<VENDOR>_TIMEOUT_MS`, `LEDGERMCP_<VENDOR>_RATE_LIMIT`), the vendor table
(`VENDOR["base_url"]`, `VENDOR["rate_limit"]`), the default (30 s; no rate limit).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx

import ledgermcp
from ledgermcp.server.http.auth import auth_from_vendor
from ledgermcp.server.http.env import env_names, env_value
from ledgermcp.server.http.errors import StackError
from ledgermcp.server.http.ratelimit import (
    AsyncRateLimitTransport,
    BudgetMonitor,
    RateLimit,
    RateLimitTransport,
    SlidingWindow,
    parse_rate_limit,
    shared_window,
)
from ledgermcp.server.http.redact import install_log_redaction
from ledgermcp.server.http.retry import AsyncRetryTransport, RetryPolicy, RetryRoutes, RetryTransport

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"ledgermcp/{ledgermcp.__version__}"


class SettingsError(StackError):
    """A malformed setting (base URL, timeout)."""


def resolve_base_url(
    vendor_info: Mapping[str, Any], base_url: str | None = None, *, env: Mapping[str, str] = os.environ
) -> str:
    url = base_url or env_value(vendor_info, "base_url", env) or vendor_info.get("base_url")
    if not url:
        names = " or ".join(env_names(vendor_info, "base_url"))
        raise SettingsError(f"no base URL for {vendor_info.get('name')!r}; set {names}", hint=f"Set {names}.")
    return str(url)


def resolve_timeout(
    vendor_info: Mapping[str, Any],
    timeout: float | httpx.Timeout | None = None,
    *,
    env: Mapping[str, str] = os.environ,
) -> httpx.Timeout:
    """`timeout` in seconds (e.g. from `--timeout`), else `_TIMEOUT_MS`, else 30 s."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is not None:
        seconds = float(timeout)
    else:
        raw = env_value(vendor_info, "timeout_ms", env)
        if raw is None:
            return httpx.Timeout(DEFAULT_TIMEOUT)
        try:
            seconds = float(raw) / 1000
        except ValueError:
            raise SettingsError(
                f"timeout {raw!r} is not a number of milliseconds",
                hint=f"Set {env_names(vendor_info, 'timeout_ms')[0]} to e.g. 30000.",
            ) from None
    if seconds <= 0:
        raise SettingsError(f"timeout must be positive, got {seconds:g} s")
    return httpx.Timeout(seconds)


def resolve_rate_limit(
    vendor_info: Mapping[str, Any],
    rate_limit: RateLimit | None = None,
    *,
    env: Mapping[str, str] = os.environ,
) -> RateLimit | None:
    """`rate_limit`, else `_RATE_LIMIT` (`N/S` or `off`), else `VENDOR["rate_limit"]`; None: no limit.

    An override keeps the vendor's remaining-budget header, so the low-budget warning still works
    on a bigger plan."""
    if rate_limit is not None:
        return rate_limit
    vendor_limit = RateLimit.from_vendor(vendor_info)
    raw = env_value(vendor_info, "rate_limit", env)
    if raw is None:
        return vendor_limit
    name = next(n for n in env_names(vendor_info, "rate_limit") if (env.get(n) or "").strip())
    try:
        limit = parse_rate_limit(raw)
    except ValueError as exc:
        raise SettingsError(
            f"{name}: {exc}",
            hint=f"Set {name} to e.g. 100/1 (100 requests per second), 25/5s, or off.",
        ) from None
    if limit is None or vendor_limit is None:
        return limit
    return dataclasses.replace(vendor_limit, requests=limit.requests, per_seconds=limit.per_seconds)


def _window(
    vendor_info: Mapping[str, Any], limit: RateLimit | None, clock: Callable[[], float] | None
) -> SlidingWindow | None:
    if limit is None:
        return None
    if clock is None:
        return shared_window(str(vendor_info["name"]), limit)
    return SlidingWindow(limit.requests, limit.per_seconds, clock=clock)


def _monitor(vendor_info: Mapping[str, Any], limit: RateLimit | None) -> BudgetMonitor | None:
    if limit is None or not limit.remaining_header:
        return None
    return BudgetMonitor(str(vendor_info["name"]), limit.remaining_header, limit.warn_threshold)


class _DeferredNetwork(httpx.AsyncBaseTransport):
    """httpx's network transport, built on the first request: building it loads the CA bundle
    into an SSL context (tens of milliseconds), which a server should not pay before it can
    answer `tools/list`."""

    def __init__(self) -> None:
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport()
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


def _common(
    vendor_info: Mapping[str, Any],
    auth: httpx.Auth | None,
    base_url: str | None,
    timeout: float | httpx.Timeout | None,
    env: Mapping[str, str],
    clock: Callable[[], float] | None,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    install_log_redaction()
    if auth is None:
        auth = auth_from_vendor(vendor_info, env=env, clock=clock or time.monotonic)
    return {
        "auth": auth,
        "base_url": resolve_base_url(vendor_info, base_url, env=env),
        "timeout": resolve_timeout(vendor_info, timeout, env=env),
        "headers": {"User-Agent": USER_AGENT, **(headers or {})},
    }


def build_async_client(
    vendor_info: Mapping[str, Any],
    *,
    auth: httpx.Auth | None = None,
    base_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    env: Mapping[str, str] = os.environ,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    wall_clock: Callable[[], float] = time.time,
    jitter: Callable[[], float] = random.random,
    retry: RetryPolicy | None = None,
    retry_routes: RetryRoutes | None = None,
    rate_limit: RateLimit | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for the vendor with auth, retries and its rate limit.

    `auth` replaces the environment-derived auth (e.g. an OAuth2 flow with token rotation);
    `transport` replaces the network (tests pass `httpx.MockTransport`). `clock` (monotonic
    seconds) and `sleep` let tests run without waiting; with the default clock the vendor's rate
    window is shared by every client of the process. `rate_limit` overrides `_RATE_LIMIT` and
    `VENDOR["rate_limit"]` (`resolve_rate_limit`). `retry_routes` tells the retry layer which
    operations may be repeated for requests that do not say so themselves (the typed SDK's).
    """
    options = _common(vendor_info, auth, base_url, timeout, env, clock, headers)
    limit = resolve_rate_limit(vendor_info, rate_limit, env=env)
    stack: httpx.AsyncBaseTransport = transport or _DeferredNetwork()
    window = _window(vendor_info, limit, clock)
    if window is not None:
        stack = AsyncRateLimitTransport(stack, window, sleep=sleep, monitor=_monitor(vendor_info, limit))
    stack = AsyncRetryTransport(
        stack, retry, clock=clock or time.monotonic, sleep=sleep, wall_clock=wall_clock, jitter=jitter,
        routes=retry_routes,
    )  # fmt: skip
    return httpx.AsyncClient(transport=stack, **options)


def build_sync_client(
    vendor_info: Mapping[str, Any],
    *,
    auth: httpx.Auth | None = None,
    base_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] = os.environ,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], float] = time.time,
    jitter: Callable[[], float] = random.random,
    retry: RetryPolicy | None = None,
    retry_routes: RetryRoutes | None = None,
    rate_limit: RateLimit | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """The sync twin of `build_async_client` (same arguments, sync transport and sleep)."""
    options = _common(vendor_info, auth, base_url, timeout, env, clock, headers)
    limit = resolve_rate_limit(vendor_info, rate_limit, env=env)
    stack: httpx.BaseTransport = transport or httpx.HTTPTransport()
    window = _window(vendor_info, limit, clock)
    if window is not None:
        stack = RateLimitTransport(stack, window, sleep=sleep, monitor=_monitor(vendor_info, limit))
    stack = RetryTransport(
        stack, retry, clock=clock or time.monotonic, sleep=sleep, wall_clock=wall_clock, jitter=jitter,
        routes=retry_routes,
    )  # fmt: skip
    return httpx.Client(transport=stack, **options)
