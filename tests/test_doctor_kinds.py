"""`doctor` judges each kind of credential on its own, and calls a token valid only after an
authenticated call with it succeeded."""

from __future__ import annotations

import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import OAuthTestServer, client_env, vendor_info, vendor_tools

from ledgermcp.server.oauth.doctor import run_doctor

PREFIX = "LEDGERMCP_TESTVENDOR"


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def server():
    with OAuthTestServer() as srv:
        yield srv


def by_name(checks):
    out: dict[str, list] = {}
    for c in checks:
        out.setdefault(c.name, []).append(c)
    return out


def access_token(server: OAuthTestServer) -> str:
    with server.lock:
        return server._issue(None, server.scope)["access_token"]


def test_only_an_access_token_passes_and_is_valid_after_the_api_answered(server) -> None:
    env = {f"{PREFIX}_ACCESS_TOKEN": access_token(server)}  # no client id/secret, no refresh token
    checks = run_doctor(
        vendor_info(server.url), vendor_tools(), profile="default", store_kind="file", env=env
    )
    lines = [c.line() for c in checks]
    assert not [c for c in checks if c.status == "FAIL"], lines
    named = by_name(checks)
    assert [c.status for c in named["credentials"]] == ["ok"]
    assert "ACCESS_TOKEN" in named["credentials"][0].detail
    assert named["token"][0].status == "ok" and named["token"][0].detail.startswith("token valid")
    assert named["api"][0].status == "ok"
    assert server.counts["ping_ok"] == 1


def test_a_rejected_access_token_is_not_valid(server) -> None:
    env = {f"{PREFIX}_ACCESS_TOKEN": "at_not-issued-by-the-server"}
    checks = run_doctor(
        vendor_info(server.url), vendor_tools(), profile="default", store_kind="file", env=env
    )
    named = by_name(checks)
    assert named["token"][0].status == "FAIL" and "401" in named["token"][0].detail
    assert "valid" not in named["token"][0].detail


def test_an_unreachable_api_leaves_the_token_unverified(server) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    info = vendor_info(server.url)
    info["base_url"] = dead + "/api"
    env = {f"{PREFIX}_ACCESS_TOKEN": access_token(server)}
    checks = run_doctor(info, vendor_tools(), profile="default", store_kind="file", env=env)
    named = by_name(checks)
    token = named["token"][0]
    assert token.status == "warn" and "not verified" in token.detail and "valid" not in token.detail
    assert named["api"][0].status == "FAIL" and "cannot reach" in named["api"][0].detail


def test_a_refresh_token_without_the_client_fails_that_kind_only(server) -> None:
    env = {f"{PREFIX}_REFRESH_TOKEN": server.new_chain(), f"{PREFIX}_ACCESS_TOKEN": access_token(server)}
    checks = run_doctor(
        vendor_info(server.url), vendor_tools(), profile="default", store_kind="file", env=env
    )
    creds = by_name(checks)["credentials"]
    assert [c.status for c in creds] == ["FAIL", "ok"]
    assert "_CLIENT_ID" in creds[0].detail and "cannot be renewed" in creds[0].detail
    # with the client configured, the same refresh token is fine
    env.update(client_env())
    checks = run_doctor(
        vendor_info(server.url), vendor_tools(), profile="default", store_kind="file", env=env
    )
    assert not [c.line() for c in checks if c.status == "FAIL"]
    assert by_name(checks)["token"][0].detail.startswith("token valid")


def test_nothing_configured_fails_with_the_fix(server) -> None:
    checks = run_doctor(vendor_info(server.url), vendor_tools(), profile="default", store_kind="file", env={})
    creds = by_name(checks)["credentials"][0]
    assert creds.status == "FAIL" and "ledgermcp login testvendor" in (creds.fix or "")
