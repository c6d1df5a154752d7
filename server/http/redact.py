"""Keep credential values out of log records.

httpx logs every request URL at INFO (`HTTP Request: GET https://...`), and an API key sent as a
query parameter is part of that URL. Every secret the stack reads is registered here, and a
logging filter on the httpx/httpcore loggers (and ours) rewrites such records before any handler
sees them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MASK = "***"

# Loggers whose records may carry a URL or headers. Logger filters do not apply to child loggers,
# so httpcore's children are listed one by one.
FILTERED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "ledgermcp.http",
    "ledgermcp.http.auth",
    "ledgermcp.http.retry",
    "ledgermcp.http.ratelimit",
)

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False

# Values this short are too likely to occur by accident to be worth masking (and "1" in every
# log line would be masked otherwise); real credentials are much longer.
_MIN_SECRET_LENGTH = 4


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember credential values so that `redact` and the log filter mask them."""
    with _lock:
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH:
                _secrets.add(value)
    # an auth object used with a caller's own httpx client (no client builder ran) must not
    # leave its key in httpx's request log line
    install_log_redaction()


def known_secrets() -> list[str]:
    """The registered credential values (for masking them in answers, not only in logs)."""
    with _lock:
        return list(_secrets)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***` (longest first)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once, masks registered secrets in it, and drops the args."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let logging report it
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


_filter = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter to the loggers that can see URLs or headers (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    for name in FILTERED_LOGGERS:
        logging.getLogger(name).addFilter(_filter)
