"""Stable error codes for tool results, with the vendor's own message and a hint to act on.

Every failure a tool call can meet ends up as a `ToolFailure`; the MCP app renders it as an
`isError` result. Nothing here imports `mcp`. Messages pass through `scrub`, so credentials the
server knows about, bearer tokens and API-key-looking values never reach a result.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.server.http.errors import parse_retry_after

UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
VALIDATION_ERROR = "VALIDATION_ERROR"
RATE_LIMITED = "RATE_LIMITED"
UPSTREAM_ERROR = "UPSTREAM_ERROR"
TIMEOUT = "TIMEOUT"
NETWORK_ERROR = "NETWORK_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"

CODES = (
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    CONFLICT,
    VALIDATION_ERROR,
    RATE_LIMITED,
    UPSTREAM_ERROR,
    TIMEOUT,
    NETWORK_ERROR,
    INTERNAL_ERROR,
)

MAX_MESSAGE = 600


@dataclass
class ToolFailure(Exception):
    """A tool call that did not succeed, in terms a model can act on."""

    code: str
    message: str
    hint: str = ""
    status: int | None = None
    vendor_message: str | None = None
    sent: bool = False  # whether a request reached (or may have reached) the vendor
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.status is not None:
            out["status"] = self.status
        if self.vendor_message:
            out["vendor_message"] = self.vendor_message
        out["request_sent"] = self.sent
        out.update(self.details)
        return out

    def text(self) -> str:
        parts = [f"{self.code}: {self.message}"]
        if self.vendor_message and self.vendor_message not in self.message:
            parts.append(f"Vendor says: {self.vendor_message}")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        if not self.sent:
            parts.append("Nothing was sent to the vendor.")
        return "\n".join(parts)


# --- secrets ------------------------------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(
        r"(?i)((?:access|refresh|id)[_-]?token|api[_-]?key|client[_-]?secret|password|authorization)"
        r"(\"?\s*[:=]\s*\"?)([^\s\"',;&]{4,})"
    ),
]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values and anything shaped like a credential; cap the length."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    from ledgermcp.server.http.redact import redact  # every credential the HTTP stack has read

    text = redact(text)
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + " ..."
    return text


# --- vendor error bodies ------------------------------------------------------------------

_MESSAGE_KEYS = ("message", "Message", "error_description", "detail", "title", "error", "Error", "errors")


def _message_from(data: Any, depth: int = 0) -> str | None:
    if depth > 4 or data is None:
        return None
    if isinstance(data, str):
        return data.strip() or None
    if isinstance(data, list):
        msgs = [m for m in (_message_from(x, depth + 1) for x in data[:5]) if m]
        return "; ".join(msgs) or None
    if isinstance(data, dict):
        # Fortnox: {"ErrorInformation": {"Error": 1, "Message": "...", "Code": 2000423}}
        for wrapper in ("ErrorInformation", "errorInformation"):
            if isinstance(data.get(wrapper), dict):
                return _message_from(data[wrapper], depth + 1)
        for key in _MESSAGE_KEYS:
            value = data.get(key)
            if isinstance(value, (str, list, dict)):
                msg = _message_from(value, depth + 1)
                if msg:
                    field_name = data.get("field") or data.get("property")
                    return f"{field_name}: {msg}" if isinstance(field_name, str) else msg
        return None
    return None


def vendor_message(body: bytes, content_type: str) -> str | None:
    """The vendor's own words from an error body, JSON or text."""
    if not body:
        return None
    text = body[:20000].decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return _message_from(json.loads(text))
        except ValueError:
            pass
    if content_type.startswith("text/") and "<html" not in text[:200].lower():
        return " ".join(text.split())[:MAX_MESSAGE] or None
    return None


# --- hints --------------------------------------------------------------------------------


def credentials_hint(vendor: str, env_names: list[str]) -> str:
    names = ", ".join(env_names) if env_names else f"LEDGERMCP_{vendor.upper()}_ACCESS_TOKEN"
    return (
        f"Provide credentials: set one of {names} in the server's environment, "
        f"or run `ledgermcp login {vendor}`; then restart the server."
    )


