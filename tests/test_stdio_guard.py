"""Every request on stdio that carries an id gets an answer: `ledgermcp serve` over real pipes,
fed lines no MCP client would send (server/stdio_guard.py)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_remote_support import clean_env

from ledgermcp.server.stdio_guard import check_line

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


class Wire:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledgermcp", "serve", "fortnox", "--sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
        )

    def send(self, message: Any) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "no answer"
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def wire() -> Iterator[Wire]:
    w = Wire()
    w.send(INIT)
    assert w.receive(30)["id"] == 0
    w.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    yield w
    w.close()


@pytest.mark.parametrize(
    ("line", "ident", "code", "says"),
    [
        (
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}},
            1,
            -32602,
            "params.name",
        ),
        (
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": [1]},
            2,
            -32602,
            "must be a JSON object",
        ),
        ([{"jsonrpc": "2.0", "id": 3, "method": "ping"}], 3, -32600, "batch"),
        ({"id": 4}, 4, -32600, '"method" is missing'),
        ({"id": 5, "method": "ping"}, 5, -32600, '"jsonrpc" must be "2.0"'),
        ('{"jsonrpc": "2.0", "id": 6, "method": ', None, -32700, "not JSON"),
        (
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": "get_customer", "arguments": [1]},
            },
            7,
            -32602,
            "params.arguments",
        ),
    ],
    ids=["params-name", "params-list", "batch", "empty-with-id", "no-jsonrpc", "not-json", "arguments-list"],
)
def test_malformed_request_gets_an_error_that_says_what_is_wrong(
    wire: Wire, line: Any, ident: Any, code: int, says: str
) -> None:
    wire.send(line)
    answer = wire.receive()
    assert answer["id"] == ident and answer["error"]["code"] == code
    assert says in answer["error"]["message"]
    wire.send({"jsonrpc": "2.0", "id": "after", "method": "ping"})  # and the server still serves
    assert wire.receive() == {"jsonrpc": "2.0", "id": "after", "result": {}}


def test_unknown_megabyte_tool_name_is_cut_in_the_answer(wire: Wire) -> None:
    name = "x" * 1_000_000
    wire.send({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": name, "arguments": {}}})
    started = time.monotonic()
    answer = wire.receive()
    assert time.monotonic() - started < 10
    message = answer["error"]["message"]
    assert len(message) < 400 and "(1000000 characters)" in message


def test_malformed_notification_gets_no_answer() -> None:
    assert check_line(json.dumps({"jsonrpc": "1.0", "method": "notifications/initialized"})) == []
    assert check_line(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})) is None
    assert check_line(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {}})) is None  # a client's answer
