"""Every request on stdio that carries an id gets an answer.

The SDK's stdio reader drops a line it cannot parse as a JSON-RPC message (not JSON, a batch, an
object without `method`, a `params` that is not an object), so a client waiting for that id waits
forever; and it answers malformed `params` with a bare "Invalid request parameters". `LineGuard`
sits between the wire and the SDK: it reads each line first and answers what is wrong with it as a
JSON-RPC error (the request's id, or null when the line has none that can be read), saying what is
wrong and how to send it instead; only well-formed messages go on to the SDK. Notifications (no
id) that are malformed get no answer, as JSON-RPC says. Echoed names and values are cut.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import anyio
import mcp_types as types

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MAX_ECHO = 80  # characters of a client's name or value repeated in an error

# params models of the requests this server serves, checked here so the answer can say what is wrong
_PARAMS: dict[str, Any] = {
    "tools/call": types.CallToolRequestParams,
    "resources/read": types.ReadResourceRequestParams,
}


def cut(text: str, limit: int = MAX_ECHO) -> str:
    """`text` as it may be echoed: at most `limit` characters, with the full length named."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _error(ident: Any, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=message))


def _describe(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc") or ()) or "(params)"
        parts.append(f"params.{cut(where, 60)}: {err.get('msg')}")
    return "; ".join(parts)


def _valid_id(ident: Any) -> bool:
    return isinstance(ident, (str, int)) and not isinstance(ident, bool)


def check_line(line: str) -> list[types.JSONRPCError] | None:
    """None when the line is a well-formed message for the SDK; else the answers to send (an
    empty list for a malformed notification, which gets none)."""
    try:
        message = json.loads(line)
    except ValueError as exc:
        return [
            _error(
                None,
                PARSE_ERROR,
                f"Parse error: the line is not JSON ({cut(str(exc))}); send one JSON-RPC message per line",
            )
        ]
    if isinstance(message, list):
        ids = [m.get("id") for m in message if isinstance(m, dict) and _valid_id(m.get("id"))]
        text = (
            "Invalid request: a batch (JSON array) is not accepted; MCP sends one JSON-RPC message "
            "per line, so send each request on its own line"
        )
        return [_error(i, INVALID_REQUEST, text) for i in ids] or [_error(None, INVALID_REQUEST, text)]
    if not isinstance(message, dict):
        return [_error(None, INVALID_REQUEST, "Invalid request: a JSON-RPC message is a JSON object")]
    ident = message.get("id")
    has_id = "id" in message
    reply_id = ident if _valid_id(ident) else None
    if "method" not in message and ("result" in message or "error" in message):
        return None  # a client's answer to a request of the server: the SDK's to judge
    problems = []
    if message.get("jsonrpc") != "2.0":
        problems.append('"jsonrpc" must be "2.0"')
    method = message.get("method")
    if "method" not in message:
        problems.append('"method" is missing (a request names its method, e.g. "tools/call")')
    elif not isinstance(method, str):
        problems.append('"method" must be a string')
    if has_id and not _valid_id(ident):
        problems.append('"id" must be a string or an integer')
    params = message.get("params")
    if not problems and params is not None and not isinstance(params, dict):
        if not has_id:
            return []
        return [
            _error(
                reply_id, INVALID_PARAMS, f"Invalid params for {cut(method)}: params must be a JSON object"
            )
        ]
    if problems:
        if not has_id and "method" in message:
            return []  # a notification: no answer, even to say it is malformed
        return [_error(reply_id, INVALID_REQUEST, "Invalid request: " + "; ".join(problems))]
    model = _PARAMS.get(method)
    if model is not None and has_id:
        try:
            model.model_validate(params or {})
        except ValueError as exc:
            return [_error(reply_id, INVALID_PARAMS, f"Invalid params for {method}: {_describe(exc)}")]
    try:
        types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValueError as exc:
        if not has_id:
            return []
        return [_error(reply_id, INVALID_REQUEST, f"Invalid request: {cut(_describe(exc), 300)}")]
    return None


class _Unowned(io.TextIOWrapper):
    """Text over stdin's buffer that never closes the buffer (it is the process's)."""

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.detach()


def standard_input() -> Any:
    """stdin as the SDK reads it (UTF-8 lines through a worker thread), for when the wire is not a
    pipe or socket (server/stdio_pipes.py)."""
    import sys

    return anyio.wrap_file(_Unowned(sys.stdin.buffer, encoding="utf-8", errors="replace"))


class LineGuard:
    """`async for line in guard`: the well-formed lines of `lines`; answers to the others wait in
    `replies` for the server's write stream (`forward`)."""

    def __init__(self, lines: AsyncIterable[str]) -> None:
        self.lines = lines
        self._send, self.replies = anyio.create_memory_object_stream[types.JSONRPCError](math.inf)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        try:
            async for line in self.lines:
                if not line.strip():
                    continue
                answers = check_line(line)
                if answers is None:
                    yield line
                    continue
                for answer in answers:
                    self._send.send_nowait(answer)
        finally:
            self._send.close()

    async def forward(self, write_stream: Any) -> None:
        """Send the answers through the server's write stream (one writer on the wire)."""
        from mcp.shared.message import SessionMessage

        async with self.replies:
            async for answer in self.replies:
                try:
                    await write_stream.send(SessionMessage(answer))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return
