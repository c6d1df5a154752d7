"""Auth from security schemes + environment, each scheme alone, on `httpx.MockTransport`."""

from __future__ import annotations

import json
import logging
import threading
import time
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import httpx
import pytest

from ledgermcp.server.http.auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    ClientCredentialsAuth,
    accepted_env_vars,
    auth_from_vendor,
)
from ledgermcp.server.http.errors import Code, TokenRequestError, classify_exception

TOKEN_URL = "https://auth.example.test/v2/auth/access-tokens"

VENDOR = {
    "name": "fakevendor",
    "base_url": "https://api.example.test/v2",
    "env_prefix": "LEDGERMCP_FAKEVENDOR",
    "env_aliases": {"access_token": ["FAKEVENDOR_ACCESS_TOKEN"], "api_key": ["FAKEVENDOR_KEY"]},
    "security_schemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "oauth": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_URL,
                    "scopes": {"invoice": "Invoices", "contact": "Contacts"},
                }
            },
        },
        "key": {"type": "apiKey", "in": "header", "name": "X-API-TOKEN"},
        "basic": {"type": "http", "scheme": "basic"},
    },
    "auth": {},
    "rate_limit": None,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"headers": dict(request.headers), "url": str(request.url)})


def send(auth: httpx.Auth, url: str = "https://api.example.test/v2/invoices") -> httpx.Request:
    with httpx.Client(transport=httpx.MockTransport(echo), auth=auth) as client:
        return client.get(url).request


# ---------------------------------------------------------------------------- schemes alone


def test_api_key_in_header() -> None:
    request = send(ApiKeyAuth("X-API-TOKEN", "k-123456"))
    assert request.headers["X-API-TOKEN"] == "k-123456"


def test_api_key_in_query_keeps_other_params() -> None:
    request = send(ApiKeyAuth("api_key", "k-123456", location="query"), "https://api.example.test/x?limit=5")
    assert parse_qs(request.url.query.decode()) == {"limit": ["5"], "api_key": ["k-123456"]}


def test_api_key_in_cookie() -> None:
    assert send(ApiKeyAuth("session", "k-123456", location="cookie")).headers["Cookie"] == "session=k-123456"


def test_basic_auth() -> None:
    request = send(BasicAuth("alice", "s3cret-pw"))
    assert request.headers["Authorization"] == "Basic YWxpY2U6czNjcmV0LXB3"


def test_bearer() -> None:
    assert send(BearerAuth("tok-abcdef")).headers["Authorization"] == "Bearer tok-abcdef"


def test_reprs_hide_secrets() -> None:
    auths = [
        ApiKeyAuth("X", "k-123456"),
        BearerAuth("tok-abcdef"),
        BasicAuth("alice", "s3cret-pw"),
        ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654"),
    ]
    text = " ".join(repr(a) for a in auths)
    for secret in ("k-123456", "tok-abcdef", "s3cret-pw", "cs-987654"):
        assert secret not in text


# ---------------------------------------------------------------------------- from the vendor table


def test_access_token_alias_gives_bearer() -> None:
    auth = auth_from_vendor(VENDOR, env={"FAKEVENDOR_ACCESS_TOKEN": "tok-alias"})
    assert isinstance(auth, BearerAuth)
    assert send(auth).headers["Authorization"] == "Bearer tok-alias"


def test_project_variable_wins_over_alias() -> None:
    env = {"FAKEVENDOR_ACCESS_TOKEN": "tok-alias", "LEDGERMCP_FAKEVENDOR_ACCESS_TOKEN": "tok-own"}
    assert send(auth_from_vendor(VENDOR, env=env)).headers["Authorization"] == "Bearer tok-own"


