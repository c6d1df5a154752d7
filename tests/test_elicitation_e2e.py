"""End to end: `ledgermcp serve fortnox --sandbox --approve destructive` as a subprocess, driven over
stdio by the official `mcp` client with an elicitation handler, in both protocol eras (2026-07-28
input requests, 2025-11-25 `elicitation/create`), and over stateless Streamable HTTP. The sandbox
journal shows what reached the vendor."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from test_remote_support import ServerProcess, clean_env

pytestmark = pytest.mark.slow


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def serve(tmp_path: Path, *extra: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERMCP_")}
    env["LEDGERMCP_SANDBOX_JOURNAL"] = str(tmp_path / "journal.jsonl")
    args = [
        "-m",
        "ledgermcp",
        "serve",
        "fortnox",
        "--sandbox",
        "--mode",
        "full",
        "--approve",
        "destructive",
        *extra,
    ]
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(tmp_path))


def journal(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "journal.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(r["method"], r["path"]) for r in map(json.loads, lines)]


def writes(tmp_path: Path) -> list[tuple[str, str]]:
    return [r for r in journal(tmp_path) if r[0] != "GET"]


class Human:
    """An elicitation handler that records each question and gives the answer set beforehand."""

    def __init__(self) -> None:
        self.answer = "accept"
        self.questions: list[types.ElicitRequestFormParams] = []

    async def __call__(self, ctx: Any, params: Any) -> types.ElicitResult:
        self.questions.append(params)
        return types.ElicitResult(action=self.answer)


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "era"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_destructive_calls_wait_for_the_users_yes(mode: str, era: str, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    params = serve(tmp_path, "--snapshot-dir", str(tmp_path / "snapshots"), "--audit-log", str(audit))
    human = Human()
    async with Client(params, mode=mode, elicitation_callback=human, read_timeout_seconds=60) as client:
        assert client.protocol_version == era
        created = await client.call_tool("create_customer", {"Name": "Acme AB", "City": "Lund"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        assert human.questions == []  # not destructive: nobody is asked
        args = {"CustomerNumber": number, "City": "Malmö"}
        path = f"/3/customers/{number}"

        for answer in ("decline", "cancel"):
            human.answer = answer
            refused = await client.call_tool("update_customer", args)
            assert refused.is_error and refused.structured_content["error"]["code"] == "APPROVAL_DECLINED"
            assert "declined" in refused.content[0].text and "nothing was sent" in refused.content[0].text
            assert writes(tmp_path) == [("POST", "/3/customers")], answer
        question = human.questions[-1]
        assert question.mode == "form"
        for part in (f"PUT {path}", '"City": "Malmö"', f"entity: {path}", "get_customer", "snapshot", "kept"):
            assert part in question.message, part

        human.answer = "accept"
        done = await client.call_tool("update_customer", args)
        assert not done.is_error, done.content[0].text
        assert done.structured_content["Customer"]["City"] == "Malmö"
        assert writes(tmp_path) == [("POST", "/3/customers"), ("PUT", path)]
        assert journal(tmp_path)[-2:] == [("GET", path), ("PUT", path)]  # the snapshot read, then the write
        assert len(human.questions) == 3

        # the snapshot is a resource, and restore_snapshot writes it back after its own yes
        snapshot = done.meta["ledgermcp/snapshot"]
        assert [r.uri for r in (await client.list_resources()).resources] == [snapshot["uri"]]
        restored = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot["id"]})
        assert not restored.is_error, restored.content[0].text
        assert f"restores: snapshot {snapshot['id']}" in human.questions[-1].message
        assert writes(tmp_path)[-1] == ("PUT", path) and len(writes(tmp_path)) == 3
        got = await client.call_tool("get_customer", {"CustomerNumber": number})
        assert got.structured_content["Customer"]["City"] == "Lund"

    approvals = [
        (a["tool"], a["approval"], a["sent"])
        for a in map(json.loads, audit.read_text().splitlines())
        if a["event"] == "outcome"
    ]
    answered = [a for a in approvals if a[1] != "asked"]  # 2026-07-28 also logs the round that asked
    assert answered == [
        ("create_customer", "not_required", True),
        ("update_customer", "asked_decline", False),
        ("update_customer", "asked_cancel", False),
        ("update_customer", "asked_accept", True),
        ("restore_snapshot", "asked_accept", True),
    ]


@pytest.mark.anyio
async def test_a_client_without_elicitation_gets_the_token(tmp_path: Path) -> None:
    async with Client(serve(tmp_path), mode="auto", read_timeout_seconds=60) as client:
        created = await client.call_tool("create_customer", {"Name": "Acme AB"})
        args = {"CustomerNumber": created.structured_content["Customer"]["CustomerNumber"]}
        first = await client.call_tool("delete_customer", args)
        assert first.structured_content["approval_required"] is True
        assert writes(tmp_path) == [("POST", "/3/customers")]
        token = first.structured_content["approval"]["token"]
        done = await client.call_tool("delete_customer", {**args, "_approval": token})
        assert not done.is_error and writes(tmp_path)[-1][0] == "DELETE"
        # the sandbox keeps no snapshots unless asked: no resources, no restore tool
        assert client.server_capabilities.resources is None
        assert "restore_snapshot" not in [t.name for t in (await client.list_tools()).tools]


@pytest.mark.anyio
async def test_over_stateless_http(tmp_path: Path) -> None:
    """2026-07-28 asks within the call's own request/retry, so it works without a back channel; a
    2025-11-25 client on stateless HTTP cannot receive a server request and gets the token."""
    env = clean_env(LEDGERMCP_SANDBOX_JOURNAL=str(tmp_path / "journal.jsonl"))
    server = ServerProcess(["fortnox", "--sandbox", "--approve", "destructive"], env, tmp_path / "stderr")
    human = Human()
    try:
        async with Client(server.url, mode="auto", elicitation_callback=human) as client:
            assert client.protocol_version == "2026-07-28"
            created = await client.call_tool("create_customer", {"Name": "Acme AB"})
            args = {"CustomerNumber": created.structured_content["Customer"]["CustomerNumber"]}
            human.answer = "decline"
            refused = await client.call_tool("delete_customer", args)
            assert refused.structured_content["error"]["code"] == "APPROVAL_DECLINED"
            assert writes(tmp_path) == [("POST", "/3/customers")]
            human.answer = "accept"
            done = await client.call_tool("delete_customer", args)
            assert not done.is_error and writes(tmp_path)[-1][0] == "DELETE"
            assert len(human.questions) == 2 and "DELETE /3/customers/" in human.questions[-1].message
        async with Client(server.url, mode="legacy", elicitation_callback=human) as client:
            created = await client.call_tool("create_customer", {"Name": "Other AB"})
            args = {"CustomerNumber": created.structured_content["Customer"]["CustomerNumber"]}
            first = await client.call_tool("delete_customer", args)
            assert first.structured_content["approval_required"] is True
            assert len(human.questions) == 2 and writes(tmp_path)[-1] == ("POST", "/3/customers")
    finally:
        server.stop()
