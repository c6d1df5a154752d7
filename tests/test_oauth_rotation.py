"""The rotating auth against the local token server: lazy refresh, skip when another process
rotated, environment vs store, one clear error for a dead chain, one retry on 401, sync and async."""

from __future__ import annotations

import os
import sys

import httpx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthTestServer, client_env, seed_store, vendor_info

from ledgermcp.server.oauth.auth import RotatingTokenAuth
from ledgermcp.server.oauth.config import settings_from_vendor
from ledgermcp.server.oauth.errors import NotLoggedIn, ReauthRequired
from ledgermcp.server.oauth.stores import FileStore


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def server():
    with OAuthTestServer(expires_in=3600) as srv:
        yield srv


def make(server, tmp_path, style="json", profile="default", extra_env=None):
    env = {**client_env(), **(extra_env or {})}
    settings = settings_from_vendor(vendor_info(server.url, style), profile, env)
    store = FileStore(tmp_path / "tokens")
    return settings, store


@pytest.mark.parametrize("style", ["json", "form"])
def test_refreshes_lazily_and_persists_before_use(server, tmp_path, style):
    settings, store = make(server, tmp_path, style)
    seed_store(store, settings, server.new_chain())
    auth = RotatingTokenAuth(settings, store)
    with httpx.Client(auth=auth) as client:
        for _ in range(5):
            assert client.get(f"{server.url}/api/ping").status_code == 200
    # one refresh: the access token lasts an hour
    assert server.counts["refresh_ok"] == 1
    record = store.load(settings.store_key)
    assert server.accepts(record.refresh_token)
    assert record.pending is None and record.broken is None
    assert record.scope == ("invoice", "customer")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_async_flow(server, tmp_path):
    import anyio

    server.expires_in = 0  # every call needs a new token
    settings, store = make(server, tmp_path)
    seed_store(store, settings, server.new_chain())
    auth = RotatingTokenAuth(settings, store)
    async with httpx.AsyncClient(auth=auth) as client:
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(client.get, f"{server.url}/api/ping")
        for _ in range(3):
            assert (await client.get(f"{server.url}/api/ping")).status_code == 200
    assert auth.refreshes == 9
    assert server.counts["invalid_grant"] == 0
    assert server.counts["ping_401"] == 0
    assert server.accepts(store.load(settings.store_key).refresh_token)


def test_skips_refresh_when_another_process_rotated(server, tmp_path):
    server.expires_in = 60
    settings, store = make(server, tmp_path)
    seed_store(store, settings, server.new_chain())
    a = RotatingTokenAuth(settings, store)
    b = RotatingTokenAuth(settings, store)
    with httpx.Client(auth=a) as ca, httpx.Client(auth=b) as cb:
        assert ca.get(f"{server.url}/api/ping").status_code == 200
        assert cb.get(f"{server.url}/api/ping").status_code == 200
    assert (a.refreshes, b.refreshes) == (1, 0)
    assert server.counts["refresh_ok"] == 1


def test_env_refresh_token_seeds_then_the_store_wins(server, tmp_path):
    first = server.new_chain()
    settings, store = make(server, tmp_path, extra_env={"LEDGERMCP_TESTVENDOR_REFRESH_TOKEN": first})
    with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client:
        assert client.get(f"{server.url}/api/ping").status_code == 200
    stored = store.load(settings.store_key)
    assert stored.origin == "env" and stored.refresh_token != first
    # a later process with the same (now revoked) environment token uses the store, not the env
    server.revoke_access_tokens()
    with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client:
        assert client.get(f"{server.url}/api/ping").status_code == 200
    assert server.counts["invalid_grant"] == 0
    # a different token put in the environment (a new bootstrap) replaces the env-seeded chain
    second = server.new_chain()
    settings2, _ = make(server, tmp_path, extra_env={"LEDGERMCP_TESTVENDOR_REFRESH_TOKEN": second})
    server.revoke_access_tokens()
    with httpx.Client(auth=RotatingTokenAuth(settings2, store)) as client:
        assert client.get(f"{server.url}/api/ping").status_code == 200
    assert not server.accepts(second)  # consumed
    assert server.counts["invalid_grant"] == 0


def test_env_never_overrides_a_login(server, tmp_path):
    settings, store = make(server, tmp_path)
    seed_store(store, settings, server.new_chain())
    stale = server.new_chain()
    settings_env, _ = make(server, tmp_path, extra_env={"LEDGERMCP_TESTVENDOR_REFRESH_TOKEN": stale})
    with httpx.Client(auth=RotatingTokenAuth(settings_env, store)) as client:
        assert client.get(f"{server.url}/api/ping").status_code == 200
    assert server.accepts(stale)  # untouched