def test_client_credentials_from_env_use_the_flow() -> None:
    env = {"LEDGERMCP_FAKEVENDOR_CLIENT_ID": "client-1", "LEDGERMCP_FAKEVENDOR_CLIENT_SECRET": "cs-987654"}
    auth = auth_from_vendor(VENDOR, env=env)
    assert isinstance(auth, ClientCredentialsAuth)
    assert auth.token_url == TOKEN_URL and auth.scopes == ("invoice", "contact")
    env["LEDGERMCP_FAKEVENDOR_SCOPES"] = "invoice"
    assert auth_from_vendor(VENDOR, env=env).scopes == ("invoice",)


def test_api_key_and_basic_from_env() -> None:
    key = auth_from_vendor(VENDOR, env={"FAKEVENDOR_KEY": "k-123456"})
    assert send(key).headers["X-API-TOKEN"] == "k-123456"
    basic = auth_from_vendor(
        VENDOR, env={"LEDGERMCP_FAKEVENDOR_USERNAME": "alice", "LEDGERMCP_FAKEVENDOR_PASSWORD": "pw-1234"}
    )
    assert isinstance(basic, BasicAuth)


def test_query_api_key_scheme_from_env() -> None:
    vendor = {"name": "q", "security_schemes": {"k": {"type": "apiKey", "in": "query", "name": "token"}}}
    auth = auth_from_vendor(vendor, env={"LEDGERMCP_Q_API_KEY": "k-123456"})
    assert send(auth).url.params["token"] == "k-123456"


def test_nothing_configured_gives_no_auth() -> None:
    assert auth_from_vendor(VENDOR, env={}) is None
    assert auth_from_vendor({"name": "open"}, env={"LEDGERMCP_OPEN_API_KEY": "x"}) is None
    # a token does not turn an apiKey-only vendor into a bearer one
    key_only = {"name": "k", "security_schemes": {"k": {"type": "apiKey", "in": "header", "name": "X"}}}
    assert auth_from_vendor(key_only, env={"LEDGERMCP_K_ACCESS_TOKEN": "tok"}) is None


def test_accepted_env_vars_lists_what_the_schemes_need() -> None:
    listed = {v.name: v for v in accepted_env_vars(VENDOR)}
    assert set(listed) == {
        "LEDGERMCP_FAKEVENDOR_ACCESS_TOKEN",
        "LEDGERMCP_FAKEVENDOR_CLIENT_ID",
        "LEDGERMCP_FAKEVENDOR_CLIENT_SECRET",
        "LEDGERMCP_FAKEVENDOR_SCOPES",
        "LEDGERMCP_FAKEVENDOR_API_KEY",
        "LEDGERMCP_FAKEVENDOR_USERNAME",
        "LEDGERMCP_FAKEVENDOR_PASSWORD",
        "LEDGERMCP_FAKEVENDOR_BASE_URL",
        "LEDGERMCP_FAKEVENDOR_TIMEOUT_MS",
    }
    assert listed["LEDGERMCP_FAKEVENDOR_ACCESS_TOKEN"].aliases == ("FAKEVENDOR_ACCESS_TOKEN",)
    assert listed["LEDGERMCP_FAKEVENDOR_CLIENT_SECRET"].secret
    assert not listed["LEDGERMCP_FAKEVENDOR_CLIENT_ID"].secret
    basic_only = {"name": "fortnoxish", "security_schemes": {"basic": {"type": "http", "scheme": "basic"}}}
    assert [v.kind for v in accepted_env_vars(basic_only)] == [
        "username",
        "password",
        "base_url",
        "timeout_ms",
    ]


# ---------------------------------------------------------------------------- client credentials


