"""One JSON line per tool call on stderr, and the bookkeeping that feeds it (no `mcp` import).

A line holds the tool, how the call ended (`ok`, `error` with its stable code, or `stopped` by a
gate such as a dry-run or an approval), the vendor's HTTP status, the duration and the number of
re-sends made by the retry layer (`ledgermcp.retries` in the httpx request/response extensions).
It never holds argument values, headers, URLs with queries or credentials.

`install(pipeline, ...)` wires it in without touching the pipeline's core:
- a first gate remembers the running `Call` in a context variable (and never stops a call);
- `TrackedUpstream` wraps the pipeline's `Upstream`; it notes the status and retries of the call's
  own request and can send that one request with a per-call `httpx.Auth` (forwarded credentials);
- an `after` observer writes the line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import httpx

from ledgermcp.server.calls import Call, CallPipeline, Upstream
from ledgermcp.server.render import ToolResult

LOGGER_NAME = "ledgermcp.calls"
_CURRENT: contextvars.ContextVar[Call | None] = contextvars.ContextVar("ledgermcp_call", default=None)

STATUS_KEY = "log.http_status"
RETRIES_KEY = "log.retries"
CREDENTIALS_KEY = "log.upstream_credentials"

AuthFor = Callable[[Call], "httpx.Auth | None"]


def current_call() -> Call | None:
    """The tool call running in this task, if any (set by the gate `install` adds)."""
    return _CURRENT.get()


class TrackedUpstream(Upstream):
    """Wraps an `Upstream`: notes status and retries of each call's own request; optionally sends
    it with a per-call auth (`auth_for(call)` returns an `httpx.Auth`, or None for the default)."""

    def __init__(self, inner: Upstream, auth_for: AuthFor | None = None) -> None:
        super().__init__(inner.client, inner.binder)
        self.inner = inner
        self.auth_for = auth_for

    async def send(self, request: Any) -> Any:
        from ledgermcp.server.http.errors import retries_of

        call = _CURRENT.get()
        own = call is not None and call.request is request
        auth = self.auth_for(call) if (own and self.auth_for is not None) else None
        try:
            if auth is None:
                response = await self.inner.send(request)
            else:
                built = request.build(self.client)
                if self.binder is not None:
                    self.binder.apply(built, request.tool)
                response = await self.client.send(built, auth=auth)
        except Exception as exc:
            if own:
                call.extras[RETRIES_KEY] = _retries_of_error(exc)  # type: ignore[union-attr]
            raise
        if own:
            call.extras[STATUS_KEY] = int(response.status_code)  # type: ignore[union-attr]
            call.extras[RETRIES_KEY] = retries_of(response) if isinstance(response, httpx.Response) else 0  # type: ignore[union-attr]
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _retries_of_error(exc: BaseException) -> int:
    try:
        from ledgermcp.server.http.errors import classify_exception

        return int(classify_exception(exc).retries or 0)
    except Exception:
        return 0


def _outcome(result: Any) -> tuple[str, str | None]:
    if isinstance(result, ToolResult):
        if not result.is_error:
            return "ok", None
        error = (result.structured or {}).get("error") or {}
        return "error", str(error.get("code") or "ERROR")
    return "stopped", None


def call_record(call: Call, result: Any, vendor: str, now: float | None = None) -> dict[str, Any]:
    """The log line's fields: names, codes and numbers only."""
    status, code = _outcome(result)
    ended = time.monotonic() if now is None else now
    retries = call.extras.get(RETRIES_KEY, 0)
    if not retries and isinstance(result, ToolResult) and result.is_error:
        details = ((result.structured or {}).get("error") or {}).get("details") or {}
        retries = details.get("retries", 0) if isinstance(details, dict) else 0
    return {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": "tool_call",
        "vendor": vendor,
        "tool": call.name,
        "status": status,
        "code": code,
        "http_status": call.extras.get(STATUS_KEY),
        "duration_ms": round((ended - call.started) * 1000, 1),
        "retries": int(retries or 0),
        "upstream_credentials": call.extras.get(CREDENTIALS_KEY, "server"),
    }


def json_logger(stream: IO[str] | None = None) -> logging.Logger:
    """The `ledgermcp.calls` logger writing bare JSON lines to `stream` (stderr by default)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def install(
    pipeline: CallPipeline,
    *,
    stream: IO[str] | None = None,
    logger: logging.Logger | None = None,
    auth_for: AuthFor | None = None,
    on_call: Callable[[Call], None] | None = None,
) -> TrackedUpstream:
    """Add call tracking and the JSON call log to `pipeline`; returns the wrapping upstream.

    `on_call(call)` runs first for every call (e.g. to note per-request credentials in
    `call.extras`); `auth_for(call)` picks a per-call auth for the call's own request."""
    log = logger or json_logger(stream)
    vendor = pipeline.vendor.name

    async def remember(call: Call) -> None:
        _CURRENT.set(call)
        if on_call is not None:
            on_call(call)
        return None

    async def write(call: Call, result: Any) -> None:
        log.info(json.dumps(call_record(call, result, vendor), separators=(",", ":")))
        if _CURRENT.get() is call:
            _CURRENT.set(None)

    upstream = pipeline.upstream
    tracked = upstream if isinstance(upstream, TrackedUpstream) else TrackedUpstream(upstream, auth_for)
    tracked.auth_for = auth_for
    pipeline.upstream = tracked
    pipeline.gates.insert(0, remember)
    pipeline.after.append(write)
    return tracked
