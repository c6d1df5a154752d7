"""Append-only audit log: one JSON line per write attempt (every tool that is not read-only).

A line holds the time, vendor, tool, a sha256 of the arguments (never their values), the approval
state, the snapshot id, whether a request was sent, the upstream status, the result's error code and
the duration. The file is opened for appending only and created with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledgermcp.server.calls import Call
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety.plan import arguments_digest


def default_audit_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("ledgermcp")) / "audit.jsonl"


class AuditLog:
    def __init__(
        self, path: str | os.PathLike[str], *, vendor: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.vendor = vendor
        self.clock = clock
        self._lock = threading.Lock()

    def line(self, call: Call, result: Any) -> dict[str, Any]:
        error = None
        if isinstance(result, ToolResult) and result.is_error and isinstance(result.structured, dict):
            error = (result.structured.get("error") or {}).get("code")
        return {
            "time": dt.datetime.fromtimestamp(self.clock(), dt.UTC).isoformat(),
            "vendor": self.vendor,
            "tool": call.name,
            "arguments_sha256": arguments_digest(call.arguments),
            "approval": call.extras.get("approval", "not_required"),
            "snapshot_id": call.extras.get("snapshot_id"),
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

    async def __call__(self, call: Call, result: Any) -> None:
        if call.read_only:
            return
        self.write(self.line(call, result))
