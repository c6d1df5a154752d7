"""No token, client secret or Authorization header value in any log line, CLI output or exception
message produced by the OAuth layer, across login, rotations, a broken chain and doctor."""

from __future__ import annotations

import base64
import logging
import os
import sys

import httpx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthTestServer, client_env, vendor_info, vendor_tools
from test_oauth_login import browser

from ledgermcp.server.oauth.auth import auth_for_vendor
from ledgermcp.server.oauth.errors import OAuthError
from ledgermcp.server.oauth.stores import open_store


def test_no_secret_in_logs_output_or_errors(tmp_path, monkeypatch, capsys, caplog):
    import webbrowser

    from ledgermcp.server import cli_auth
    from ledgermcp.server.cli import main

    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with OAuthTestServer(expires_in=0) as server:
        info = vendor_info(server.url)
        monkeypatch.setattr(cli_auth, "load_vendor_table", lambda name: (info, vendor_tools()))
        for k, v in client_env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(webbrowser, "open", browser())
        assert main(["login", "testvendor", "--port", "0", "--timeout", "10"]) == 0
        assert main(["login", "testvendor", "--client-credentials", "--profile", "svc"]) == 0
        auth = auth_for_vendor(info, "default")
        with httpx.Client(auth=auth) as client:
            for _ in range(5):
                assert client.get(f"{server.url}/api/ping").status_code == 200
        assert main(["doctor", "testvendor"]) == 0
        # break the chain: errors and doctor must still not echo anything secret
        with server.lock:
            server.refresh_tokens.clear()
        with httpx.Client(auth=auth_for_vendor(info, "default")) as client:
            for _ in range(2):
                with pytest.raises(OAuthError) as err:
                    client.get(f"{server.url}/api/ping")
                messages.append(str(err.value))
                messages.append(repr(err.value))
        assert main(["doctor", "testvendor"]) == 1
        # a wrong client secret: the token endpoint's refusal is reported without the secret
        monkeypatch.setenv("LEDGERMCP_TESTVENDOR_CLIENT_SECRET", "cs_wrong-secret-value-1234")
        assert main(["login", "testvendor", "--client-credentials", "--profile", "svc2"]) == 1
        issued = list(server.issued)
    out = capsys.readouterr()
    record = open_store().load("testvendor/svc")
    text = "\n".join([out.out, out.err, caplog.text, *messages, repr(record), record.describe()])
    assert "ledgermcp login testvendor" in text  # the scan saw the interesting output
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = [*issued, CLIENT_SECRET, "cs_wrong-secret-value-1234", basic]
    assert len(issued) >= 10
    leaked = [s[:6] + "…" for s in secrets if s in text]
    assert leaked == []
