"""The approval key: `LEDGERMCP_APPROVAL_KEY` in any usual spelling, a clear refusal of a bad one
(exit 2 from `serve`), else a 0600 key file made once, agreed on by processes starting together and
kept across restarts; the key never reaches a log line."""

from __future__ import annotations

import base64
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from mcp import Client
from secret_scan import register_secret
from test_remote_support import CLI, clean_env, free_port

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.http.redact import MASK, install_log_redaction
from ledgermcp.server.safety import ApprovalKeyError, options_from_env
from ledgermcp.server.safety.gates import FOREIGN_KEY, TokenSigner
from ledgermcp.server.safety.keys import APPROVAL_KEY_ENV, KEY_FILE, approval_key, parse_key
from ledgermcp.server.settings import env_table

RAW = bytes(range(32))
MAKE_ONE = "secrets.token_urlsafe(32)"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    "text",
    [
        RAW.hex(),
        RAW.hex().upper(),
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        f"  {base64.b64encode(RAW).decode()}\n",
    ],
)
def test_the_usual_spellings_give_the_same_key(text: str) -> None:
    assert parse_key(text, APPROVAL_KEY_ENV) == RAW


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (RAW[:16].hex(), "holds 16 bytes"),
        ("c2hvcnQ", "holds 5 bytes"),
        ("not a key, just words", "is not base64 or hex"),
        ("a" * 43 + "!", "is not base64 or hex"),
    ],
)
def test_a_bad_key_is_refused_with_how_to_make_one(text: str, problem: str) -> None:
    with pytest.raises(ApprovalKeyError) as caught:
        options_from_env({APPROVAL_KEY_ENV: text})
    message = str(caught.value)
    assert message.startswith(APPROVAL_KEY_ENV) and problem in message and MAKE_ONE in message
    # also while approval is off: a wrong setting is not kept quiet until it matters
    with pytest.raises(ApprovalKeyError):
        options_from_env({APPROVAL_KEY_ENV: text}, approve="never")


def test_the_key_file_is_made_private_once_and_reused(tmp_path: Path) -> None:
    env = {"LEDGERMCP_DATA_DIR": str(tmp_path / "data")}
    first = options_from_env(env).approval_key
    path = tmp_path / "data" / KEY_FILE
    assert first is not None and first.source == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temporary file left behind
    assert len(parse_key(path.read_text(), "file")) >= 32
    again = approval_key(env)
    assert again.secret == first.secret and again.key_id == first.key_id
    # the variable wins over the file
    given = approval_key({**env, APPROVAL_KEY_ENV: RAW.hex()})
    assert given.secret == RAW and given.source == APPROVAL_KEY_ENV
    # approval off: no key, no file
    assert (
        options_from_env({"LEDGERMCP_DATA_DIR": str(tmp_path / "other")}, approve="never").approval_key
        is None
    )
    assert not (tmp_path / "other").exists()


def test_a_damaged_key_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("too short\n")
    os.chmod(path, 0o644)
    with pytest.raises(ApprovalKeyError) as caught:
        approval_key({"LEDGERMCP_DATA_DIR": str(tmp_path)})
    assert str(path) in str(caught.value) and "remove it" in str(caught.value)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened even so


def test_the_key_is_masked_in_log_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    given = base64.urlsafe_b64encode(os.urandom(32)).decode()
    register_secret(given, "LEDGERMCP_APPROVAL_KEY given")
    approval_key({APPROVAL_KEY_ENV: given})
    from_file = approval_key({"LEDGERMCP_DATA_DIR": str(tmp_path)})
    file_text = (tmp_path / KEY_FILE).read_text().strip()
    assert from_file.source.endswith(KEY_FILE)
    install_log_redaction()
    log = logging.getLogger("ledgermcp.http")  # one of the loggers the redaction filter guards
    with caplog.at_level(logging.INFO, logger="ledgermcp.http"):
        log.info("configured with %s and %s", given, file_text)
    assert caplog.messages == [f"configured with {MASK} and {MASK}"]


