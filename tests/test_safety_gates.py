"""Write safety over every mutating tool of the real generated tables: dry-run, approval tokens,
pre-write snapshots (fail-closed / fail-open) and the audit log, against a recording upstream."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgermcp.server.calls import CallPipeline, Upstream
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety import SafetyOptions, install, options_from_env, sandbox_defaults
from ledgermcp.server.safety.plan import batch_ids
from ledgermcp.server.settings import VendorSettings

VENDORS = ("fortnox", "smallinvoice")
BASE = "https://vendor.invalid"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sample(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A simple valid value for a schema: required properties only."""
    if "$ref" in schema:
        return sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample(schema[key][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample(schema.get("items") or {"type": "string"}, defs)] * max(1, schema.get("minItems", 1))
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: sample(props.get(k) or {}, defs) for k in schema.get("required") or []}
    fmt = schema.get("format")
    if fmt in ("binary", "byte", "base64") or schema.get("contentEncoding") == "base64":
        return "aGVsbG8="
    value = {
        "date": "2024-01-31",
        "date-time": "2024-01-31T10:00:00Z",
        "email": "a@example.com",
        "uri": "https://example.com",
        "uuid": "00000000-0000-0000-0000-000000000001",
    }.get(fmt, "1")
    value += "1" * max(0, schema.get("minLength", 0) - len(value))
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        value = next(c for c in ("10:00", "2024-01-31", "A1", "a", "CH", "1.0") if re.search(pattern, c))
    return value


