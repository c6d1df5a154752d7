"""`ledgermcp call`: any tool from the command line through the same pipeline as MCP, approval
asked on a terminal (a pseudo-terminal here) and refused without one unless a token is given."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_cli_papercuts import clean_env

from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.cli_call import UsageError, parse_arguments, print_table


def env_for(tmp_path: Path) -> dict[str, str]:
    env = clean_env(tmp_path)
    env["LEDGERMCP_SANDBOX_JOURNAL"] = str(tmp_path / "journal.jsonl")
    return env


def sent(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "journal.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(r["method"], r["path"]) for r in map(json.loads, lines)]


def call(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", "call", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env_for(tmp_path),
        timeout=60,
    )


def test_create_customer_in_the_sandbox(tmp_path: Path) -> None:
    done = call(tmp_path, "fortnox", "create_customer", "Name=Acme", "--sandbox")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Customer"]["Name"] == "Acme"
    assert sent(tmp_path) == [("POST", "/3/customers")]


def test_the_pipeline_checks_run_as_over_mcp(tmp_path: Path) -> None:
    bad = call(tmp_path, "fortnox", "create_customer", "Nmae=Acme", "--sandbox")
    assert (
        bad.returncode == 1 and "VALIDATION_ERROR" in bad.stderr and "unknown argument 'Nmae'" in bad.stderr
    )
    dry = call(tmp_path, "fortnox", "create_customer", "Name=Acme", "--sandbox", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["dry_run"] is True
    assert sent(tmp_path) == []
    audit = tmp_path / "audit.jsonl"
    done = call(
        tmp_path,
        "fortnox",
        "create_customer",
        "--json",
        '{"Name": "Acme"}',
        "--sandbox",
        "--audit-log",
        str(audit),
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(audit.read_text().splitlines()[0])
    assert line["tool"] == "create_customer" and "Acme" not in audit.read_text()


def test_key_value_pairs_are_json_unless_the_argument_is_a_string() -> None:
    tool = load_vendor("fortnox").tool("update_customer")
    args = parse_arguments(
        tool,
        [
            "CustomerNumber=7",
            "Active=true",
            'DefaultDeliveryTypes={"Invoice": "EMAIL"}',
            "Name=7",
            "Comments=a b",
        ],
        '{"City": "Lund", "Active": false}',
    )
    assert args == {
        "CustomerNumber": "7",  # a string in the schema: kept as written
        "Active": True,  # the pair wins over --json
        "DefaultDeliveryTypes": {"Invoice": "EMAIL"},
        "Name": "7",
        "Comments": "a b",
        "City": "Lund",
    }
    assert parse_arguments({"input_schema": {}}, ["n=3", "x=[1]", "s=hello"], None) == {
        "n": 3,
        "x": [1],
        "s": "hello",
    }
    for pairs, json_args in ((["novalue"], None), (["=1"], None), ([], "[1]"), ([], "{bad")):
        with pytest.raises(UsageError):
            parse_arguments(tool, pairs, json_args)


def test_usage_errors_are_clear(tmp_path: Path) -> None:
    done = call(tmp_path, "fortnox", "get_customer", "CustomerNumber")
    assert done.returncode == 2 and "is not KEY=VALUE" in done.stderr and "Traceback" not in done.stderr
    done = call(tmp_path, "fortnox")
    assert done.returncode == 2 and "--list" in done.stderr


def test_list_prints_one_name_a_line(tmp_path: Path) -> None:
    done = call(tmp_path, "fortnox", "--list")
    names = done.stdout.splitlines()
    assert names == sorted(t["name"] for t in load_vendor("fortnox").tools)
    groups = call(tmp_path, "fortnox", "--list", "--groups", "customers").stdout.split()
    assert groups == [
        "create_customer",
        "delete_customer",
        "get_customer",
        "list_customers",
        "update_customer",
    ]


def run_on_a_terminal(tmp_path: Path, argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run `ledgermcp call ...` on a pseudo-terminal, answer the question, return (status, screen)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execve(sys.executable, [sys.executable, "-m", "ledgermcp", "call", *argv], env_for(tmp_path))
    screen = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        if not answered and b"[y/N]" in screen:
            os.write(fd, answer)
            answered = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


DELETE = ["fortnox", "delete_customer", "CustomerNumber=1", "--sandbox", "--approve", "destructive"]


def test_a_destructive_call_asks_on_a_terminal_and_sends_on_yes(tmp_path: Path) -> None:
    status, screen = run_on_a_terminal(tmp_path, DELETE, b"y\n")
    assert "delete_customer needs your approval" in screen and "DELETE /3/customers/1" in screen
    assert sent(tmp_path) == [("DELETE", "/3/customers/1")]  # sent (the empty sandbox answers 404)
    assert status == 1 and "NOT_FOUND" in screen


def test_a_destructive_call_on_a_terminal_sends_nothing_on_no(tmp_path: Path) -> None:
    status, screen = run_on_a_terminal(tmp_path, DELETE, b"\n")  # the default is no
    assert "[y/N]" in screen and "APPROVAL_DECLINED" in screen
    assert status == 1 and sent(tmp_path) == []


def test_without_a_terminal_it_is_refused_unless_a_token_is_given(tmp_path: Path) -> None:
    refused = call(tmp_path, *DELETE)
    assert refused.returncode == 3 and sent(tmp_path) == []
    assert "approval needed; nothing was sent" in refused.stderr and "DELETE /3/customers/1" in refused.stderr
    token = json.loads(refused.stdout)["approval"]["token"]
    assert f"--approval {token}" in refused.stderr
    other = call(tmp_path, *DELETE[:2], "CustomerNumber=2", *DELETE[3:], "--approval", token)
    assert other.returncode == 1 and "APPROVAL_INVALID" in other.stderr and sent(tmp_path) == []
    approved = call(tmp_path, *DELETE, "--approval", token)
    assert sent(tmp_path) == [("DELETE", "/3/customers/1")], approved.stderr
    replayed = call(tmp_path, *DELETE, "--approval", token)  # another process: the token is spent
    assert replayed.returncode == 1 and "already used" in replayed.stderr
    assert sent(tmp_path) == [("DELETE", "/3/customers/1")]
    # spent in the one record every server process of this host reads, not in a file of its own
    from ledgermcp.server.safety import FileUsedTokens

    record = FileUsedTokens(tmp_path / "data").path
    assert record.exists() and len(json.loads(record.read_text())) == 1


def test_tables_show_lists_and_entities(capsys: pytest.CaptureFixture[str]) -> None:
    structured: dict[str, Any] = {
        "Customers": [
            {"CustomerNumber": "1", "Name": "Acme", "Address": {"City": "Lund"}},
            {"CustomerNumber": "2", "Name": "Beta"},
        ],
        "_view": {"note": "2 of 2 shown"},
    }
    print_table(structured)
    out, err = capsys.readouterr()
    header = next(line for line in out.splitlines() if "CustomerNumber" in line)
    assert "Name" in header and "Address" not in header
    assert re.search(r"1\s+│\s+Acme", out) and re.search(r"2\s+│\s+Beta", out)
    assert "2 of 2 shown" in err
    print_table({"Customer": {"CustomerNumber": "1", "Name": "Acme"}})
    out, _ = capsys.readouterr()
    assert re.search(r"Name\s+│\s+Acme", out)