@pytest.mark.anyio
async def test_the_signer_tells_the_reasons_apart() -> None:
    now = [1000.0]
    ours = TokenSigner(key=RAW, ttl=60, clock=lambda: now[0], scope="fortnox|x|profile:a")
    theirs = TokenSigner(key=RAW[::-1], ttl=60, clock=lambda: now[0], scope="fortnox|x|profile:a")
    token, expires = ours.issue("digest")
    assert expires == 1060 and token.startswith(f"v2.{ours.key_id}.1060.")
    assert await theirs.check(token, "digest") == FOREIGN_KEY
    assert await ours.check("v1.1060.nonce.mac", "digest") == FOREIGN_KEY  # signed before keys were kept
    assert "different plan" in (await ours.check(token, "other digest") or "")
    assert await ours.check("v2.only.three", "digest") == "the approval token is malformed"
    assert await ours.check(None, "digest") == "the approval token is malformed"
    assert await ours.check(token, "digest") is None
    assert await ours.check(token, "digest") == "the approval token was already used"
    late, _ = ours.issue("digest")
    now[0] += 61
    assert await ours.check(late, "digest") == "the approval token has expired"


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from ledgermcp.server.safety.keys import approval_key
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.001)
    print(approval_key({"LEDGERMCP_DATA_DIR": sys.argv[2]}).key_id)
    """
)


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    for round_ in range(3):
        data, go = tmp_path / f"data{round_}", tmp_path / f"go{round_}"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, str(go), str(data)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        time.sleep(0.5)  # let them all reach the wait (they race whether or not they all did)
        go.touch()
        ids = set()
        for racer in racers:
            out, err = racer.communicate(timeout=60)
            assert racer.returncode == 0, err
            ids.add(out.strip())
        path = data / KEY_FILE
        assert ids == {approval_key({"LEDGERMCP_DATA_DIR": str(data)}).key_id}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in data.iterdir()] == [KEY_FILE]


@pytest.mark.anyio
async def test_a_token_outlives_a_restart(tmp_path: Path) -> None:
    env = {"LEDGERMCP_DATA_DIR": str(tmp_path / "data")}
    vendor = load_vendor("fortnox")

    def start() -> object:
        safety = options_from_env(env, approve="destructive", snapshots=False, audit_log="-")
        return create_app(vendor, sandbox=True, environ={}, safety=safety)

    before = start()
    async with Client(before.server) as client:
        first = await client.call_tool("delete_customer", {"CustomerNumber": "17"})
    token = first.structured_content["approval"]["token"]
    await before.aclose()

    after = start()  # a new process would read the same key file
    async with Client(after.server) as client:
        done = await client.call_tool("delete_customer", {"CustomerNumber": "17", "_approval": token})
    # the approval passed: the request reached the (new, empty) sandbox, which has no customer 17
    assert [(r.method, r.url.path) for r in after.sandbox.requests] == [("DELETE", "/3/customers/17")]
    assert done.structured_content["error"]["code"] == "NOT_FOUND"
    await after.aclose()


@pytest.mark.parametrize("extra", [[], ["--sandbox"]])
def test_serve_refuses_a_malformed_key_with_exit_2(tmp_path: Path, extra: list[str]) -> None:
    env = clean_env(
        LEDGERMCP_APPROVAL_KEY="short-key",
        LEDGERMCP_DATA_DIR=str(tmp_path / "data"),
        LEDGERMCP_CONFIG_DIR=str(tmp_path / "config"),
    )
    port = free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI,
            "serve",
            "fortnox",
            "--mode",
            "full",
            *extra,
            "--transport",
            "http",
            "--port",
            str(port),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert f"ledgermcp: {APPROVAL_KEY_ENV}" in done.stderr and MAKE_ONE in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)  # it never listened


def test_the_env_listing_names_the_shared_settings() -> None:
    rows = {r["name"]: r for r in env_table(load_vendor("fortnox").info)}
    assert rows[APPROVAL_KEY_ENV]["secret"] and "32 bytes" in rows[APPROVAL_KEY_ENV]["purpose"]
    assert "approval tokens" in rows["LEDGERMCP_REDIS_URL"]["purpose"]