def minimal_arguments(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool["input_schema"]
    return sample(schema, schema.get("$defs") or {})


class Recorder:
    """A recording upstream: GETs answer the entity's current version, writes bump it."""

    def __init__(self, fail_get: bool = False) -> None:
        self.requests: list[httpx.Request] = []
        self.version: dict[str, int] = {}
        self.fail_get = fail_get

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET":
            if self.fail_get:
                return httpx.Response(503, json={"message": "down"})
            # no Content-Type: one body stands for the JSON entity and for a GET that prints a PDF
            return httpx.Response(
                200, content=json.dumps({"path": path, "version": self.version.get(path, 0)}).encode()
            )
        self.version[path] = self.version.get(path, 0) + 1
        return httpx.Response(200, content=b'{"ok": true}')

    def writes(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method != "GET"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make(vendor: str, tmp: Path, recorder: Recorder, **opts: Any) -> tuple[CallPipeline, Any]:
    client = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(recorder))
    pipeline = CallPipeline(load_vendor(vendor), Upstream(client), settings=VendorSettings(vendor, BASE))
    options = SafetyOptions(snapshot_dir=str(tmp / "snapshots"), audit_log=str(tmp / "audit.jsonl"), **opts)
    return pipeline, install(pipeline, options)


def tools(vendor: str, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    return [t for t in load_vendor(vendor).tools if keep(t)]


def writes_of(tool: dict[str, Any]) -> Callable[[httpx.Request], bool]:
    """Requests that are the tool's own write (a GET tool that sends e-mail counts too)."""
    method = tool["binding"]["method"].upper()
    snap = tool.get("snapshot") or {}
    snap_prefix = str(snap.get("path") or "\0").split("{", 1)[0]

    def match(r: httpx.Request) -> bool:
        if r.method != method:
            return False
        if method != "GET":
            return True
        return not (snap and r.url.path.startswith(snap_prefix) and "/" not in r.url.path[len(snap_prefix) :])

    return match


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", VENDORS)
async def test_dry_run_sends_nothing_for_every_mutating_tool(vendor: str, tmp_path: Path) -> None:
    recorder = Recorder()
    pipeline, _ = make(vendor, tmp_path, recorder, dry_run=True)
    mutating = tools(vendor, lambda t: not t["annotations"]["readOnlyHint"])
    assert len(mutating) > 50
    for tool in mutating:
        result = await pipeline.call(tool["name"], minimal_arguments(tool))
        assert isinstance(result, ToolResult) and not result.is_error, (tool["name"], result.text)
        plan = result.structured["plan"]
        assert result.structured["dry_run"] is True and result.structured["sent"] is False
        assert plan["method"] == tool["binding"]["method"].upper(), tool["name"]
        assert plan["path"].split("/")[:2] == tool["binding"]["path"].split("/")[:2]
        assert plan["method"] in result.text and plan["path"] in result.text
        if tool.get("snapshot"):
            assert plan["snapshot"]["paths"], tool["name"]
    assert [r.method for r in recorder.requests if r.method != "GET"] == []
    assert recorder.requests == []  # not even the snapshot read goes out under dry-run
    # read-only tools keep working
    reader = tools(vendor, lambda t: t["annotations"]["readOnlyHint"] and not t["binding"].get("body"))[0]
    result = await pipeline.call(reader["name"], minimal_arguments(reader))
    assert not result.is_error and len(recorder.requests) == 1


def other_arguments(tool: dict[str, Any], args: dict[str, Any]) -> dict[str, Any] | None:
    props = tool["input_schema"].get("properties") or {}
    for key, value in args.items():
        kind = props.get(key, {}).get("type")
        if kind == "integer" and "enum" not in props[key]:
            return {**args, key: value + 1}
        if kind == "string" and "enum" not in props[key] and not props[key].get("format"):
            return {**args, key: value + "2"}
    return None


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", VENDORS)
async def test_destructive_tools_need_a_plan_bound_token(vendor: str, tmp_path: Path) -> None:
    clock = Clock()
    recorder = Recorder()
    pipeline, _safety = make(vendor, tmp_path, recorder, approve="destructive", clock=clock)
    destructive = tools(vendor, lambda t: t["annotations"]["destructiveHint"])
    assert len(destructive) > 40
    checked_other = 0
    for tool in destructive:
        name, args = tool["name"], minimal_arguments(tool)
        is_write = writes_of(tool)
        recorder.requests.clear()
        first = await pipeline.call(name, args)
        assert not first.is_error and first.structured["approval_required"], (name, first.text)
        # before approval only the entity is read, to show the person what the write changes
        shown = (first.structured["plan"].get("snapshot") or {}).get("paths") or []
        assert [(r.method, r.url.path) for r in recorder.requests] == [("GET", p) for p in shown[:1]], name
        token = first.structured["approval"]["token"]

        # a made-up token or a flag does not skip the preview
        forged = await pipeline.call(name, {**args, "_approval": "yes"})
        assert forged.is_error and forged.structured["error"]["code"] == "APPROVAL_INVALID"

        other = other_arguments(tool, args)
        if other is not None:
            checked_other += 1
            refused = await pipeline.call(name, {**other, "_approval": token})
            assert refused.is_error and refused.structured["error"]["code"] == "APPROVAL_INVALID", name
        assert [r for r in recorder.requests if r.method != "GET" or is_write(r)] == [], name

        # expired
        clock.now += 301
        late = await pipeline.call(name, {**args, "_approval": token})
        assert late.is_error and "expired" in late.text, name
        clock.now -= 301
        assert [r for r in recorder.requests if is_write(r)] == [], name

        # valid: exactly one write
        approved = await pipeline.call(name, {**args, "_approval": token})
        assert not approved.is_error, (name, approved.text)
        assert len([r for r in recorder.requests if is_write(r)]) == 1, name
        # and only once
        again = await pipeline.call(name, {**args, "_approval": token})
        assert again.is_error and "already used" in again.text
        assert len([r for r in recorder.requests if is_write(r)]) == 1, name
    assert checked_other > len(destructive) // 2


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", VENDORS)
async def test_every_snapshot_target_is_kept_before_the_write(vendor: str, tmp_path: Path) -> None:
    recorder = Recorder()
    pipeline, safety = make(vendor, tmp_path, recorder, approve="never")
    eligible = tools(vendor, lambda t: bool(t.get("snapshot")))
    assert len(eligible) > 50
    for tool in eligible:
        args = minimal_arguments(tool)
        batch = tool["snapshot"].get("batch_arg")
        if batch:
            args[batch] = "1,2" if isinstance(args[batch], str) else args[batch]
        recorder.requests.clear()
        recorder.version.clear()
        result = await pipeline.call(tool["name"], args)
        assert not result.is_error, (tool["name"], result.text)
        assert len([r for r in recorder.requests if writes_of(tool)(r)]) == 1, tool["name"]
        snapshot_id = result.meta["ledgermcp/snapshot"]["id"]
        assert snapshot_id in result.text
        path = safety.store.path(snapshot_id)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        record = json.loads(path.read_text())
        assert record["tool"] == tool["name"] and record["arguments"] == args
        assert record["request"]["method"] == tool["binding"]["method"].upper()
        assert record["time"]
        ids = batch_ids(args[batch]) if batch else [None]
        assert len(record["entities"]) == len(ids)
        for entity in record["entities"]:
            assert entity["state"]["version"] == 0  # the state before the write
        # the snapshot reads went out before the write
        methods = [r.method for r in recorder.requests]
        assert methods[: len(ids)] == ["GET"] * len(ids)
    assert stat.S_IMODE(os.stat(safety.store.directory).st_mode) == 0o700


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fail_open", [False, True])
async def test_failed_snapshot_blocks_the_write_unless_fail_open(
    vendor: str, fail_open: bool, tmp_path: Path
) -> None:
    recorder = Recorder(fail_get=True)
    pipeline, _ = make(vendor, tmp_path, recorder, approve="never", snapshot_fail_open=fail_open)
    for tool in tools(vendor, lambda t: bool(t.get("snapshot"))):
        is_write = writes_of(tool)
        recorder.requests.clear()
        result = await pipeline.call(tool["name"], minimal_arguments(tool))
        sent = [r for r in recorder.requests if is_write(r)]
        if fail_open:
            assert len(sent) == 1 and "fail-open" in result.text, tool["name"]
        else:
            assert sent == [], tool["name"]
            assert result.structured["error"]["code"] == "SNAPSHOT_FAILED"
            assert result.structured["error"]["request_sent"] is False


@pytest.mark.anyio
async def test_batch_snapshot_tolerates_partial_failure(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/2"):
            return httpx.Response(404, json={"message": "gone"})
        return Recorder()(request)

    client = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(answer))
    pipeline = CallPipeline(load_vendor("smallinvoice"), Upstream(client), settings=VendorSettings("s", BASE))
    safety = install(pipeline, SafetyOptions(approve="never", snapshot_dir=str(tmp_path), audit_log="-"))
    result = await pipeline.call("delete_reminders", {"reminderIds": "1,2,3"})
    assert not result.is_error, result.text
    record = safety.store.load(result.meta["ledgermcp/snapshot"]["id"])
    assert [e["path"] for e in record["entities"]] == ["/contacts/reminders/1", "/contacts/reminders/3"]
    assert [m["path"] for m in record["missing"]] == ["/contacts/reminders/2"]


@pytest.mark.anyio
async def test_audit_log_has_one_line_per_write_and_no_values(tmp_path: Path) -> None:
    recorder = Recorder()
    pipeline, _ = make("fortnox", tmp_path, recorder, approve="destructive")
    secret_name = "Very Secret Customer Name"
    await pipeline.call("create_customer", {"Name": secret_name})
    await pipeline.call("get_customer", {"CustomerNumber": "1"})
    first = await pipeline.call("delete_customer", {"CustomerNumber": "1"})
    token = first.structured["approval"]["token"]
    await pipeline.call("delete_customer", {"CustomerNumber": "1", "_approval": token})
    log_path = tmp_path / "audit.jsonl"
    assert stat.S_IMODE(os.stat(log_path).st_mode) == 0o600
    text = log_path.read_text()
    assert secret_name not in text and "_approval" not in text and token not in text
    every = [json.loads(line) for line in text.splitlines()]
    lines = [x for x in every if x["event"] == "outcome"]
    intents = [x for x in every if x["event"] == "intent"]
    # an intent, on record before the request left, for each write that was sent
    assert [x["id"] for x in intents] == [x["id"] for x in lines if x["sent"]]
    assert [(x["tool"], x["method"], x["path"]) for x in intents] == [
        ("create_customer", "POST", "/3/customers"),
        ("delete_customer", "DELETE", "/3/customers/{CustomerNumber}"),
    ]
    assert [(x["tool"], x["approval"], x["sent"]) for x in lines] == [
        ("create_customer", "not_required", True),
        ("delete_customer", "required", False),
        ("delete_customer", "token", True),
    ]
    assert lines[2]["snapshot_id"] and lines[2]["upstream_status"] == 200
    assert all(len(x["arguments_sha256"]) == 64 and x["duration_ms"] >= 0 for x in lines)


def test_a_snapshot_directory_turns_snapshots_on_unless_turned_off() -> None:
    assert sandbox_defaults().snapshots is False
    on = options_from_env({}, base=sandbox_defaults(), snapshot_dir="/tmp/s")
    assert on.snapshots is True and str(on.snapshot_dir) == "/tmp/s"
    from_env = options_from_env({"LEDGERMCP_SNAPSHOT_DIR": "/tmp/e"}, base=sandbox_defaults())
    assert from_env.snapshots is True
    off = options_from_env({"LEDGERMCP_NO_SNAPSHOT": "1"}, base=sandbox_defaults(), snapshot_dir="/tmp/s")
    assert off.snapshots is False
    assert (
        options_from_env({}, base=sandbox_defaults(), snapshot_dir="/tmp/s", snapshots=False).snapshots
        is False
    )