class TokenServer:
    """A token endpoint and an API behind one MockTransport; counts token requests."""

    def __init__(self, clock=time.monotonic, expires_in: int | None = 3600) -> None:
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.expires_in = expires_in
        self.revoked: set[str] = set()
        self.clock = clock

    def token_response(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        body = {"access_token": f"tok-{len(self.token_requests):04d}", "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return httpx.Response(200, json=body)

    def api_response(self, request: httpx.Request) -> httpx.Response:
        self.api_requests.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.revoked:
            return httpx.Response(401)
        return httpx.Response(200, json={"token": token})

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        await anyio.lowlevel.checkpoint()  # let the other callers run into the lock
        if request.url == TOKEN_URL:
            await anyio.sleep(0.01)
            return self.token_response(request)
        return self.api_response(request)

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        if request.url == TOKEN_URL:
            time.sleep(0.02)  # widen the race window for the threads
            return self.token_response(request)
        return self.api_response(request)


@pytest.mark.anyio
async def test_client_credentials_token_fetched_once_for_20_concurrent_calls() -> None:
    server = TokenServer()
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654", scopes=["invoice"])
    tokens: list[str] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.async_handler), auth=auth) as client:

        async def call() -> None:
            response = await client.get("https://api.example.test/v2/invoices")
            tokens.append(response.json()["token"])

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)

    assert len(server.token_requests) == 1
    assert tokens == ["tok-0001"] * 20
    form = parse_qs(server.token_requests[0].content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "scope": ["invoice"],
        "client_id": ["client-1"],
        "client_secret": ["cs-987654"],
    }


def test_client_credentials_token_fetched_once_for_20_threads() -> None:
    server = TokenServer()
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654")
    with httpx.Client(transport=httpx.MockTransport(server.sync_handler), auth=auth) as client:
        threads = [
            threading.Thread(target=client.get, args=("https://api.example.test/v2/x",)) for _ in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.token_requests) == 1
    assert len(server.api_requests) == 20


def test_json_token_body_and_basic_client_auth() -> None:
    server = TokenServer()
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654", token_body="json", client_auth="basic")
    with httpx.Client(transport=httpx.MockTransport(server.sync_handler), auth=auth) as client:
        client.get("https://api.example.test/v2/x")
    token_request = server.token_requests[0]
    assert json.loads(token_request.content) == {"grant_type": "client_credentials"}
    assert token_request.headers["Authorization"].startswith("Basic ")


def test_token_is_reused_until_shortly_before_expiry() -> None:
    now = [0.0]
    server = TokenServer(expires_in=100)
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654", leeway=30, clock=lambda: now[0])
    with httpx.Client(transport=httpx.MockTransport(server.sync_handler), auth=auth) as client:
        client.get("https://api.example.test/v2/x")
        now[0] = 89.0  # lifetime 100 s, renewed 10 s (a tenth, below the 30 s leeway) early
        client.get("https://api.example.test/v2/x")
        assert len(server.token_requests) == 1
        now[0] = 90.5
        assert client.get("https://api.example.test/v2/x").json()["token"] == "tok-0002"
    assert len(server.token_requests) == 2


def test_rejected_cached_token_is_replaced_once() -> None:
    server = TokenServer()
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654")
    with httpx.Client(transport=httpx.MockTransport(server.sync_handler), auth=auth) as client:
        client.get("https://api.example.test/v2/x")
        server.revoked.add("tok-0001")
        response = client.get("https://api.example.test/v2/x")
        assert response.status_code == 200 and response.json()["token"] == "tok-0002"
        server.revoked.add("tok-0002")
        server.revoked.add("tok-0003")
        assert client.get("https://api.example.test/v2/x").status_code == 401  # no loop
    assert len(server.token_requests) == 3


@pytest.mark.anyio
async def test_token_endpoint_refusal_is_unauthorized_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        # a careless endpoint echoing the secret back
        return httpx.Response(401, json={"error": "invalid_client", "detail": "bad secret cs-987654"})

    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cs-987654")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        with pytest.raises(TokenRequestError) as caught:
            await client.get("https://api.example.test/v2/x")
    failure = classify_exception(caught.value)
    assert failure.code is Code.UNAUTHORIZED
    assert "invalid_client" in failure.message
    assert "cs-987654" not in str(caught.value) + failure.message + failure.hint
    assert all("cs-987654" not in r.getMessage() for r in caplog.records)
