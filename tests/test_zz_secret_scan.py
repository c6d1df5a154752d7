"""The suite-wide secret scan (tests/secret_scan.py): it catches planted leaks in every kind of
output it collects, a leaking session fails with the place named, and, collected last, nothing
this session produced so far carries a credential the tests used."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fixtures.acme_tools import acme_vendor
from mcp import Client
from secret_scan import (
    SecretScanner,
    SessionSecretScan,
    basic_credentials,
    register_env_secrets,
    session_plugin,
)

from ledgermcp.server.app import create_app
from ledgermcp.server.safety.audit import AuditLog
from ledgermcp.server.safety.snapshots import SnapshotStore

TESTS = Path(__file__).resolve().parent
PLANTED = "at_planted-leak-5e6f7a8b9c"  # known only to the isolated scanners below


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_scanner_names_each_leak_without_repeating_the_secret() -> None:
    scanner = SecretScanner()
    scanner.register(PLANTED, "access token")
    scanner.register(basic_credentials("client-1", "cs-very-secret"), "Basic credentials")
    scanner.register("short", "too short to scan")
    scanner.context = "test_x"
    scanner.record("log record", f"GET /x?token={PLANTED}", "httpx INFO")
    scanner.record("tool result", '{"content": [{"text": "ok"}]}', "list_things")
    scanner.record("audit log", f'{{"auth": "Basic {basic_credentials("client-1", "cs-very-secret")}"}}')
    scanner.record("snapshot file", "nothing short here, nothing secret either")
    found = scanner.findings()
    assert sorted(f.label.split(" ")[0] for f in found) == ["Basic", "access"]
    by_label = {f.label.split(" ")[0]: f for f in found}
    assert by_label["access"].source == "log record [httpx INFO] during test_x"
    assert by_label["Basic"].source == "audit log during test_x"
    report = scanner.report(found)
    assert PLANTED not in report and "at_p…(26 chars)" in report and "2 secret leak(s)" in report
    assert "token=<at_p…(26 chars)>" in by_label["access"].excerpt
    # clean texts, or secrets nobody registered, give nothing
    clean = SecretScanner()
    clean.register(PLANTED, "access token")
    clean.record("log record", "GET /x?token=***")
    assert clean.findings() == []


def test_a_leak_is_reported_once_per_place_and_at_most_three_places() -> None:
    scanner = SecretScanner()
    scanner.register(PLANTED, "access token")
    for n in range(5):
        scanner.record("log record", f"line {n}: {PLANTED} and again {PLANTED}", f"logger{n}")
    scanner.record("log record", f"line 0: {PLANTED} and again {PLANTED}", "logger0")  # same text
    found = scanner.findings()
    assert [f.source for f in found] == [f"log record [logger{n}]" for n in range(3)]
    assert scanner.counts["log record"] == 6


@pytest.mark.anyio
async def test_every_hook_feeds_a_planted_leak_to_the_capturing_scanner(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """The session's own hooks (log handler, pipeline, MCP client, snapshot and audit writers, file
    sweep, environment) route into an isolated scanner while it captures; the session sees none
    of it."""
    isolated = SecretScanner()
    isolated.register(PLANTED, "planted token")

    def leaky_upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Customers": [{"Name": PLANTED}]})

    client = httpx.AsyncClient(
        base_url="https://api.acme.invalid", transport=httpx.MockTransport(leaky_upstream)
    )
    with isolated.capturing():
        logging.getLogger("ledgermcp.planted").debug("DEBUG records count too: %s", PLANTED)
        app = create_app(acme_vendor(), client=client, environ={})
        async with Client(app.server, mode="legacy") as mcp_client:
            result = await mcp_client.call_tool("list_customers", {})
        await app.aclose()
        assert not result.is_error
        SnapshotStore(tmp_path / "snapshots").save(
            {"id": "20260101T000000Z-planted-0123abcd", "entity": PLANTED}
        )
        AuditLog(tmp_path / "audit.jsonl", vendor="acme").write({"tool": "x", "note": PLANTED})
        server_dir = tmp_path / "server"
        server_dir.mkdir()
        (server_dir / "stderr").write_text(f"listening; token {PLANTED}\n")
        (server_dir / "tokens.json").write_text(f'{{"access_token": "{PLANTED}"}}')  # a store: not swept
        isolated.sweep(server_dir)
        register_env_secrets(
            {"LEDGERMCP_PLANTED_API_KEY": "k-planted-4711", "LEDGERMCP_PLANTED_BASE_URL": "x" * 9}
        )
        isolated.record("captured output", "key k-planted-4711 and xxxxxxxxx")
    found = isolated.findings(per_secret=10)
    sources = {f.source.split(" [")[0].split(" during")[0] for f in found}
    assert sources == {
        "log record",
        "tool result",
        "MCP client result",
        "snapshot file",
        "audit log",
        "server stderr",
        "captured output",
    }
    assert any(f.label.startswith("environment LEDGERMCP_PLANTED_API_KEY") for f in found)
    assert not any("xxxx" in f.label for f in found)  # a base URL is not a secret
    assert not any("tokens.json" in f.source for f in found)
    # the session's scanner saw none of it, and will not sweep the planted files either
    assert not installed_plugin(pytestconfig).scanner.contains(PLANTED)


def installed_plugin(config: pytest.Config) -> SessionSecretScan:
    plugin = session_plugin(config)
    assert plugin is not None, "tests/conftest.py did not install the secret scan"
    return plugin


LEAKY_SUITE = """
import logging

