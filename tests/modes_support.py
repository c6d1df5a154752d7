"""Helpers for the mode tests: valid arguments for any operation, an app over a recording transport,
and "call operation X with these arguments" spelled the way each mode spells it."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from test_sandbox import minimal

from ledgermcp.server.app import create_app
from ledgermcp.server.calls import ArgumentValidator

MODES = ("full", "consolidated", "discovery")
_PATTERN_SAMPLES = ("08:00", "1", "A", "2024-01-31", "2024-01-31T12:00:00Z")


def arguments_for(tool: dict[str, Any]) -> dict[str, Any]:
    """Arguments that pass the operation's validation (required ones only)."""
    schema = tool["input_schema"]
    args = minimal(schema, schema.get("$defs", {}))
    props = schema.get("properties") or {}
    for name, sub in props.items():
        if name in args and isinstance(sub.get("pattern"), str):
            args[name] = next(s for s in _PATTERN_SAMPLES if re.search(sub["pattern"], s))
    problems = ArgumentValidator().problems(tool, args)
    assert not problems, (tool["name"], problems)
    return args


class Recorder:
    """An httpx transport that answers every request with a small JSON object and keeps it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode() if request.content else ""
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query.decode(),
                "body": json.loads(body) if body.startswith(("{", "[")) else body,
            }
        )
        # no Content-Type: one answer stands for every operation (JSON, a CSV, a PDF), and the
        # runtime reads it as what each operation declares
        return httpx.Response(200, content=b'{"ok": true}')


def recording_app(vendor: Any, mode: str, **kwargs: Any) -> tuple[Any, Recorder]:
    recorder = Recorder()
    client = httpx.AsyncClient(
        base_url=str(vendor.info.get("base_url") or "https://vendor.test"),
        transport=httpx.MockTransport(recorder),
    )
    return create_app(vendor, client=client, environ={}, mode=mode, **kwargs), recorder


def spelled(app: Any, operation: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(tool name, tool arguments) that run `operation` with `arguments` in the app's mode."""
    surface = app.surface
    if surface.mode == "full":
        return operation, dict(arguments)
    if surface.mode == "consolidated":
        for resource in surface.resources:
            for action, op in resource.actions.items():
                if op["name"] == operation:
                    return resource.name, {"action": action, **arguments}
        raise AssertionError(f"{operation} is no action of any consolidated tool")
    return "call_operation", {"name": operation, "arguments": dict(arguments)}


async def run(app: Any, operation: str, arguments: dict[str, Any]) -> Any:
    """Call `operation` through the app's surface, as an MCP tools/call would."""
    name, args = spelled(app, operation, arguments)
    return await app.surface.call(app.pipeline, name, args)
