"""Classify what went wrong on the wire into a few stable codes.

The MCP layer maps HTTP statuses (401, 403, 404, 422, ...) itself; this module only covers what
the HTTP stack knows better: transport failures (did the request's bytes possibly leave?), the
vendor's 429 after our retries, and auth set-up problems raised by `auth.py`.
"""

from __future__ import annotations

import email.utils
import enum
import time
from dataclasses import dataclass

import httpx

from ledgermcp.server.http.redact import redact

# request/response extension keys written by the stack
RETRIES_KEY = "ledgermcp.retries"  # int: attempts re-sent by the retry layer
# bool, on a request: whether its operation may be sent again after an error answer (the tool
# table's `facts.retry`); absent on requests no operation describes (token requests)
RETRY_SAFE_KEY = "ledgermcp.retry_safe"
RATE_LIMIT_WAIT_KEY = "ledgermcp.rate_limit_wait"  # float: seconds queued by the rate limiter

# Methods whose effect does not depend on how many times they arrive.
# For requests no operation describes (token requests and the like): what HTTP promises.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Methods that change nothing; a failure of these never needs the "may have happened" warning.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Transport errors raised before any byte of the request can have left this process.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


class Code(enum.StrEnum):
    TIMEOUT = "TIMEOUT"
    NETWORK_ERROR = "NETWORK_ERROR"
    RATE_LIMITED = "RATE_LIMITED"
    UNAUTHORIZED = "UNAUTHORIZED"
    CONFIG_ERROR = "CONFIG_ERROR"


class StackError(Exception):
    """Base for errors the stack raises itself; carries a stable code and a hint."""

    code: Code = Code.CONFIG_ERROR

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(redact(message))
        self.hint = redact(hint)


class TokenRequestError(StackError):
    """The OAuth2 token endpoint refused or answered something unusable."""

    code = Code.UNAUTHORIZED


@dataclass(frozen=True)
class Failure:
    """A classified failure: what the MCP layer reports (`code`, `message`, `hint`)."""

    code: Code
    message: str
    hint: str = ""
    may_have_been_sent: bool = False  # a write may have reached (and changed) the vendor
    retries: int = 0
    retry_after: float | None = None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:  # HTTP dates are always GMT; anything else is junk
        return None
    return max(0.0, when.timestamp() - now)


def may_have_left(exc: BaseException) -> bool:
    """Whether the request's bytes may have reached the server when `exc` was raised."""
    return not isinstance(exc, NOT_SENT_ERRORS)


def retries_of(obj: httpx.Request | httpx.Response | None) -> int:
    """How many times the retry layer re-sent the request (0 when unknown)."""
    if obj is None:
        return 0
    return int(obj.extensions.get(RETRIES_KEY, 0))


def _request_of(exc: BaseException) -> httpx.Request | None:
    if isinstance(exc, httpx.RequestError):
        try:
            return exc.request
        except RuntimeError:  # raised outside a client: no request attached
            return None
    return None


def _where(request: httpx.Request | None) -> str:
    # method and path only: query strings can carry an API key
    if request is None:
        return "the request"
    return f"{request.method} {request.url.path}"


WRITE_HINT = (
    "The connection failed after the request may have been sent, so the change may have been applied. "
    "Read the record back before trying again; do not simply repeat the call."
)


def classify_exception(exc: BaseException) -> Failure:
    """A `Failure` for an exception raised while sending a request through the stack."""
    if isinstance(exc, StackError):
        return Failure(code=exc.code, message=str(exc), hint=exc.hint)

    request = _request_of(exc)
    method = request.method if request is not None else ""
    retries = retries_of(request)
    sent = may_have_left(exc)
    write_maybe_applied = sent and method not in SAFE_METHODS
    detail = redact(str(exc)) or type(exc).__name__

    if isinstance(exc, httpx.TimeoutException):
        if write_maybe_applied:
            hint = "The vendor did not answer in time. " + WRITE_HINT
        else:
            hint = "The vendor did not answer in time; try again later or raise the timeout (--timeout)."
        return Failure(
            code=Code.TIMEOUT,
            message=f"{_where(request)} timed out ({type(exc).__name__})",
            hint=hint,
            may_have_been_sent=write_maybe_applied,
            retries=retries,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Failure(
            code=Code.CONFIG_ERROR,
            message=f"{_where(request)}: {detail}",
            hint="Check the vendor's base URL (LEDGERMCP_<VENDOR>_BASE_URL).",
        )
    if isinstance(exc, httpx.TransportError):
        if write_maybe_applied:
            hint = WRITE_HINT
        elif sent:
            hint = "The connection to the vendor broke; try again."
        else:
            hint = "Could not connect to the vendor; check the network and the base URL."
        return Failure(
            code=Code.NETWORK_ERROR,
            message=f"{_where(request)} failed: {detail}",
            hint=hint,
            may_have_been_sent=write_maybe_applied,
            retries=retries,
        )
    return Failure(code=Code.NETWORK_ERROR, message=f"{_where(request)} failed: {detail}", retries=retries)


def classify_rate_limited(response: httpx.Response, *, now: float | None = None) -> Failure | None:
    """A RATE_LIMITED `Failure` for a 429 the retry layer handed back, else None."""
    if response.status_code != 429:
        return None
    wall = time.time() if now is None else now
    after = parse_retry_after(response.headers.get("Retry-After"), now=wall)
    hint = "The vendor's rate limit was hit"
    hint += f"; it asks to wait {after:.0f} s." if after is not None else "; wait a moment and try again."
    return Failure(
        code=Code.RATE_LIMITED,
        message=f"{_where(response.request)} was rate limited by the vendor (HTTP 429)",
        hint=hint,
        retries=retries_of(response),
        retry_after=after,
    )