def test_leaks_a_token_into_a_log_line(monkeypatch):
    monkeypatch.setenv("LEDGERMCP_MINI_ACCESS_TOKEN", "at_mini-planted-0042")
    logging.getLogger("mini").info("calling with at_mini-planted-0042")

def test_clean():
    logging.getLogger("mini").info("nothing to see")
"""


def run_mini_session(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / "suite"
    suite.mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", suite / "conftest.py")
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_mini.py").write_text(body)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'bt'}",
            str(suite),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=suite,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )


def test_a_leaking_session_fails_and_names_the_place(tmp_path: Path) -> None:
    leaky = run_mini_session(tmp_path / "leaky", LEAKY_SUITE)
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    assert "2 passed" in leaky.stdout and "secret scan FAILED" in leaky.stdout
    assert "monkeypatch.setenv LEDGERMCP_MINI_ACCESS_TOKEN" in leaky.stdout
    assert "log record [mini INFO] during test_mini.py::test_leaks_a_token_into_a_log_line" in leaky.stdout
    assert "at_mini-planted-0042" not in leaky.stdout + leaky.stderr
    clean = run_mini_session(tmp_path / "clean", LEAKY_SUITE.replace("with at_mini-planted-0042", "with ***"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "secret scan: no leaks" in clean.stdout


# Which test modules produce which kind of record: when they ran, the hook must have seen some.
PRODUCERS = {
    "log record": "test_http_client.py",
    "tool result": "test_server_pipeline.py",
    "MCP client result": "test_server_e2e.py",
    "MCP HTTP answer": "test_remote_http.py",
    "snapshot file": "test_safety_gates.py",
    "audit log": "test_safety_gates.py",
    "server stderr": "test_remote_http.py",
}


def test_nothing_this_session_produced_carries_a_secret(request: pytest.FixtureRequest) -> None:
    """Collected last: everything recorded so far (the session end checks once more, including
    fixtures torn down after this test)."""
    plugin = installed_plugin(request.config)
    findings = plugin.scan()
    assert findings == [], plugin.scanner.report(findings)
    ran = {item.path.name for item in request.session.items if item.path.name != Path(__file__).name}
    silent = [
        kind for kind, module in PRODUCERS.items() if module in ran and plugin.scanner.counts[kind] == 0
    ]
    assert silent == [], f"hooks that collected nothing although their producers ran: {silent}"
    print(f"\n{plugin.scanner.summary()}")
