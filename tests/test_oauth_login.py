"""Login against the local server (PKCE, state, file mode), client credentials, profiles, doctor
and the CLI verbs."""

from __future__ import annotations

import os
import stat
import sys
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import OAuthTestServer, client_env, seed_store, vendor_info, vendor_tools

from ledgermcp.server.oauth import login as login_mod
from ledgermcp.server.oauth.config import settings_from_vendor
from ledgermcp.server.oauth.errors import LoginError, ProfileError
from ledgermcp.server.oauth.profiles import banner, pointer_path, resolve_profile, tag, use_profile
from ledgermcp.server.oauth.stores import FileStore, open_store


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))
    for k in [
        k
        for k in os.environ
        if k.startswith(("LEDGERMCP_PROFILE", "LEDGERMCP_TOKEN_STORE", "LEDGERMCP_TESTVENDOR"))
    ]:
        monkeypatch.delenv(k)


@pytest.fixture
def server():
    with OAuthTestServer() as srv:
        yield srv


def browser(tamper_state: bool = False):
    """Plays the user's browser: the server approves at once and redirects to the callback."""

    def open_url(url: str) -> None:
        r = httpx.get(url)
        assert r.status_code == 302
        target = urlparse(r.headers["location"])
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        if tamper_state:
            query["state"] = "forged-" + query["state"]
        httpx.get(target._replace(query=urlencode(query)).geturl())

    return open_url


