"""`ledgermcp serve --transport http` end to end: the official `mcp` client over Streamable HTTP on
127.0.0.1, the Origin and bearer-token guards, the health endpoint, the JSON call log, per-request
upstream credentials and the refusal of an unprotected non-loopback bind."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_remote_support import CLI, MCP_HEADERS, ServerProcess, clean_env, rpc

HTTP_TOKEN = "mcp-endpoint-secret-9d2f71-0e5b7c3a19f4"
SERVER_TOKEN = "vendor-token-of-the-server-55aa"
CLIENT_TOKEN = "vendor-token-of-the-client-77bb"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(["fortnox", "--sandbox"], clean_env(), tmp_path_factory.mktemp("s") / "stderr")
    yield server
    server.stop()


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"Invoices": [], "MetaInformation": {"@TotalResources": 0}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[ServerProcess]:
    env = clean_env(
        LEDGERMCP_HTTP_TOKEN=HTTP_TOKEN,
        LEDGERMCP_FORTNOX_BASE_URL=upstream.url,
        LEDGERMCP_FORTNOX_ACCESS_TOKEN=SERVER_TOKEN,
    )
    server = ServerProcess(
        ["fortnox", "--allow-upstream-credentials", "--timeout", "7"],
        env,
        tmp_path_factory.mktemp("g") / "stderr",
    )
    yield server
    server.stop()


def authed_client(url: str, **headers: str) -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
    return Client(streamable_http_client(url, http_client=http))


@pytest.mark.anyio
async def test_tools_list_and_a_call_over_http(sandbox_server: ServerProcess) -> None:
    async with Client(sandbox_server.url) as client:
        listed = await client.list_tools()
        names = {t.name for t in listed.tools}
        assert len(listed.tools) == 377 and "list_invoices" in names
        created = await client.call_tool("create_customer", {"Name": "Secret Name AB"})
        assert not created.is_error, created
        result = await client.call_tool("list_customers", {})
        assert not result.is_error
        assert result.structured_content["Customers"] == [] or "Customers" in result.structured_content
        bad = await client.call_tool("get_invoice", {"DocumentNumber": 5})
        assert bad.is_error and bad.structured_content["error"]["code"] == "VALIDATION_ERROR"
    lines = sandbox_server.call_lines()
    by_tool = {r["tool"]: r for r in lines}
    assert by_tool["list_customers"]["status"] == "ok" and by_tool["list_customers"]["http_status"] == 200
    assert by_tool["get_invoice"]["code"] == "VALIDATION_ERROR"
    for record in lines:
        assert set(record) >= {"tool", "status", "code", "duration_ms", "retries"}
    assert "Secret Name AB" not in sandbox_server.stderr()  # no argument values in the log


def test_health_and_origin(sandbox_server: ServerProcess) -> None:
    health = httpx.get(f"{sandbox_server.base}/healthz")
    assert health.status_code == 200
    assert health.json() | {"version": None} == {
        "status": "ok",
        "vendor": "fortnox",
        "mode": "full",
        "operations": 377,
        "version": None,
        "sandbox": True,
        "transport": "streamable-http",
        "stateless": True,
    }
    body = rpc("tools/list")
    foreign = httpx.post(
        sandbox_server.url, json=body, headers={**MCP_HEADERS, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    local = httpx.post(
        sandbox_server.url, json=body, headers={**MCP_HEADERS, "Origin": "http://localhost:3000"}
    )
    assert local.status_code == 200 and len(local.json()["result"]["tools"]) == 377
    rebinding = httpx.post(sandbox_server.url, json=body, headers={**MCP_HEADERS, "Host": "evil.example"})
    assert rebinding.status_code == 421  # a loopback bind also checks Host (DNS rebinding)
    # this server does not take per-request vendor credentials: say so rather than ignore them
    refused = httpx.post(
        sandbox_server.url, json=body, headers={**MCP_HEADERS, "X-Upstream-Authorization": "Bearer x"}
    )
    assert refused.status_code == 400 and "--allow-upstream-credentials" in refused.json()["error"]


def test_non_loopback_bind_without_token_is_refused() -> None:
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
            "--port",
            "9",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr and "LEDGERMCP_HTTP_TOKEN" in done.stderr


@pytest.mark.anyio
async def test_token_required_and_upstream_credentials_forwarded(
    guarded_server: ServerProcess, upstream: Upstream
) -> None:
    body = rpc("tools/list")
    assert httpx.post(guarded_server.url, json=body, headers=MCP_HEADERS).status_code == 401
    wrong = httpx.post(guarded_server.url, json=body, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{guarded_server.base}/healthz").status_code == 200  # no auth for the health check
    assert HTTP_TOKEN not in httpx.get(f"{guarded_server.base}/healthz").text

    async with authed_client(guarded_server.url, Authorization=f"Bearer {HTTP_TOKEN}") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        # the table's 377 tools, and restore_snapshot: outside the sandbox snapshots are on
        assert len(names) == 378 and "restore_snapshot" in names
        assert not (await client.call_tool("list_invoices", {})).is_error
    async with authed_client(
        guarded_server.url,
        Authorization=f"Bearer {HTTP_TOKEN}",
        **{"X-Upstream-Authorization": f"Bearer {CLIENT_TOKEN}"},
    ) as client:
        assert not (await client.call_tool("list_invoices", {})).is_error
    async with authed_client(guarded_server.url, Authorization=f"Bearer {HTTP_TOKEN}") as client:
        assert not (await client.call_tool("list_invoices", {})).is_error
    assert upstream.seen == [f"Bearer {SERVER_TOKEN}", f"Bearer {CLIENT_TOKEN}", f"Bearer {SERVER_TOKEN}"]
    lines = [r for r in guarded_server.call_lines() if r["tool"] == "list_invoices"]
    assert [r["upstream_credentials"] for r in lines] == ["server", "forwarded", "server"]
    log = guarded_server.stderr()
    for secret in (HTTP_TOKEN, SERVER_TOKEN, CLIENT_TOKEN):
        assert secret not in log


def test_guard_unit_checks() -> None:
    from ledgermcp.server.remote import BindRefused, RemoteOptions, _origin_allowed, check_bind, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(BindRefused):
        check_bind(RemoteOptions(host="10.1.2.3"))
    check_bind(RemoteOptions(host="10.1.2.3", token="t" * 32))
    with pytest.raises(BindRefused, match="at least 32"):
        check_bind(RemoteOptions(host="127.0.0.1", token="t" * 31))
    options = RemoteOptions.from_env(
        origins=["https://app.example:*"], environ={"LEDGERMCP_HTTP_ALLOWED_ORIGINS": "https://ops.example"}
    )
    assert "sekrit" not in repr(RemoteOptions(token="sekrit"))
    assert _origin_allowed("https://ops.example", options.allowed_origins)
    assert _origin_allowed("https://app.example:8443", options.allowed_origins)
    assert not _origin_allowed("https://app.example.evil:8443", options.allowed_origins)
    assert not _origin_allowed("null", options.allowed_origins)
    assert _origin_allowed("http://127.0.0.1:5173", ())


def test_timeout_flag_reaches_the_stack() -> None:
    from ledgermcp.server.catalog import load_vendor
    from ledgermcp.server.http.client import build_async_client
    from ledgermcp.server.remote import apply_timeout

    info = load_vendor("fortnox").info
    env: dict[str, str] = {"LEDGERMCP_FORTNOX_TIMEOUT_MS": "30000"}
    apply_timeout(info, 2.5, env)
    assert env["LEDGERMCP_FORTNOX_TIMEOUT_MS"] == "2500"
    assert build_async_client(info, env=env).timeout.read == 2.5
