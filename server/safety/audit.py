"""Append-only audit log of write attempts (every tool that is not read-only).

Two lines for a write that goes out, sharing an `id`:
- `"event": "intent"`, written before the request leaves (after the snapshot): time, vendor, tool,
  a sha256 of the arguments (never their values), the approval state, the snapshot id, the method
  and the path template;
- `"event": "outcome"` once the call has ended: the same fields plus whether a request was sent,
  the upstream status, the result's error code and the duration.
An attempt stopped before sending (dry-run, approval, validation, a failed snapshot) has only its
outcome line. A server killed between the two leaves an intent without outcome: `ledgermcp doctor`
lists those writes as "outcome unknown" (`unfinished`).

Each line is one `write(2)` on a file opened with O_APPEND (created 0600): a killed process leaves
whole lines, never half of one, and lines of several processes do not interleave.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ledgermcp.server.calls import Call
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety.plan import arguments_digest

AUDIT_ENV = "LEDGERMCP_AUDIT_LOG"
_ID_KEY = "audit_id"


def default_audit_path(env: Mapping[str, str] | None = None) -> Path:
    from ledgermcp.server.oauth.stores import data_dir

    return data_dir(env) / "audit.jsonl"


def audit_path_from_env(env: Mapping[str, str] | None = None) -> Path | None:
    """The audit log `serve` writes by default or as `LEDGERMCP_AUDIT_LOG` says (None: turned off)."""
    env = os.environ if env is None else env
    value = env.get(AUDIT_ENV)
    if value in ("", "-"):
        return None
    return Path(value) if value else default_audit_path(env)


def unfinished(path: str | os.PathLike[str], vendor: str | None = None) -> list[dict[str, Any]]:
    """Intent lines without an outcome line: writes whose outcome is unknown (the server stopped,
    or is still waiting for the vendor). Unreadable lines are skipped."""
    open_intents: dict[str, dict[str, Any]] = {}
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            key = str(entry.get("id"))
            if entry.get("event") == "intent" and (not vendor or entry.get("vendor") == vendor):
                open_intents[key] = entry
            elif entry.get("event") == "outcome":
                open_intents.pop(key, None)
    return list(open_intents.values())


class AuditLog:
    def __init__(
        self, path: str | os.PathLike[str], *, vendor: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.vendor = vendor
        self.clock = clock
        self._lock = threading.Lock()

    def _common(self, call: Call) -> dict[str, Any]:
        return {
            "time": dt.datetime.fromtimestamp(self.clock(), dt.UTC).isoformat(),
            "vendor": self.vendor,
            "tool": call.name,
            "arguments_sha256": arguments_digest(call.arguments),
            "approval": call.extras.get("approval", "not_required"),
            "snapshot_id": call.extras.get("snapshot_id"),
        }

    def intent(self, call: Call) -> dict[str, Any]:
        call.extras[_ID_KEY] = call.extras.get(_ID_KEY) or secrets.token_hex(8)
        entry = {"event": "intent", "id": call.extras[_ID_KEY], **self._common(call)}
        if call.request is not None:
            entry.update(method=call.request.method, path=call.request.path_template)
        return entry

    def line(self, call: Call, result: Any) -> dict[str, Any]:
        error = None
        if isinstance(result, ToolResult) and result.is_error and isinstance(result.structured, dict):
            error = (result.structured.get("error") or {}).get("code")
        return {
            "event": "outcome",
            "id": call.extras.get(_ID_KEY) or secrets.token_hex(8),
            **self._common(call),
            "sent": bool(call.extras.get("sent")),
            "upstream_status": call.extras.get("status"),
            "error": error,
            "duration_ms": round((time.monotonic() - call.started) * 1000, 1),
        }

    def write(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    async def before_send(self, call: Call) -> None:
        """The intent, on record before the request leaves (a failure to write it stops the call)."""
        if not call.read_only:
            self.write(self.intent(call))

    async def __call__(self, call: Call, result: Any) -> None:
        if call.read_only:
            return
        self.write(self.line(call, result))