def test_rejected_refresh_token_gives_one_error_and_no_loop(server, tmp_path):
    settings, store = make(server, tmp_path, profile="acme")
    rt = server.new_chain()
    seed_store(store, settings, rt)
    server.live_refresh_tokens()
    with server.lock:
        server.refresh_tokens.clear()  # the chain is dead (revoked elsewhere)
    auth = RotatingTokenAuth(settings, store)
    with httpx.Client(auth=auth) as client:
        for _ in range(5):
            with pytest.raises(ReauthRequired) as info:
                client.get(f"{server.url}/api/ping")
            assert "ledgermcp login testvendor --profile acme" in str(info.value)
            assert str(info.value).startswith("[profile: acme]")
    # other processes see the broken state too and do not try
    with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client, pytest.raises(ReauthRequired):
        client.get(f"{server.url}/api/ping")
    assert server.counts["invalid_grant"] == 1
    assert store.load(settings.store_key).broken["error"] == "invalid_grant"


def test_one_refresh_and_one_retry_on_401(server, tmp_path):
    settings, store = make(server, tmp_path)
    seed_store(store, settings, server.new_chain())
    auth = RotatingTokenAuth(settings, store)
    with httpx.Client(auth=auth) as client:
        assert client.get(f"{server.url}/api/ping").status_code == 200
        server.revoke_access_tokens()  # the API stops accepting the (unexpired) access token
        assert client.get(f"{server.url}/api/ping").status_code == 200
        assert auth.refreshes == 2
        # an API that keeps answering 401: one refresh, one retry, then the 401 comes back
        server.access_lifetime = -1
        server.revoke_access_tokens()
        assert client.get(f"{server.url}/api/ping").status_code == 401
        assert auth.refreshes == 3


def test_not_logged_in(server, tmp_path):
    settings, store = make(server, tmp_path)
    with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client, pytest.raises(NotLoggedIn) as info:
        client.get(f"{server.url}/api/ping")
    assert "ledgermcp login testvendor" in str(info.value)


def test_client_credentials_renews_with_the_same_grant_and_tenant(tmp_path):
    from ledgermcp.server.oauth.login import login_client_credentials

    with OAuthTestServer(expires_in=0, require_tenant="T-42") as srv:
        settings, store = make(
            srv, tmp_path, style="form", extra_env={"LEDGERMCP_TESTVENDOR_TENANT_ID": "T-42"}
        )
        record = login_client_credentials(settings, store)
        assert record.origin == "client_credentials" and record.refresh_token is None
        with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client:
            for _ in range(3):
                assert client.get(f"{srv.url}/api/ping").status_code == 200
        assert srv.counts["client_credentials"] == 4


def test_token_url_override_and_known_vendor_facts():
    info = {"name": "fortnox", "env_prefix": "LEDGERMCP_FORTNOX", "security_schemes": {}, "auth": {}}
    s = settings_from_vendor(info, env={})
    assert s.token_url == "https://apps.fortnox.se/oauth-v1/token"
    assert (s.token_request, s.client_auth, s.tenant_header) == ("form", "basic", "TenantId")
    s = settings_from_vendor(
        info,
        env={
            "LEDGERMCP_FORTNOX_TOKEN_URL": "http://127.0.0.1:1/t",
            "LEDGERMCP_FORTNOX_AUTHORIZE_URL": "http://127.0.0.1:1/a",
        },
    )
    assert (s.token_url, s.authorize_url) == ("http://127.0.0.1:1/t", "http://127.0.0.1:1/a")
    small = settings_from_vendor({"name": "smallinvoice", "env_prefix": "LEDGERMCP_SMALLINVOICE"}, env={})
    assert small.token_url == "https://api.smallinvoice.com/v2/auth/access-tokens"
    assert small.authorize_url == "https://api.smallinvoice.com/v2/auth/authorize"
    assert (small.token_request, small.client_auth) == ("json", "body")


def test_token_request_shapes():
    from ledgermcp.server.oauth.endpoint import build_token_request

    small = settings_from_vendor({"name": "smallinvoice", "env_prefix": "LEDGERMCP_SMALLINVOICE"}, env={})
    req = build_token_request(
        small,
        {"grant_type": "refresh_token", "refresh_token": "r"},
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert req.headers["content-type"] == "application/json"
    import json

    assert json.loads(req.content) == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    fortnox = settings_from_vendor({"name": "fortnox", "env_prefix": "LEDGERMCP_FORTNOX"}, env={})
    req = build_token_request(
        fortnox, {"grant_type": "client_credentials"}, client_id="a", client_secret="b", tenant_id="7"
    )
    assert req.headers["authorization"].startswith("Basic ")
    assert req.headers["TenantId"] == "7"
    assert req.content == b"grant_type=client_credentials"
