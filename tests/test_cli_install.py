"""`ledgermcp install`: each client's config gets a valid entry with an absolute command that
exists, merged into the existing file without losing its other entries, with a backup and no
secret value in it; the README's Claude Desktop snippet is what `install --print` prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from test_cli_papercuts import clean_env

from ledgermcp.server.cli_install import CLIENTS, config_path, strip_jsonc

ROOT = Path(__file__).resolve().parent.parent
SECRET = "tok-must-never-be-written-5f2c"

# an existing file per client, in the format that client writes (comments where it allows them)
EXISTING = {
    "claude-desktop": '{\n  "mcpServers": {\n    "other": {"command": "/usr/bin/other", "args": []}\n  },\n  "globalShortcut": "Ctrl+Space"\n}\n',
    "claude-code": '{"numStartups": 3, "projects": {"/x": {"mcpServers": {}}}, "mcpServers": {"other": {"type": "stdio", "command": "/usr/bin/other", "args": []}}}',
    "cursor": '{\n  // my servers\n  "mcpServers": {\n    "other": {"command": "/usr/bin/other", "args": [],},\n  },\n}\n',
    "vscode": '{\n  /* inputs the user set up */\n  "inputs": [{"type": "promptString", "id": "k", "password": true}],\n  "servers": {\n    "other": {"type": "stdio", "command": "/usr/bin/other",},\n  },\n}\n',
}


def install(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(tmp_path) | {"LEDGERMCP_FORTNOX_ACCESS_TOKEN": SECRET, "HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", "install", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def check_entry(entry: dict, client: str, *, sandbox: bool = False) -> None:
    command = Path(entry["command"])
    assert command.is_absolute() and command.is_file() and os.access(command, os.X_OK)
    args = entry["args"]
    serve_at = args.index("serve")
    assert args[:serve_at] in ([], ["-m", "ledgermcp"]) and args[serve_at + 1] == "fortnox"
    assert ("--sandbox" in args) == sandbox
    if CLIENTS[client].typed:
        assert entry["type"] == "stdio"


@pytest.mark.parametrize("client", list(CLIENTS))
def test_install_merges_a_valid_entry_and_keeps_a_backup(client: str, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(EXISTING[client])
    extra = ["--pass-env", "LEDGERMCP_FORTNOX_ACCESS_TOKEN"] if CLIENTS[client].env_ref else []
    done = install(tmp_path, client, "fortnox", "--config", str(config), "--max-tools", "40", *extra)
    assert done.returncode == 0, done.stderr
    text = config.read_text()
    data = json.loads(text)  # strict JSON: every one of the clients parses it
    key = CLIENTS[client].key
    assert set(data[key]) == {"other", "fortnox"} and data[key]["other"]["command"] == "/usr/bin/other"
    for k, v in json.loads(strip_jsonc(EXISTING[client])).items():
        if k != key:
            assert data[k] == v  # nothing else of the file is lost
    entry = data[key]["fortnox"]
    check_entry(entry, client)
    assert entry["args"][-2:] == ["--max-tools", "40"]
    assert SECRET not in text
    if extra:
        ref = entry["env"]["LEDGERMCP_FORTNOX_ACCESS_TOKEN"]
        assert "LEDGERMCP_FORTNOX_ACCESS_TOKEN" in ref and ref.startswith("${")
    backups = list(tmp_path.glob("config.json.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == EXISTING[client]
    # a second install replaces its own entry and keeps the first backup
    again = install(tmp_path, client, "fortnox", "--config", str(config))
    assert again.returncode == 0 and "replaced 'fortnox'" in again.stdout
    assert len(list(tmp_path.glob("config.json.*.bak"))) == 2
    assert set(json.loads(config.read_text())[key]) == {"other", "fortnox"}


def test_install_without_config_writes_where_the_client_keeps_it(tmp_path: Path) -> None:
    done = install(tmp_path, "claude-desktop", "fortnox", "--sandbox")
    assert done.returncode == 0, done.stderr
    written = tmp_path / "xdg_config_home" / "Claude" / "claude_desktop_config.json"
    entry = json.loads(written.read_text())["mcpServers"]["fortnox-sandbox"]
    check_entry(entry, "claude-desktop", sandbox=True)
    assert oct(written.stat().st_mode & 0o777) == oct(0o600)


def test_known_paths_per_system(tmp_path: Path) -> None:
    home = tmp_path
    env = {"APPDATA": str(tmp_path / "Roaming")}
    assert config_path("claude-desktop", system="Darwin", env={}, home=home) == (
        home / "Library/Application Support/Claude/claude_desktop_config.json"
    )
    assert config_path("claude-desktop", system="Windows", env=env, home=home) == (
        tmp_path / "Roaming/Claude/claude_desktop_config.json"
    )
    assert config_path("vscode", system="Linux", env={}, home=home) == home / ".config/Code/User/mcp.json"
    assert (
        config_path("vscode", system="Windows", env=env, home=home) == tmp_path / "Roaming/Code/User/mcp.json"
    )
    assert config_path("cursor", system="Windows", env=env, home=home) == home / ".cursor/mcp.json"
    assert config_path("claude-code", system="Darwin", env={}, home=home) == home / ".claude.json"


def test_bad_input_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    done = install(
        tmp_path,
        "claude-desktop",
        "fortnox",
        "--pass-env",
        "LEDGERMCP_FORTNOX_ACCESS_TOKEN",
        "--config",
        str(config),
    )
    assert done.returncode == 2 and "ledgermcp login fortnox" in done.stderr and not config.exists()
    done = install(
        tmp_path,
        "vscode",
        "fortnox",
        "--pass-env",
        f"LEDGERMCP_FORTNOX_ACCESS_TOKEN={SECRET}",
        "--config",
        str(config),
    )
    assert done.returncode == 2 and "name only" in done.stderr and not config.exists()
    done = install(tmp_path, "cursor", "fortnox", "--transport", "http", "--config", str(config))
    assert done.returncode == 2 and "stdio" in done.stderr
    done = install(tmp_path, "cursor", "fortnox", "--bogus", "--config", str(config))
    assert done.returncode == 2 and "no option --bogus" in done.stderr
    config.write_text("{not json")
    done = install(tmp_path, "claude-desktop", "fortnox", "--config", str(config))
    assert done.returncode == 2 and "not valid JSON" in done.stderr and config.read_text() == "{not json"
    for out in (done.stderr,):
        assert "Traceback" not in out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_written_entry_starts_a_working_server(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    done = install(tmp_path, "vscode", "fortnox", "--sandbox", "--config", str(config))
    assert done.returncode == 0, done.stderr
    entry = json.loads(config.read_text())["servers"]["fortnox-sandbox"]
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env=clean_env(tmp_path), cwd=str(tmp_path)
    )
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        tools = await client.list_tools()
    assert "enable_groups" in [t.name for t in tools.tools]


def test_readme_snippet_is_what_install_print_prints(tmp_path: Path) -> None:
    done = install(tmp_path, "claude-desktop", "fortnox", "--print")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    printed["mcpServers"]["fortnox"]["command"] = "/home/you/.local/bin/ledgermcp"
    if printed["mcpServers"]["fortnox"]["args"][:2] == ["-m", "ledgermcp"]:  # no script beside this Python
        printed["mcpServers"]["fortnox"]["args"] = printed["mcpServers"]["fortnox"]["args"][2:]
    readme = (ROOT / "README.md").read_text()
    section = readme.split("`ledgermcp install claude-desktop fortnox --print` gives:", 1)[1]
    snippet = re.search(r"```json\n(.*?)```", section, re.S)
    assert snippet is not None
    assert json.loads(snippet.group(1)) == printed
    assert snippet.group(1) == json.dumps(printed, indent=2) + "\n"
    assert not (tmp_path / "xdg_config_home" / "Claude").exists()  # --print writes nothing
    assert "uv tool install ." in readme and "pipx install ." in readme
