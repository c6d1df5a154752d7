"""The assembled stack: settings, layer order, the auth seam, and no secret in logs or errors."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import httpx
import pytest

from ledgermcp.server.catalog import available_vendors, load_vendor
from ledgermcp.server.http.auth import accepted_env_vars
from ledgermcp.server.http.client import (
    SettingsError,
    build_async_client,
    build_sync_client,
    resolve_base_url,
    resolve_timeout,
)
from ledgermcp.server.http.errors import RATE_LIMIT_WAIT_KEY, RETRIES_KEY, Code, classify_exception
from ledgermcp.server.http.ratelimit import RateLimit

TOKEN_URL = "https://api.example.test/v2/auth/access-tokens"

VENDOR = {
    "name": "fakeinvoice",
    "base_url": "https://api.example.test/v2",
    "env_prefix": "LEDGERMCP_FAKEINVOICE",
    "env_aliases": {"client_id": ["FAKEINVOICE_CLIENT_ID"], "client_secret": ["FAKEINVOICE_CLIENT_SECRET"]},
    "security_schemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "oauth": {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": {"invoice": "x"}}},
        },
    },
    "auth": {"token_url": TOKEN_URL, "token_request": "json"},
    "rate_limit": {"requests": 25, "per_seconds": 5, "remaining_header": "X-RateLimit-Remaining"},
}

QUERY_KEY_VENDOR = {
    "name": "fakequery",
    "base_url": "https://api.example.test",
    "security_schemes": {"k": {"type": "apiKey", "in": "query", "name": "api_key"}},
    "rate_limit": None,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.lowlevel.checkpoint()


# ---------------------------------------------------------------------------- settings


def test_base_url_precedence() -> None:
    assert resolve_base_url(VENDOR, env={}) == "https://api.example.test/v2"
    env = {"LEDGERMCP_FAKEINVOICE_BASE_URL": "http://127.0.0.1:9999/v2"}
    assert resolve_base_url(VENDOR, env=env) == "http://127.0.0.1:9999/v2"
    assert resolve_base_url(VENDOR, "http://other", env=env) == "http://other"
    with pytest.raises(SettingsError, match="LEDGERMCP_NOURL_BASE_URL"):
        resolve_base_url({"name": "nourl"}, env={})
    client = build_sync_client(VENDOR, env=env, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert str(client.base_url) == "http://127.0.0.1:9999/v2/"


def test_timeout_precedence() -> None:
    assert resolve_timeout(VENDOR, env={}) == httpx.Timeout(30.0)
    env = {"LEDGERMCP_FAKEINVOICE_TIMEOUT_MS": "2500"}
    assert resolve_timeout(VENDOR, env=env) == httpx.Timeout(2.5)
    assert resolve_timeout(VENDOR, 7, env=env) == httpx.Timeout(7.0)
    with pytest.raises(SettingsError, match="milliseconds"):
        resolve_timeout(VENDOR, env={"LEDGERMCP_FAKEINVOICE_TIMEOUT_MS": "soon"})
    with pytest.raises(SettingsError):
        resolve_timeout(VENDOR, 0)
    client = build_async_client(VENDOR, env=env, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert client.timeout == httpx.Timeout(2.5)


# ---------------------------------------------------------------------------- layer order


def test_every_attempt_takes_a_rate_limit_slot() -> None:
    """Retry sits above the rate limit: the re-sent GET waits for its own slot."""
    clock = FakeClock()
    seen: list[tuple[float, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((clock(), request.extensions[RATE_LIMIT_WAIT_KEY]))
        return httpx.Response(503 if len(seen) == 1 else 200)

    with build_sync_client(
        VENDOR,
        env={},
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.0,  # no backoff: any wait below comes from the limiter
        rate_limit=RateLimit(1, 10.0),
    ) as client:
        response = client.get("/invoices")
    assert response.status_code == 200 and response.extensions[RETRIES_KEY] == 1
    assert [t for t, _ in seen] == [100.0, 110.0]
    assert seen[1][1] == 10.0


@pytest.mark.anyio
async def test_auth_seam_accepts_any_httpx_auth() -> None:
    class Rotating(httpx.Auth):
        def auth_flow(self, request: httpx.Request):
            request.headers["Authorization"] = "Bearer from-elsewhere"
            yield request

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    env = {
        "LEDGERMCP_FAKEINVOICE_CLIENT_ID": "c",
        "LEDGERMCP_FAKEINVOICE_CLIENT_SECRET": "cs-should-not-be-used",
    }
    async with build_async_client(
        VENDOR, auth=Rotating(), env=env, transport=httpx.MockTransport(handler)
    ) as client:
        assert (await client.get("/invoices")).json() == {"auth": "Bearer from-elsewhere"}


@pytest.mark.anyio
async def test_full_stack_client_credentials_once_for_20_concurrent_calls() -> None:
    clock = FakeClock()
    token_requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.lowlevel.checkpoint()
        if request.url == TOKEN_URL:
            token_requests.append(request)
            return httpx.Response(200, json={"access_token": "tok-fullstack", "expires_in": 3600})
        assert request.headers["Authorization"] == "Bearer tok-fullstack"
        return httpx.Response(200, headers={"X-RateLimit-Remaining": "100"})

    env = {"FAKEINVOICE_CLIENT_ID": "client-1", "FAKEINVOICE_CLIENT_SECRET": "cs-abcdef"}
    statuses: list[int] = []
    async with build_async_client(
        VENDOR, env=env, transport=httpx.MockTransport(handler), clock=clock, sleep=clock.asleep
    ) as client:

        async def call() -> None:
            statuses.append((await client.get("/invoices")).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
    assert statuses == [200] * 20
    assert len(token_requests) == 1
    assert token_requests[0].headers["Content-Type"] == "application/json"  # the overlay's token_request


def test_sync_twin_retries_429_after_retry_after() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200)

    with build_sync_client(
        VENDOR, env={}, transport=httpx.MockTransport(handler), clock=clock, sleep=clock.sleep
    ) as client:
        assert client.get("/invoices").status_code == 200
    assert clock.now == 102.0 and len(calls) == 2


# ---------------------------------------------------------------------------- secrets


@pytest.mark.anyio
async def test_secrets_never_reach_log_records_or_exception_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "qk-7f3a9c51e2"
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        assert parse_qs(request.url.query.decode())["api_key"] == [secret]
        if request.method == "POST":
            raise httpx.ReadError(f"connection reset while talking to {request.url}")
        if len(attempts) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={})

    env = {"LEDGERMCP_FAKEQUERY_API_KEY": secret}
    async with build_async_client(
        QUERY_KEY_VENDOR, env=env, transport=httpx.MockTransport(handler), clock=clock, sleep=clock.asleep
    ) as client:
        assert (await client.get("/invoices", params={"limit": 5})).status_code == 200
        with pytest.raises(httpx.ReadError) as caught:
            await client.post("/invoices", json={"Amount": 1})

    failure = classify_exception(caught.value)
    assert failure.code is Code.NETWORK_ERROR and failure.may_have_been_sent
    texts = [failure.message, failure.hint, *getattr(caught.value, "__notes__", [])]
    texts += [r.getMessage() for r in caplog.records]
    assert texts and all(secret not in t for t in texts)
    # the request lines were logged, with the key masked, not dropped
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("api_key=%2A%2A%2A" in line or "api_key=***" in line for line in httpx_lines), httpx_lines


# ---------------------------------------------------------------------------- the generated tables


@pytest.mark.parametrize("vendor", available_vendors())
def test_generated_vendor_tables_build_a_client(vendor: str) -> None:
    info = load_vendor(vendor).info
    client = build_async_client(info, env={}, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert str(client.base_url).rstrip("/") == info["base_url"].rstrip("/")
    names = {v.name for v in accepted_env_vars(info)}
    assert f"{info['env_prefix']}_BASE_URL" in names and f"{info['env_prefix']}_TIMEOUT_MS" in names


@pytest.mark.anyio
async def test_the_network_transport_is_built_on_the_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building httpx's transport loads the CA bundle; a server pays it on its first call, not
    before it can list its tools. A client that never sends closes cleanly."""
    built: list[object] = []

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append(self)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(204)

    monkeypatch.setattr(httpx, "AsyncHTTPTransport", Counting)
    env = {"LEDGERMCP_FAKEINVOICE_API_KEY": "k"}
    async with build_async_client(VENDOR, env=env):
        pass
    assert built == []
    async with build_async_client(VENDOR, env=env) as client:
        assert built == []
        assert (await client.get("/invoices")).status_code == 204
        assert (await client.get("/invoices")).status_code == 204
        assert len(built) == 1


@pytest.mark.anyio
async def test_requests_do_not_search_for_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first request, further requests import nothing: a failing import (httpcore's
    `import sniffio` when it is missing) would walk sys.path on every call."""
    import importlib.machinery
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    searched: list[str] = []
    real_find_spec = importlib.machinery.PathFinder.find_spec

    def counting_find_spec(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return real_find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    env = {
        "LEDGERMCP_FAKEINVOICE_API_KEY": "k",
        "LEDGERMCP_FAKEINVOICE_BASE_URL": f"http://127.0.0.1:{upstream.server_port}",
    }
    try:
        async with build_async_client(VENDOR, env=env) as client:
            assert (await client.get("/invoices")).status_code == 200
            monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting_find_spec)
            for _ in range(5):
                assert (await client.get("/invoices")).status_code == 200
    finally:
        upstream.shutdown()
    assert searched == []
