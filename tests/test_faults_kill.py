"""kill -9 during a stream of writes: every write the vendor saw is on record in the audit log as
an intent, no snapshot file is half-written, and the next start removes the temporary files."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fault_upstream import FaultyUpstream, Handler
from test_remote_support import clean_env

from ledgermcp.server.safety.plan import arguments_digest

pytestmark = pytest.mark.slow

KILLS = 20
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


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledgermcp", "serve", "fortnox", "--approve", "never", "--mode", "full"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(INIT).encode() + b"\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready and json.loads(proc.stdout.readline())["id"] == 0
    proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    proc.stdin.flush()
    return proc


def call(proc: subprocess.Popen[bytes], ident: int, arguments: dict[str, Any]) -> None:
    message = {
        "jsonrpc": "2.0",
        "id": ident,
        "method": "tools/call",
        "params": {"name": "update_customer", "arguments": arguments},
    }
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass


def drain(proc: subprocess.Popen[bytes]) -> int:
    """Answers read so far (without waiting)."""
    assert proc.stdout is not None
    count = 0
    while select.select([proc.stdout], [], [], 0)[0]:
        if not proc.stdout.readline():
            break
        count += 1
    return count


def test_kill_nine_during_writes_leaves_every_write_on_record(tmp_path: Path) -> None:
    upstream = FaultyUpstream()

    def put(handler: Handler) -> None:
        time.sleep(0.02)  # a vendor that takes a moment: kills land while writes are out
        handler.json({"Customer": {"CustomerNumber": "17"}})

    upstream.on("PUT", "/3/customers/17", put)
    data = tmp_path / "data"
    env = clean_env(
        LEDGERMCP_FORTNOX_BASE_URL=upstream.url,
        LEDGERMCP_FORTNOX_ACCESS_TOKEN="kill-test-access-token-31d8",
        LEDGERMCP_FORTNOX_RATE_LIMIT="off",
        LEDGERMCP_DATA_DIR=str(data),
    )
    rng = random.Random(14)
    sent: dict[str, str] = {}  # City value -> digest of the call's arguments
    n = 0
    answered = 0
    started = time.monotonic()
    try:
        for _ in range(KILLS):
            proc = start(env)
            kill_at = time.monotonic() + rng.uniform(0.15, 0.6)
            while time.monotonic() < kill_at:
                for _ in range(3):  # a few in flight at once
                    n += 1
                    arguments = {"CustomerNumber": "17", "City": f"c{n}"}
                    sent[f"c{n}"] = arguments_digest(arguments)
                    call(proc, n, arguments)
                time.sleep(rng.uniform(0.005, 0.03))
                answered += drain(proc)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        # the next start cleans up what the killed servers left
        last = start(env)
        last.kill()
        last.wait(10)
    finally:
        upstream.stop()
    assert time.monotonic() - started < 120

    # a PUT whose body was cut off by the kill is no write a vendor applies; every complete one counts
    complete = [r["body"] for r in upstream.seen("PUT") if r["body"].endswith(b"}")]
    puts = [json.loads(body)["Customer"]["City"] for body in complete]
    assert len(puts) > KILLS  # writes did reach the vendor
    assert answered < n  # and some calls were cut off by a kill
    audit = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]  # whole lines only
    intents = {e["arguments_sha256"] for e in audit if e["event"] == "intent"}
    missing = [city for city in puts if sent[city] not in intents]
    assert missing == [], f"{len(missing)} of {len(puts)} writes the vendor saw have no intent line"

    folder = data / "snapshots" / "fortnox"
    for snapshot in folder.glob("*.json"):
        json.loads(snapshot.read_text())  # none is half-written
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
