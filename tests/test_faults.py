"""Fault injection: the real vendor HTTP stack against a misbehaving upstream on 127.0.0.1
(tests/fault_upstream.py), one test per fault. Nothing is written behind a failed check, nothing
wrong is called success, every call is bounded."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_upstream import FaultyUpstream, Handler
from secret_scan import register_secret

from ledgermcp.server.app import App, create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions

TOKEN = "fault-suite-access-token-5c1e0a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    server = FaultyUpstream()
    yield server
    server.stop()


def env_for(upstream: FaultyUpstream, tmp_path: Path, **extra: str) -> dict[str, str]:
    register_secret(TOKEN, "the fault suite's access token")
    env = {
        "LEDGERMCP_FORTNOX_BASE_URL": upstream.url,
        "LEDGERMCP_FORTNOX_ACCESS_TOKEN": TOKEN,
        "LEDGERMCP_FORTNOX_RATE_LIMIT": "off",
        "LEDGERMCP_DATA_DIR": str(tmp_path / "data"),
    }
    env.update(extra)
    return env


def app_for(upstream: FaultyUpstream, tmp_path: Path, safety: SafetyOptions | None = None, **env: str) -> App:
    options = safety or SafetyOptions(
        approve="never", snapshot_dir=str(tmp_path / "snapshots"), audit_log=str(tmp_path / "audit.jsonl")
    )
    return create_app(load_vendor("fortnox"), environ=env_for(upstream, tmp_path, **env), safety=options)


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error, result.text
    return dict(result.structured["error"])


def snapshot_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "snapshots"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- the read before a write ----------------------------------------------------------------

HTML_PAGE = b"<!DOCTYPE html><html><body>Session expired, please log in again</body></html>"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html; charset=utf-8", HTML_PAGE),
        ("application/json", b'{"Customer": {"CustomerNumber": "17", "Na'),
        ("application/json", b'["not", "the", "entity"]'),
    ],
    ids=["html", "truncated-json", "json-list"],
)
@pytest.mark.anyio
async def test_pre_read_that_is_not_the_entity_blocks_the_write(
    upstream: FaultyUpstream, tmp_path: Path, content_type: str, body: bytes
) -> None:
    upstream.on("GET", "/3/customers/17", lambda h: h.answer(200, body, content_type))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("delete_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    error = error_of(result)
    assert error["code"] == "SNAPSHOT_FAILED" and error["request_sent"] is False
    assert "/3/customers/17" in error["message"]
    assert upstream.seen("DELETE") == []  # nothing written
    assert [r["method"] for r in upstream.seen()] == ["GET"]
    assert snapshot_files(tmp_path) == []  # and no snapshot keeps the page as if it were the entity
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(a["sent"], a["error"]) for a in audit] == [(False, "SNAPSHOT_FAILED")]


@pytest.mark.anyio
async def test_pre_read_of_the_entity_lets_the_write_go(upstream: FaultyUpstream, tmp_path: Path) -> None:
    upstream.on("DELETE", "/3/customers/17", lambda h: h.answer(204, b""))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("delete_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    assert not result.is_error, result.text
    assert [r["method"] for r in upstream.seen()] == ["GET", "DELETE"]
    (snapshot,) = snapshot_files(tmp_path)
    assert json.loads(snapshot.read_text())["entities"][0]["state"]["Customer"]["Name"] == "Acme"


def test_stale_temporary_snapshot_files_are_removed_at_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    from ledgermcp.server.safety.snapshots import SnapshotStore

    folder = tmp_path / "snapshots"
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = folder / f".20260101T000000Z-x-00000000.json.{int(dead.stdout)}.abcd1234.tmp"
    live = folder / f".20260101T000000Z-x-00000001.json.{os.getppid()}.abcd1234.tmp"
    stale.write_text('{"id": ')
    live.write_text('{"id": ')
    SnapshotStore(folder)
    assert not stale.exists()  # its writer is gone
    assert live.exists()  # a live process may still rename it into place


# --- answers that are not what the operation declares --------------------------------------


@pytest.mark.parametrize(
    ("tool", "method", "path", "arguments", "write"),
    [
        ("get_customer", "GET", "/3/customers/17", {"CustomerNumber": "17"}, False),
        ("create_customer", "POST", "/3/customers", {"Name": "Acme"}, True),
    ],
)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", HTML_PAGE), ("application/json", b"<!DOCTYPE html><html>maintenance</html>")],
    ids=["html", "invalid-json"],
)
@pytest.mark.anyio
async def test_non_json_2xx_is_an_error(
    upstream: FaultyUpstream,
    tmp_path: Path,
    tool: str,
    method: str,
    path: str,
    arguments: dict[str, Any],
    write: bool,
    content_type: str,
    body: bytes,
) -> None:
    upstream.on(method, path, lambda h: h.answer(200, body, content_type))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call(tool, arguments)
    finally:
        await app.aclose()
    error = error_of(result)
    assert error["code"] == "UPSTREAM_ERROR" and error["status"] == 200 and error["request_sent"] is True
    assert "<!DOCTYPE html>" in error["excerpt"] and len(error["excerpt"]) <= 170
    assert "application/json" in error["message"]
    assert ("The write may have happened" in error["hint"]) is write


# --- one deadline per call ------------------------------------------------------------------


def trickle(handler: Handler) -> None:
    """A 200 whose JSON body comes one byte every 2 s: each read is quick, the whole never is."""
    body = b'{"Customer": {"CustomerNumber": "17", "Name": "' + b"x" * 40 + b'"}}'
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for i in range(len(body)):
        handler.wfile.write(body[i : i + 1])
        handler.wfile.flush()
        time.sleep(2)


@pytest.mark.anyio
async def test_trickled_body_ends_with_timeout_within_the_deadline(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    upstream.on("GET", "/3/customers/17", trickle)
    app = app_for(upstream, tmp_path, LEDGERMCP_FORTNOX_TIMEOUT_MS="3000")
    started = time.monotonic()
    try:
        result = await app.pipeline.call("get_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    took = time.monotonic() - started
    error = error_of(result)
    assert error["code"] == "TIMEOUT" and error["deadline_seconds"] == 3.0
    assert "deadline of 3 s" in error["message"] and "LEDGERMCP_FORTNOX_TIMEOUT_MS" in error["message"]
    assert took < 3.0 + 1.0, took


@pytest.mark.anyio
async def test_deadline_covers_the_read_before_the_write(upstream: FaultyUpstream, tmp_path: Path) -> None:
    upstream.on("GET", "/3/customers/17", trickle)
    app = app_for(upstream, tmp_path, LEDGERMCP_FORTNOX_TIMEOUT_MS="2000")
    started = time.monotonic()
    try:
        result = await app.pipeline.call("delete_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    assert time.monotonic() - started < 2.0 + 1.0
    error = error_of(result)
    assert error["code"] == "SNAPSHOT_FAILED" and "deadline" in error["message"]
    assert upstream.seen("DELETE") == []


# --- the audit log: an intent before sending, the outcome after ----------------------------


@pytest.mark.anyio
async def test_audit_intent_is_on_record_before_the_request_leaves(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    at_arrival: list[list[dict[str, Any]]] = []

    def put(handler: Handler) -> None:
        at_arrival.append([json.loads(line) for line in audit.read_text().splitlines()])
        handler.json({"Customer": {"CustomerNumber": "17"}})

    upstream.on("PUT", "/3/customers/17", put)
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("update_customer", {"CustomerNumber": "17", "City": "Lund"})
    finally:
        await app.aclose()
    assert not result.is_error, result.text
    (seen,) = at_arrival
    assert [(e["event"], e["tool"], e["method"]) for e in seen] == [("intent", "update_customer", "PUT")]
    assert seen[0]["snapshot_id"]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["event"], e["id"]) for e in lines] == [("intent", seen[0]["id"]), ("outcome", seen[0]["id"])]
    assert lines[1]["sent"] is True and lines[1]["upstream_status"] == 200


def test_doctor_lists_writes_with_outcome_unknown(tmp_path: Path) -> None:
    import subprocess
    import sys

    from ledgermcp.server.safety.audit import unfinished

    audit = tmp_path / "audit.jsonl"
    common = {"vendor": "fortnox", "method": "PUT", "path": "/3/customers/{CustomerNumber}"}
    audit.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {"event": "intent", "id": "a1", "tool": "update_customer", "time": "T1", **common},
                {"event": "outcome", "id": "a1", "tool": "update_customer", "sent": True},
                {
                    "event": "intent",
                    "id": "b2",
                    "tool": "delete_customer",
                    "time": "T2",
                    "snapshot_id": "S",
                    **common,
                },
            ]
        )
        + "\n"
    )
    assert [e["id"] for e in unfinished(audit, "fortnox")] == ["b2"]
    assert unfinished(audit, "smallinvoice") == []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGERMCP_", "FORTNOX_"))}
    env.update(LEDGERMCP_AUDIT_LOG=str(audit), LEDGERMCP_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "doctor", "fortnox"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "1 write(s) with outcome unknown" in done.stdout, done.stdout + done.stderr
    assert (
        "outcome unknown: T2 delete_customer PUT /3/customers/{CustomerNumber} (id b2, snapshot S)"
        in done.stdout
    )


# --- limits before sending -------------------------------------------------------------------


@pytest.mark.anyio
async def test_one_megabyte_path_is_refused_and_nothing_is_sent(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    app = app_for(upstream, tmp_path)
    try:
        read = await app.pipeline.call("get_customer", {"CustomerNumber": "9" * 1_000_000})
        write = await app.pipeline.call(
            "update_customer", {"CustomerNumber": "9" * 1_000_000, "City": "Lund"}
        )
    finally:
        await app.aclose()
    for result in (read, write):
        error = error_of(result)
        assert error["code"] == "VALIDATION_ERROR" and error["request_sent"] is False
        assert (
            error["field"] == "CustomerNumber"
            and "LEDGERMCP_MAX_URL_CHARS" in error["problems"][0]["problem"]
        )
        assert len(result.text) < 2000  # the value is not echoed back
    assert upstream.seen() == []  # not even the read before the write
    (line,) = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (line["event"], line["sent"], line["error"]) == ("outcome", False, "VALIDATION_ERROR")


@pytest.mark.anyio
async def test_body_above_the_limit_is_refused_naming_it(upstream: FaultyUpstream, tmp_path: Path) -> None:
    app = app_for(upstream, tmp_path, LEDGERMCP_MAX_BODY_BYTES="1k")
    try:
        small = await app.pipeline.call("create_customer", {"Name": "Acme"})
        big = await app.pipeline.call(
            "create_customer", {"Name": "Acme", "Comments": "x" * 1000, "City": "y" * 1000}
        )
    finally:
        await app.aclose()
    assert not small.is_error, small.text
    error = error_of(big)
    assert error["code"] == "VALIDATION_ERROR" and error["request_sent"] is False
    assert "limit of 1 KiB (LEDGERMCP_MAX_BODY_BYTES)" in error["problems"][0]["problem"]
    assert len(upstream.seen("POST")) == 1


def test_a_malformed_limit_stops_the_start() -> None:
    from ledgermcp.server.limits import LimitError, Limits

    assert Limits.from_env({"LEDGERMCP_MAX_RESULT_BYTES": "512k"}).max_result_bytes == 512 * 1024
    with pytest.raises(LimitError, match="LEDGERMCP_MAX_BODY_BYTES='ten' is not a positive size"):
        Limits.from_env({"LEDGERMCP_MAX_BODY_BYTES": "ten"})


# --- result size ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ten_megabyte_json_on_a_get_tool_is_cut_with_a_note(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    big = {"Customer": {"CustomerNumber": "17", "Name": "Acme", "Comments": "x" * 10_000_000}}
    upstream.on("GET", "/3/customers/17", lambda h: h.json(big))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("get_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    assert not result.is_error, result.text
    size = len(json.dumps(result.structured))
    assert size <= app.pipeline.limits.max_result_bytes  # 256 KiB by default
    assert result.structured["Customer"]["Name"] == "Acme"  # what fits is kept
    view = result.structured["_view"]
    assert view["cut"] is True and view["bytes"] > 10_000_000
    assert "`fields`" in view["note"] and "LEDGERMCP_MAX_RESULT_BYTES" in view["note"]
    assert "answer cut" in result.text and len(result.text) < 6000


@pytest.mark.anyio
async def test_sixty_megabyte_pdf_is_a_resource_link_to_a_private_file(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    pdf = b"%PDF-1.7\n" + os.urandom(60 * 1024 * 1024)
    upstream.on("GET", "/3/invoices/5/preview", lambda h: h.answer(200, pdf, "application/pdf"))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("preview_invoice", {"DocumentNumber": "5"})
    finally:
        await app.aclose()
    assert not result.is_error, result.text
    wire = json.dumps(result.to_wire())
    assert len(wire) < 5000  # never inlined
    (link,) = [c for c in result.content if c["type"] == "resource_link"]
    assert (
        link["mimeType"] == "application/pdf" and link["size"] == len(pdf) and link["name"].endswith(".pdf")
    )
    path = Path(link["uri"].removeprefix("file://"))
    assert path.parent == tmp_path / "data" / "downloads" / "fortnox"  # under LEDGERMCP_DATA_DIR
    assert path.stat().st_size == len(pdf) and path.read_bytes()[:8] == pdf[:8]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    from mcp_types import CallToolResult

    CallToolResult.model_validate(result.to_wire())  # a valid MCP result


@pytest.mark.anyio
async def test_small_download_is_still_inlined(upstream: FaultyUpstream, tmp_path: Path) -> None:
    pdf = b"%PDF-1.7\nsmall"
    upstream.on("GET", "/3/invoices/5/preview", lambda h: h.answer(200, pdf, "application/pdf"))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("preview_invoice", {"DocumentNumber": "5"})
    finally:
        await app.aclose()
    assert result.content[1]["type"] == "resource" and "blob" in result.content[1]["resource"]
    assert not (tmp_path / "data" / "downloads").exists()


# --- over Streamable HTTP --------------------------------------------------------------------

HTTP_TOKEN = "fault-suite-endpoint-token-0123456789abcdef"
FORWARDED = "forwarded-client-credential-8e1f2a7b"


@pytest.mark.anyio
async def test_forwarded_credential_echoed_by_the_vendor_is_redacted(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from test_remote_support import ServerProcess, clean_env

    register_secret(FORWARDED, "a forwarded X-Upstream-Authorization")

    def echo(handler: Handler) -> None:  # echoes the credential, bare, in an error and in a success
        bare = handler.headers["Authorization"].partition(" ")[2]
        if handler.path.startswith("/3/customers/1"):
            handler.json({"ErrorInformation": {"Message": f"token {bare} has expired"}}, status=400)
        else:
            handler.json({"Customer": {"CustomerNumber": "2", "Name": f"seen {bare}"}})

    upstream.fallback = echo
    env = clean_env(
        LEDGERMCP_HTTP_TOKEN=HTTP_TOKEN,
        LEDGERMCP_FORTNOX_BASE_URL=upstream.url,
        LEDGERMCP_FORTNOX_ACCESS_TOKEN=TOKEN,
        LEDGERMCP_DATA_DIR=str(tmp_path / "data"),
    )
    server = ServerProcess(["fortnox", "--allow-upstream-credentials"], env, tmp_path / "stderr")
    try:
        headers = {"Authorization": f"Bearer {HTTP_TOKEN}", "X-Upstream-Authorization": f"Bearer {FORWARDED}"}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
        async with Client(streamable_http_client(server.url, http_client=http)) as client:
            failed = await client.call_tool("get_customer", {"CustomerNumber": "1"})
            passed = await client.call_tool("get_customer", {"CustomerNumber": "2"})
    finally:
        server.stop()
    assert [r["headers"]["Authorization"] for r in upstream.seen()] == [f"Bearer {FORWARDED}"] * 2
    assert failed.is_error and "[redacted]" in failed.structured_content["error"]["vendor_message"]
    assert passed.structured_content["Customer"]["Name"] == "seen [redacted]"
    for result in (failed, passed):
        assert FORWARDED not in result.model_dump_json()
    assert FORWARDED not in (tmp_path / "stderr").read_text()


def test_get_on_the_mcp_endpoint_is_405_and_holds_nothing_open(tmp_path: Path) -> None:
    import httpx
    from test_remote_support import ServerProcess, clean_env

    server = ServerProcess(["fortnox", "--sandbox"], clean_env(), tmp_path / "stderr")
    try:
        started = time.monotonic()
        got = httpx.get(server.url, headers={"Accept": "text/event-stream"}, timeout=10)
        assert time.monotonic() - started < 5
        assert got.status_code == 405 and got.headers["allow"] == "POST"
        assert "stateless" in got.json()["error"]
        assert httpx.delete(server.url, timeout=10).status_code == 405
    finally:
        server.stop()


def test_weak_http_token_is_refused_with_how_to_make_one() -> None:
    import subprocess
    import sys

    from test_remote_support import CLI, clean_env

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI,
            "serve",
            "fortnox",
            "--sandbox",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
        ],
        env=clean_env(LEDGERMCP_HTTP_TOKEN="a"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "LEDGERMCP_HTTP_TOKEN is 1 characters long" in done.stderr and "at least 32" in done.stderr
    assert "secrets.token_urlsafe(32)" in done.stderr


# --- approval tokens: single use across processes ------------------------------------------


@pytest.mark.anyio
async def test_token_replayed_in_a_second_process_is_refused(tmp_path: Path) -> None:
    import sys

    from mcp import Client, StdioServerParameters
    from test_remote_support import clean_env

    env = clean_env(LEDGERMCP_DATA_DIR=str(tmp_path / "data"))
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "ledgermcp",
            "serve",
            "fortnox",
            "--sandbox",
            "--approve",
            "destructive",
            "--mode",
            "full",
        ],
        env=env,
        cwd=str(tmp_path),
    )
    one, two = {"CustomerNumber": "1"}, {"CustomerNumber": "2"}
    async with Client(params, read_timeout_seconds=60) as first:
        plan_one = await first.call_tool("delete_customer", one)
        plan_two = await first.call_tool("delete_customer", two)
        used = plan_one.structured_content["approval"]["token"]
        unused = plan_two.structured_content["approval"]["token"]
        spent = await first.call_tool("delete_customer", {**one, "_approval": used})
        assert (spent.structured_content or {}).get("error", {}).get("code") != "APPROVAL_INVALID"
    async with Client(
        params, read_timeout_seconds=60
    ) as second:  # a new process, as a per-call client starts
        replay = await second.call_tool("delete_customer", {**one, "_approval": used})
        fresh = await second.call_tool("delete_customer", {**two, "_approval": unused})
    error = replay.structured_content["error"]
    assert error["code"] == "APPROVAL_INVALID" and "already used" in error["message"]
    assert error["request_sent"] is False
    assert (fresh.structured_content or {}).get("error", {}).get("code") != "APPROVAL_INVALID"
    record = tmp_path / "data" / "approval-used.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600" and len(json.loads(record.read_text())) == 2


# --- LEDGERMCP_DATA_DIR -------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_default_location_follows_the_data_dir(
    upstream: FaultyUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from mcp import Client, StdioServerParameters
    from test_remote_support import clean_env

    upstream.on(
        "GET",
        "/3/invoices/5/preview",
        lambda h: h.answer(200, b"%PDF-1.7\n" + b"0" * 4096, "application/pdf"),
    )
    data = tmp_path / "data"
    env = clean_env(**env_for(upstream, tmp_path), LEDGERMCP_MAX_INLINE_BYTES="1k")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ledgermcp", "serve", "fortnox", "--mode", "full"],
        env=env,
        cwd=str(tmp_path),
    )
    async with Client(params, read_timeout_seconds=60) as client:
        plan = await client.call_tool("delete_customer", {"CustomerNumber": "17"})
        token = plan.structured_content["approval"]["token"]
        done = await client.call_tool("delete_customer", {"CustomerNumber": "17", "_approval": token})
        assert not done.is_error, done.content
        assert not (await client.call_tool("preview_invoice", {"DocumentNumber": "5"})).is_error
    assert (data / "approval.key").exists() and (data / "approval-used.json").exists()
    assert len(list((data / "snapshots" / "fortnox").glob("*.json"))) == 1
    assert [json.loads(x)["event"] for x in (data / "audit.jsonl").read_text().splitlines()] == [
        "outcome",  # the plan: nothing sent
        "intent",
        "outcome",
    ]
    assert len(list((data / "downloads" / "fortnox").glob("*.pdf"))) == 1

    from ledgermcp.server.oauth.stores import FileStore

    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(data))
    assert FileStore().root == data / "tokens"


@pytest.mark.anyio
async def test_credential_echoed_in_the_entity_is_not_kept_in_the_snapshot(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    upstream.on(
        "GET", "/3/customers/17", lambda h: h.json({"Customer": {"CustomerNumber": "17", "Note": TOKEN}})
    )
    upstream.on("DELETE", "/3/customers/17", lambda h: h.answer(204, b""))
    app = app_for(upstream, tmp_path)
    try:
        result = await app.pipeline.call("delete_customer", {"CustomerNumber": "17"})
    finally:
        await app.aclose()
    assert not result.is_error, result.text
    (snapshot,) = snapshot_files(tmp_path)
    assert json.loads(snapshot.read_text())["entities"][0]["state"]["Customer"]["Note"] == "[redacted]"
