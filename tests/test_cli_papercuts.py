"""Small things a first-time user meets: output piped into `head`, the variables `tools --env`
lists, the warning of a server without credentials, help texts, README names, and the nearest
names for a mistyped tool."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.settings import env_table

ROOT = Path(__file__).resolve().parent.parent


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LEDGERMCP_", "FORTNOX_", "SMALLINVOICE_"))
    }
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(tmp_path / var.lower())  # no stored tokens
    env["LEDGERMCP_DATA_DIR"] = str(tmp_path / "data")
    env["LEDGERMCP_CONFIG_DIR"] = str(tmp_path / "config")
    return env


@pytest.mark.parametrize(
    ("argv", "breaks"),
    [
        (["tools", "fortnox", "--mode", "full", "--format", "table"], True),
        (["tools", "fortnox", "--mode", "full", "--format", "json"], True),
        # about 9 kB: the kernel may take it whole before the reader leaves
        (["call", "fortnox", "--list"], False),
    ],
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    argv: list[str], breaks: bool, tmp_path: Path
) -> None:
    import fcntl

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)  # the command outgrows it at once
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledgermcp", *argv],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
    )
    os.close(write_end)
    assert proc.stderr is not None
    with os.fdopen(read_end, "rb", buffering=0) as reader:  # reads no further than the line
        first = reader.readline()  # what `| head -1` reads, then it leaves
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first.strip()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err == ""
    # 141: the pipe broke (the output is far larger than it) and the command stopped as `yes | head` does
    assert code == 141 if breaks else code in (0, 141)


def test_env_lists_every_variable_the_runtime_reads() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "server").rglob("*.py"))
    read = set(re.findall(r"\b(LEDGERMCP_[A-Z_]*[A-Z])\b", source))
    vendor = load_vendor("fortnox")
    prefix = vendor.env_prefix
    # per-vendor names are built from the prefix (`LEDGERMCP_FORTNOX_<KIND>`): the kinds each layer reads
    oauth_kinds = re.findall(r'var\("([a-z_]+)"\)', (ROOT / "server" / "oauth" / "config.py").read_text())
    stack_kinds = re.findall(r'env_value\([^,]+, "([a-z_]+)"', source)
    assert {"client_id", "client_secret", "refresh_token", "access_token"} <= set(oauth_kinds)
    wanted = {n for n in read if not n.startswith(prefix)} | {
        f"{prefix}_{k.upper()}" for k in [*oauth_kinds, *stack_kinds]
    }
    wanted.discard(prefix)
    listed = {row["name"] for row in env_table(vendor.info)}
    assert sorted(wanted - listed) == []
    out = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "tools", "fortnox", "--env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for name in ("_CLIENT_ID", "_CLIENT_SECRET", "_REFRESH_TOKEN"):
        assert f"LEDGERMCP_FORTNOX{name} " in out.stdout


def _serve_stderr(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "serve", "fortnox", *extra],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env or clean_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_serve_warns_at_start_when_no_credentials_are_configured(tmp_path: Path) -> None:
    err = _serve_stderr(tmp_path)
    assert "warning: no credentials for fortnox" in err
    assert "ledgermcp login fortnox" in err and "LEDGERMCP_FORTNOX_ACCESS_TOKEN" in err
    assert "no credentials" not in _serve_stderr(tmp_path, "--sandbox")
    env = clean_env(tmp_path) | {"LEDGERMCP_FORTNOX_ACCESS_TOKEN": "tok-papercut-test"}
    assert "no credentials" not in _serve_stderr(tmp_path, env=env)


def test_serve_help_names_the_http_transport() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "Streamable HTTP" in out.stdout and "--transport http" in out.stdout
    top = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "--help"], capture_output=True, text=True, timeout=60
    )
    serve_line = next(line for line in top.stdout.splitlines() if line.strip().startswith("serve"))
    assert "HTTP" in serve_line


def test_readme_names_tools_of_the_vendor_it_says() -> None:
    readme = (ROOT / "README.md").read_text()
    intro = readme.split("Every API operation becomes a well-named MCP tool (", 1)[1].split(")", 1)[0]
    names = re.findall(r"`([a-z_]+)`", intro)
    fortnox = load_vendor("fortnox").by_name
    assert names and [n for n in names if n not in fortnox] == []
    # every backticked tool-like name in the README is a tool of some vendor, or a runtime tool
    known = set(fortnox) | set(load_vendor("smallinvoice").by_name)
    known |= {
        "search_operations",
        "describe_operation",
        "call_operation",
        "enable_groups",
        "restore_snapshot",
    }
    verbs = ("list_", "get_", "create_", "update_", "delete_", "send_", "bookkeep_", "cancel_", "credit_")
    mentioned = {n for n in re.findall(r"`([a-z]+_[a-z_]+)`", readme) if n.startswith(verbs)}
    assert sorted(mentioned - known) == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["full", "auto"])
async def test_an_unknown_tool_gets_the_nearest_names_over_mcp(mode: str) -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, mode=mode)
    async with Client(app.server, mode="legacy") as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("create_custmer", {"Name": "Acme"})
    await app.aclose()
    assert "did you mean: create_customer" in str(info.value)


def test_an_unknown_tool_gets_the_nearest_names_in_the_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "call", "fortnox", "create_custmer", "Name=Acme", "--sandbox"],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 2
    assert "did you mean: create_customer" in done.stderr and "Traceback" not in done.stderr


def test_a_mistyped_vendor_gets_the_nearest_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "call", "fortnx", "--list"],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert (
        done.returncode == 2 and "did you mean 'fortnox'?" in done.stderr and "Traceback" not in done.stderr
    )
