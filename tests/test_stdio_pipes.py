"""The stdio transport's event-loop streams (server/stdio_pipes.py): the wire carries only
messages, a stray print lands on stderr, large lines pass whole, the standard descriptors come
back on exit, and anything that is not a pipe keeps the SDK's own streams."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A tiny server on the same streams as `ledgermcp serve`: echoes each line back as JSON with its
# length, prints a stray line from the "handler", and reports which streams it got.
ECHO = textwrap.dedent(
    """
    import anyio, json, os, sys
    from ledgermcp.server.stdio_pipes import pipe_streams

    async def main():
        async with pipe_streams() as streams:
            print("chosen:", "pipes" if streams else "sdk", file=sys.stderr, flush=True)
            if streams is not None:
                reader, writer = streams
                async for line in reader:
                    print("stray output from a handler", flush=True)  # must not reach the wire
                    await writer.write(json.dumps({"len": len(line.rstrip("\\n")), "head": line[:20]}) + "\\n")
                    await writer.flush()
        # after the block the standard descriptors are the wire again
        os.write(1, b"after\\n")

    anyio.run(main)
    """
)


def _run(stdin: object = None, input_bytes: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """ECHO with `input_bytes` through a pipe, or with `stdin` (an open file) as it is."""
    feed = {"input": input_bytes} if input_bytes is not None else {"stdin": stdin}
    return subprocess.run(
        [sys.executable, "-c", ECHO],
        capture_output=True,
        timeout=60,
        check=False,
        **feed,  # type: ignore[arg-type]
    )


def test_pipes_carry_only_messages_and_stray_output_goes_to_stderr() -> None:
    big = "x" * (3 * 1024 * 1024)  # larger than asyncio's default 64 KiB line limit
    lines = ['{"jsonrpc":"2.0","id":1,"method":"ping"}', big, "sm\u00f6rg\u00e5s"]
    done = _run(input_bytes=("\n".join(lines) + "\n").encode())
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode().splitlines()
    assert out[-1] == "after"
    answers = [json.loads(x) for x in out[:-1]]
    assert [a["len"] for a in answers] == [len(x) for x in lines]
    assert answers[2]["head"].startswith("sm\u00f6rg\u00e5s")
    err = done.stderr.decode()
    assert "chosen: pipes" in err
    assert err.count("stray output from a handler") == 3
    assert "stray output" not in done.stdout.decode()


def test_a_regular_file_on_stdin_keeps_the_sdk_streams(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    with source.open("rb") as fh:
        done = _run(fh)
    assert done.returncode == 0, done.stderr.decode()
    assert "chosen: sdk" in done.stderr.decode()
    assert done.stdout.decode() == "after\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_the_wire_is_left_blocking_for_whoever_uses_it_next() -> None:
    code = ECHO.replace('os.write(1, b"after\\n")', 'os.write(1, b"blocking=%d\\n" % os.get_blocking(1))')
    done = subprocess.run(
        [sys.executable, "-c", code], input=b"hello\n", capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines()[-1] == "blocking=1"