# The one table from a vendor's HTTP status to a stable code; what is not here is UPSTREAM_ERROR.
STATUS_CODES: dict[int, str] = {
    400: VALIDATION_ERROR,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    408: TIMEOUT,
    409: CONFLICT,
    422: VALIDATION_ERROR,
    429: RATE_LIMITED,
    504: TIMEOUT,
}


def code_of_status(status: int) -> str:
    return STATUS_CODES.get(status, UPSTREAM_ERROR)


def from_status(
    status: int,
    *,
    tool: Mapping[str, Any],
    vendor: str,
    message: str | None,
    path_values: Iterable[tuple[str, str]] = (),
    retry_after: str | None = None,
    credential_env: list[str] | None = None,
    has_credentials: bool = True,
) -> ToolFailure:
    """Map an HTTP error status to a stable code (STATUS_CODES), with what happened and a hint."""
    name = tool.get("name", "?")
    code = code_of_status(status)
    details: dict[str, Any] = {}
    if code == UNAUTHORIZED:
        what = "the vendor rejected the credentials" if has_credentials else "no credentials are configured"
        said, hint = f"{what} (HTTP 401)", credentials_hint(vendor, credential_env or [])
    elif code == FORBIDDEN:
        scopes = [str(s) for s in tool.get("scopes") or []]
        details["required_scopes"] = scopes
        said = "permission denied (HTTP 403)"
        if scopes:
            hint = (
                f"This operation needs the scope(s) {', '.join(scopes)}; grant them to the integration "
                f"(re-authorise with `ledgermcp login {vendor}`) or ask the account owner for access."
            )
        else:
            hint = "The account or integration lacks permission for this operation; ask the account owner."
    elif code == NOT_FOUND:
        ids = list(path_values)
        if ids:
            details["not_found"] = dict(ids)
            said = f"nothing found for {', '.join(f'{k}={v!r}' for k, v in ids)} (HTTP 404)"
            hint = "Check the id; a list tool of the same group shows which ids exist."
        else:
            said = "the vendor answered 404 Not Found"
            hint = "The resource or feature does not exist for this account."
    elif code == CONFLICT:
        said = "the change conflicts with the current state (HTTP 409)"
        hint = "Read the entity again and retry with its current values."
    elif code == VALIDATION_ERROR:
        said = f"the vendor rejected the request (HTTP {status})"
        hint = "Correct the arguments the vendor's message names and call again."
    elif code == RATE_LIMITED:
        seconds = parse_retry_after(retry_after, now=time.time())
        if seconds is not None:
            details["retry_after_seconds"] = seconds
        said = "the vendor's rate limit was reached (HTTP 429)"
        hint = f"Retry after {seconds:.0f} seconds." if seconds is not None else "Retry in a few seconds."
    elif code == TIMEOUT:
        said = f"the vendor timed out (HTTP {status})"
        hint = "Retry later; for a write, check first whether it took effect."
    elif status >= 500:
        said, hint = f"the vendor failed (HTTP {status})", "A vendor-side problem; retry later."
    else:
        said, hint = f"the vendor answered HTTP {status}", "See the vendor's message."
    return ToolFailure(code, f"{name}: {said}", hint, status, message, True, details)


def from_exception(exc: BaseException, *, tool: Mapping[str, Any], sent: bool) -> ToolFailure:
    """Map a transport exception (httpx or otherwise) without leaking its repr or a traceback."""
    name = tool.get("name", "?")
    kind = type(exc).__name__
    module = type(exc).__module__ or ""
    if "Timeout" in kind:
        return ToolFailure(
            TIMEOUT,
            f"{name}: no answer from the vendor in time ({kind})",
            "Retry later; for a write, check first whether it took effect.",
            sent=sent,
        )
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, OSError):
        return ToolFailure(
            NETWORK_ERROR,
            f"{name}: could not reach the vendor ({kind})",
            "Check the network and the base URL (LEDGERMCP_<VENDOR>_BASE_URL).",
            sent=sent,
        )
    return ToolFailure(
        INTERNAL_ERROR,
        f"{name}: the server failed while handling the call ({kind})",
        "This is a ledgermcp bug; please report it with the tool name.",
        sent=sent,
    )