def test_login_pkce_state_and_private_file(server, tmp_path):
    settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
    store = FileStore(tmp_path / "data" / "tokens")
    record = login_mod.login_authorization_code(settings, store, port=0, opener=browser(), timeout=10)
    assert server.counts["pkce_ok"] == 1 and server.counts["pkce_failed"] == 0
    assert server.accepts(record.refresh_token)
    assert record.scope == ("invoice", "customer")
    path = store.path(settings.store_key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_login_refuses_a_wrong_state(server, tmp_path):
    settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
    store = FileStore(tmp_path / "data" / "tokens")
    with pytest.raises(LoginError) as info:
        login_mod.login_authorization_code(
            settings, store, port=0, opener=browser(tamper_state=True), timeout=10
        )
    assert "state" in str(info.value)
    assert server.counts["code_ok"] == 0 and server.counts["pkce_ok"] == 0  # nothing was exchanged
    assert store.load(settings.store_key) is None


def test_server_verifies_pkce(server, tmp_path, monkeypatch):
    real = login_mod.pkce_pair

    def wrong_verifier():
        _verifier, challenge = real()
        return "not-the-verifier-" + "x" * 40, challenge

    monkeypatch.setattr(login_mod, "pkce_pair", wrong_verifier)
    settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
    with pytest.raises(LoginError) as info:
        login_mod.login_authorization_code(
            settings, FileStore(tmp_path / "t"), port=0, opener=browser(), timeout=10
        )
    assert "PKCE" in str(info.value)
    assert server.counts["pkce_failed"] == 1


def test_login_needs_client_credentials(server, tmp_path):
    settings = settings_from_vendor(vendor_info(server.url), "default", {})
    with pytest.raises(LoginError) as info:
        login_mod.login_authorization_code(
            settings, FileStore(tmp_path / "t"), port=0, opener=browser(), timeout=5
        )
    assert "LEDGERMCP_TESTVENDOR_CLIENT_ID" in str(info.value)


# -- profiles ---------------------------------------------------------------------------------


def test_profile_precedence_and_fail_closed_pointer(tmp_path):
    env = {"LEDGERMCP_CONFIG_DIR": str(tmp_path / "cfg")}
    assert resolve_profile(None, env).name == "default"
    use_profile("staging", env)
    assert stat.S_IMODE(pointer_path(env).stat().st_mode) == 0o600
    assert resolve_profile(None, env).source == "pointer"
    assert resolve_profile(None, {**env, "LEDGERMCP_PROFILE": "prod"}).name == "prod"
    assert resolve_profile("cli", {**env, "LEDGERMCP_PROFILE": "prod"}).name == "cli"
    pointer_path(env).write_bytes(b"\xff\xfe garbage \x00")
    with pytest.raises(ProfileError) as info:
        resolve_profile(None, env)
    assert "refusing to start" in str(info.value) and "ledgermcp profile use" in str(info.value)
    lenient = resolve_profile(None, env, strict=False)
    assert lenient.pointer_error and lenient.name == "default"
    # an explicit choice still works with a broken pointer
    assert resolve_profile("acme", env).name == "acme"
    os.chmod(pointer_path(env), 0)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(ProfileError):
            resolve_profile(None, env)


def test_non_default_profile_names_itself():
    choice = resolve_profile("acme", {})
    assert banner(choice) == "[profile: acme] using profile 'acme' (from --profile)"
    assert banner(resolve_profile(None, {"LEDGERMCP_CONFIG_DIR": "/nonexistent"})) is None
    assert tag("token refresh failed", choice) == "[profile: acme] token refresh failed"
    assert tag("x", "default") == "x"


# -- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli(server, monkeypatch):
    from ledgermcp.server import cli_auth
    from ledgermcp.server.cli import main

    monkeypatch.setattr(cli_auth, "load_vendor_table", lambda name: (vendor_info(server.url), vendor_tools()))
    for k, v in client_env().items():
        monkeypatch.setenv(k, v)
    return main


def test_cli_login_profiles_and_doctor(server, cli, capsys, monkeypatch):
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", browser())
    assert cli(["login", "testvendor", "--profile", "acme", "--port", "0", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "[profile: acme] logged in to testvendor" in out
    assert cli(["profile", "use", "acme"]) == 0
    assert cli(["profile", "list"]) == 0
    assert "* acme: testvendor" in capsys.readouterr().out
    assert cli(["profile", "show"]) == 0
    assert "profile: acme (from pointer)" in capsys.readouterr().out
    assert cli(["doctor", "testvendor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split("]")[1].split(":")[0].strip() for line in lines]
    assert names == ["profile", "store", "credentials", "rotation", "token", "api", "scopes"]
    assert all(line.startswith("[ok") for line in lines), lines


def test_doctor_failing_lines_carry_their_fix(server, cli, capsys, tmp_path):
    # nothing stored yet
    assert cli(["doctor", "testvendor", "--profile", "nobody"]) == 1
    out = capsys.readouterr().out
    assert (
        "[FAIL] credentials: no tokens" in out
        and "fix: run `ledgermcp login testvendor --profile nobody`" in out
    )
    # scopes: the server grants fewer than the tools need
    server.scope = "invoice"
    settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
    store = open_store()
    seed_store(store, settings, server.new_chain())
    assert cli(["doctor", "testvendor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] scopes: not granted: customer (e.g. list_customers, 1 tools)" in out
    assert "fix: enable them" in out
    # a corrupt pointer: doctor still runs, and says how to repair
    pointer_path().parent.mkdir(parents=True, exist_ok=True)
    pointer_path().write_text("../../etc\n")
    assert cli(["doctor", "testvendor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] profile: the active-profile pointer" in out and "ledgermcp profile use NAME" in out


def test_cli_client_credentials_with_tenant(tmp_path, monkeypatch, capsys):
    from ledgermcp.server import cli_auth
    from ledgermcp.server.cli import main

    with OAuthTestServer(require_tenant="T-9") as srv:
        monkeypatch.setattr(
            cli_auth, "load_vendor_table", lambda name: (vendor_info(srv.url, "form"), vendor_tools())
        )
        for k, v in client_env().items():
            monkeypatch.setenv(k, v)
        assert main(["login", "testvendor", "--client-credentials", "--tenant-id", "T-9"]) == 0
        assert srv.counts["client_credentials"] == 1
        record = open_store().load("testvendor/default")
        assert record.origin == "client_credentials" and record.tenant_id == "T-9"
        assert main(["login", "testvendor", "--client-credentials", "--tenant-id", "wrong"]) == 1
        assert "TenantId" in capsys.readouterr().err


def test_auth_for_serve(server, tmp_path):
    import io

    from ledgermcp.server.oauth.auth import RotatingTokenAuth, auth_for_serve

    env = {
        **client_env(),
        "LEDGERMCP_DATA_DIR": str(tmp_path / "d"),
        "LEDGERMCP_CONFIG_DIR": str(tmp_path / "c"),
    }
    info = vendor_info(server.url)
    err = io.StringIO()
    choice, auth = auth_for_serve(info, "acme", env=env, stream=err)
    assert choice.name == "acme" and auth is None and err.getvalue().startswith("[profile: acme]")
    settings = settings_from_vendor(info, "acme", env)
    seed_store(open_store(env=env), settings, server.new_chain(), env)
    _choice, auth = auth_for_serve(info, "acme", env=env, stream=err)
    assert isinstance(auth, RotatingTokenAuth) and auth.key == "testvendor/acme"
    use_profile("acme", env)
    pointer_path(env).write_text("\x00")
    with pytest.raises(ProfileError):
        auth_for_serve(info, None, env=env, stream=err)
