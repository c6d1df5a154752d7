"""A misbehaving vendor on 127.0.0.1 for the fault-injection tests (tests/test_faults.py).

Each route is a function that writes the whole HTTP answer itself (status line, headers, body,
pauses), so a test can answer HTML where JSON is declared, cut a JSON body short, trickle bytes or
echo what it was sent. Every request is recorded before it is answered.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultyUpstream

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.record(self)
        route = self.server.route_for(self.command, self.path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    # answers ----------------------------------------------------------------------------

    def answer(
        self, status: int, body: bytes, content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def json(self, data: Any, status: int = 200) -> None:
        self.answer(status, json.dumps(data).encode())


def ok_entity(handler: Handler) -> None:
    handler.json({"Customer": {"CustomerNumber": "17", "Name": "Acme"}})


class FaultyUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[tuple[str, str], Route] = {}
        self.fallback: Route = ok_entity
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def on(self, method: str, path: str, route: Route) -> None:
        self.routes[(method, path)] = route

    def route_for(self, method: str, path: str) -> Route:
        return self.routes.get((method, path.split("?", 1)[0]), self.fallback)

    def record(self, handler: Handler) -> None:
        with self._lock:
            self.requests.append(
                {
                    "method": handler.command,
                    "path": handler.path,
                    "headers": dict(handler.headers),
                    "body": handler.body,
                    "time": time.monotonic(),
                }
            )

    def seen(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if method is None or r["method"] == method]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
