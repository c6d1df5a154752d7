"""stdin and stdout for the MCP stdio transport, read and written on the event loop itself.

The SDK's `stdio_server()` wraps the standard streams in anyio's thread-backed files: every line
read, every write and every flush is a round trip through a worker thread, three per tool call.
When the client connected us through pipes or sockets (what MCP clients do) the event loop can
watch the descriptors directly; `pipe_streams()` hands `stdio_server()` such streams. Anything
else (a terminal, a regular file, Windows) keeps the SDK's own streams.

The SDK also points fd 0 at the null device and fd 1 at stderr while it serves, so a stray read
or print in a handler or a library can never corrupt the wire; explicit streams skip that, so it
is done here the same way and undone on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator

# one JSON-RPC message is one line; a file upload can make it large, so no small cap
MAX_LINE = 256 * 1024 * 1024


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class LineReader:
    """`async for line in reader`: one decoded line at a time, as the SDK's reader expects."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class LineWriter:
    """`write` then `flush`, as the SDK's writer calls them; `flush` waits for the pipe to drain."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


@contextlib.asynccontextmanager
async def pipe_streams() -> AsyncIterator[tuple[LineReader, LineWriter] | None]:
    """Event-loop streams over the wire, or None when the SDK's own streams must be used."""
    if sys.platform == "win32" or not (_is_pipe_or_socket(0) and _is_pipe_or_socket(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    null_in = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null_in, 0)
        os.dup2(2, 1)
    finally:
        os.close(null_in)
    in_file = os.fdopen(wire_in, "rb", buffering=0)
    out_file = os.fdopen(wire_out, "wb", buffering=0)
    transports: list[asyncio.BaseTransport] = []
    writer: asyncio.StreamWriter | None = None
    try:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), in_file
        )
        transports.append(read_transport)
        write_transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out_file)
        transports.append(write_transport)
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        yield LineReader(reader), LineWriter(writer)
    finally:
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.drain()
        # the wire back on fd 0 and 1, blocking as the process found it, before the transports
        # close their own descriptors
        for fd, wire in ((0, wire_in), (1, wire_out)):
            with contextlib.suppress(OSError):
                os.dup2(wire, fd)
                os.set_blocking(fd, True)
        for transport in transports:
            transport.close()
        for f in (in_file, out_file):
            with contextlib.suppress(OSError):
                f.close()
