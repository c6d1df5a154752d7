"""What went over the wire: transports that keep each request and Prism's verdict on it.

They sit at the bottom of the vendor HTTP stack (under auth, retry and rate limit), so they see
exactly the bytes a user's call would send. Prism states its verdict in two places: the
`sl-violations` header (a JSON list; entries whose location starts with "request" are about the
request) and, when it refuses to answer from the description at all, an
`application/problem+json` body whose `type` names the error kind (NO_PATH_MATCHED_ERROR,
UNPROCESSABLE_ENTITY, INVALID_CONTENT_TYPE, UNAUTHORIZED, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

PRISM_ERROR_PREFIX = "https://stoplight.io/prism/errors#"
MAX_BODY_SHOWN = 400


@dataclass
class Exchange:
    method: str
    url: str
    content_type: str | None
    body: bytes
    status: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)  # request violations, all severities
    prism_error: str | None = None  # the problem type and detail, when Prism answered with its own error

    @property
    def errors(self) -> list[str]:
        """Why Prism rejected the request; empty when it accepted it."""
        found = [
            f"{'.'.join(map(str, v.get('location') or []))}: {v.get('message')}"
            for v in self.violations
            if str(v.get("severity", "Error")).lower() == "error"
        ]
        if self.prism_error and not found:
            found.append(self.prism_error)
        return found

    @property
    def warnings(self) -> list[str]:
        return [
            f"{'.'.join(map(str, v.get('location') or []))}: {v.get('message')}"
            for v in self.violations
            if str(v.get("severity", "Error")).lower() != "error"
        ]

    def describe(self) -> str:
        text = f"{self.method} {self.url}"
        if self.body:
            shown = self.body[:MAX_BODY_SHOWN].decode("utf-8", "replace")
            more = "…" if len(self.body) > MAX_BODY_SHOWN else ""
            text += f" [{self.content_type}] {shown}{more}"
        return text


def verdict(response_headers: httpx.Headers, body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """(request violations, Prism error) from one of Prism's answers."""
    violations: list[dict[str, Any]] = []
    raw = response_headers.get("sl-violations")
    if raw:
        try:
            listed = json.loads(raw)
        except ValueError:
            listed = [{"location": ["request"], "severity": "Error", "message": f"unreadable: {raw[:200]}"}]
        for entry in listed if isinstance(listed, list) else []:
            location = entry.get("location") or []
            if isinstance(entry, dict) and location[:1] == ["request"]:
                violations.append(entry)
    prism_error = None
    if "problem+json" in (response_headers.get("content-type") or ""):
        try:
            problem = json.loads(body)
        except ValueError:
            problem = {}
        kind = str(problem.get("type", ""))
        if kind.startswith(PRISM_ERROR_PREFIX):
            prism_error = (
                f"{kind[len(PRISM_ERROR_PREFIX) :]}: {problem.get('detail') or problem.get('title')}"
            )
            for entry in (problem.get("validation") or []) if isinstance(problem, dict) else []:
                if isinstance(entry, dict) and entry not in violations:
                    violations.append(entry)
    return violations, prism_error


class Recorder:
    """The exchanges since the last `take()`."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def take(self) -> list[Exchange]:
        taken, self.exchanges = self.exchanges, []
        return taken

    def start(self, request: httpx.Request) -> Exchange:
        exchange = Exchange(
            method=request.method,
            url=str(request.url),
            content_type=request.headers.get("content-type"),
            body=bytes(request.content),
        )
        self.exchanges.append(exchange)
        return exchange

    @staticmethod
    def finish(exchange: Exchange, response: httpx.Response, body: bytes) -> None:
        exchange.status = response.status_code
        exchange.violations, exchange.prism_error = verdict(response.headers, body)


def _replay(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
    """The answer again, its body already read and decoded (so no content-encoding any more)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, recorder: Recorder, inner: httpx.BaseTransport | None = None) -> None:
        self.recorder = recorder
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        exchange = self.recorder.start(request)
        response = self.inner.handle_request(request)
        body = response.read()
        self.recorder.finish(exchange, response, body)
        return _replay(response, body, request)

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, recorder: Recorder, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.recorder = recorder
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        exchange = self.recorder.start(request)
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.recorder.finish(exchange, response, body)
        return _replay(response, body, request)

    async def aclose(self) -> None:
        await self.inner.aclose()
