"""Pre-write snapshots: read the target entity before a write and keep it as one JSON file.

The target comes from the tool table (`tool["snapshot"]`: the GET of the entity the write changes;
for a batch, one GET per comma-separated id, run in parallel). The reads go through the same
upstream as the write. One file per write under the snapshot directory (mode 0600, directory
0700), written to a temporary file and renamed into place.

A failed snapshot blocks the write (fail-closed) unless fail-open is chosen: then a warning is
logged and carried in the result. For a batch, ids that cannot be read are recorded as missing;
the snapshot fails only when none could be read.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from ledgermcp.server import render
from ledgermcp.server.calls import Call, Upstream, redact_body, remaining
from ledgermcp.server.errors import ToolFailure, scrub
from ledgermcp.server.files import atomic_write, private_dir, remove_stale_temp_files
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety.plan import snapshot_requests

log = logging.getLogger("ledgermcp.safety")

SNAPSHOT_FAILED = "SNAPSHOT_FAILED"
SNAPSHOT_URI_PREFIX = "ledgermcp://snapshots/"
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9_]{1,64}-[0-9a-f]{8}$")


def snapshot_uri(vendor: str, snapshot_id: str) -> str:
    """The MCP resource URI of a snapshot (server/safety/resources.py serves it)."""
    return f"{SNAPSHOT_URI_PREFIX}{vendor}/{snapshot_id}"


def is_snapshot_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))


def default_snapshot_dir(vendor: str, env: Mapping[str, str] | None = None) -> Path:
    from ledgermcp.server.oauth.stores import data_dir

    return data_dir(env) / "snapshots" / vendor


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


class SnapshotStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        # a server killed while writing a snapshot leaves its temporary file: gone at the next start
        for path in remove_stale_temp_files(self.directory):
            log.warning("removed %s, left by a server that stopped while writing a snapshot", path.name)

    def _ensure_dir(self) -> None:
        private_dir(self.directory)

    def new_id(self, tool: str, now: float) -> str:
        return f"{_utc(now):%Y%m%dT%H%M%SZ}-{tool.lower()[:64]}-{secrets.token_hex(4)}"

    def path(self, snapshot_id: str) -> Path:
        if not isinstance(snapshot_id, str) or not _ID.fullmatch(snapshot_id):
            raise KeyError(snapshot_id)
        return self.directory / f"{snapshot_id}.json"

    def save(self, record: dict[str, Any]) -> Path:
        self._ensure_dir()
        target = self.path(record["id"])
        text = json.dumps(record, ensure_ascii=False, indent=1, default=str)
        atomic_write(target, text.encode("utf-8"))
        return target

    def load(self, snapshot_id: str) -> dict[str, Any]:
        with open(self.path(snapshot_id), encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def list(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted((p.stem for p in self.directory.glob("*.json") if _ID.fullmatch(p.stem)), reverse=True)


def _decode(response: Any, declared: list[str] | None, secrets: list[str] | None = None) -> Any:
    """The entity as the read tool declares it: a JSON object where JSON is declared (or nothing
    is); only a read declared as any type (`*/*`, a file) may be kept as other text or bytes.
    render.UnreadableAnswer for anything else (an HTML login page, truncated JSON, a bare list)."""
    ctype = response.headers.get("content-type")
    raw = redact_body(bytes(response.content), ctype, secrets or [])  # a kept state holds no credential
    if declared and not render.declared_types(declared):  # `*/*`: whatever the entity is
        mt = render.sniff(render.media_type(ctype), raw, None)
        if raw and render.is_json(mt):
            return render.read_as_declared(ctype, raw, None)[1]
        if mt.startswith("text/"):
            return raw.decode("utf-8", "replace")
        return {"content_type": mt, "base64": base64.b64encode(raw).decode()}
    mt, data = render.read_as_declared(ctype, raw, declared or ["application/json"])
    if not isinstance(data, dict):
        kind = "no JSON" if not render.is_json(mt) else f"a JSON {type(data).__name__}"
        raise render.UnreadableAnswer(f"is {kind}, not the entity (a JSON object)", raw)
    return data


class SnapshotHook:
    """`before_send`: snapshot the target; `after`: name the snapshot in the result."""

    def __init__(
        self,
        store: SnapshotStore,
        upstream: Upstream,
        *,
        vendor: str,
        fail_open: bool = False,
        clock: Callable[[], float] | None = None,
        secrets_of: Callable[[], list[str]] | None = None,
        declared_of: Callable[[str], list[str] | None] | None = None,
    ) -> None:
        import time

        self.store = store
        self.upstream = upstream
        self.vendor = vendor
        self.fail_open = fail_open
        self.clock = clock or time.time
        self.secrets_of = secrets_of or (lambda: [])
        # the media types the read tool declares (from the tool table); None: not known
        self.declared_of = declared_of or (lambda name: None)

    async def _read(self, request: Any, seconds: float) -> dict[str, Any]:
        try:
            with anyio.fail_after(seconds):
                response = await self.upstream.send(request)
        except TimeoutError:
            return {
                "path": request.path,
                "ok": False,
                "error": "no complete answer within the call's deadline",
            }
        except Exception as exc:
            return {
                "path": request.path,
                "ok": False,
                "error": scrub(f"{type(exc).__name__}: {exc}", self.secrets_of()),
            }
        status = int(response.status_code)
        entry: dict[str, Any] = {"path": request.path, "status": status, "ok": 200 <= status < 300}
        if entry["ok"]:
            try:
                entry["state"] = _decode(response, self.declared_of(request.tool), self.secrets_of())
            except render.UnreadableAnswer as exc:
                # not the entity (a login page, a cut-off body): no snapshot, so no write
                entry.update(ok=False, error=f"HTTP {status} answer {exc.problem}: {exc.excerpt!r}")
        return entry

    async def __call__(self, call: Call) -> None:
        if call.read_only or not call.tool.get("snapshot") or call.request is None:
            return
        reads = snapshot_requests(call.tool, call.arguments)
        if not reads:
            return
        results: list[dict[str, Any]] = [{} for _ in reads]

        async def one(i: int) -> None:
            results[i] = await self._read(reads[i], remaining(call))

        async with anyio.create_task_group() as tg:
            for i in range(len(reads)):
                tg.start_soon(one, i)
        taken = [r for r in results if r.get("ok")]
        missing = [{k: v for k, v in r.items() if k != "ok"} for r in results if not r.get("ok")]
        batch = bool(call.tool["snapshot"].get("batch_arg"))
        failed = not taken or (missing and not batch)
        problem = ""
        if failed:
            problem = "; ".join(
                f"{m['path']}: " + (str(m["error"]) if "error" in m else f"HTTP {m['status']}")
                for m in missing
            )
        else:
            try:
                now = self.clock()
                snapshot_id = self.store.new_id(call.name, now)
                record = {
                    "id": snapshot_id,
                    "vendor": self.vendor,
                    "tool": call.name,
                    "arguments": call.arguments,
                    "time": _utc(now).isoformat(),
                    "request": call.request.describe(),
                    "target": {
                        k: call.tool["snapshot"].get(k)
                        for k in ("method", "path", "params", "batch_arg", "read_tool", "restore_tool")
                    },
                    "entities": [
                        {"path": r["path"], "status": r["status"], "state": r["state"]} for r in taken
                    ],
                    "missing": missing,
                }
                path = self.store.save(record)
                call.extras["snapshot_id"] = snapshot_id
                call.extras["snapshot_path"] = str(path)
                return
            except Exception as exc:
                failed, problem = True, f"could not store the snapshot: {type(exc).__name__}: {exc}"
        problem = scrub(problem, self.secrets_of())
        if self.fail_open:
            log.warning("%s: snapshot failed (%s); proceeding because fail-open is set", call.name, problem)
            call.extras["snapshot_warning"] = f"snapshot failed ({problem}); the write went ahead (fail-open)"
            return
        raise ToolFailure(
            SNAPSHOT_FAILED,
            f"{call.name}: the state before the write could not be read ({problem})",
            "check that the entity exists and is readable; nothing was written. The server owner "
            "can allow writes without a snapshot with --snapshot-fail-open",
            details={"snapshot_failed": True},
        )

    async def observe(self, call: Call, result: Any) -> None:
        if not isinstance(result, ToolResult):
            return
        snapshot_id = call.extras.get("snapshot_id")
        warning = call.extras.get("snapshot_warning")
        if snapshot_id:
            uri = snapshot_uri(self.vendor, snapshot_id)
            result.meta["ledgermcp/snapshot"] = {"id": snapshot_id, "uri": uri}
            result.content.append(
                {"type": "text", "text": f"Snapshot of the state before the write: {snapshot_id} ({uri})"}
            )
            if isinstance(result.structured, dict) and "error" in result.structured:
                result.structured["error"]["snapshot_id"] = snapshot_id
        elif warning:
            result.meta["ledgermcp/snapshot"] = {"warning": warning}
            result.content.append({"type": "text", "text": f"Warning: {warning}"})
