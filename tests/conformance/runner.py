"""Send every tool and every typed-client function to Prism, with the same generated arguments.

Tools run through the real runtime: `create_app` with the vendor HTTP stack (auth from the
environment, the pipeline's validation, request building, rate limiting) pointed at Prism by
`LEDGERMCP_<VENDOR>_BASE_URL`, approval pre-granted (`approve="never"`) and snapshots off, so
writes really go out. Two stack settings differ from a user's: a generous rate limit (Prism is
local) and no retries (each call is exactly one request, and its verdict is Prism's first word).
Typed functions run on `client_for(vendor)`, the SDK's own entry point, with the same settings.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgermcp.server.catalog import Vendor
from ledgermcp.server.http.ratelimit import RateLimit
from ledgermcp.server.http.retry import NO_RETRY

from .arguments import argument_sets, check_valid, variant_name
from .exchanges import AsyncRecordingTransport, Exchange, Recorder, RecordingTransport
from .typed_calls import MappingError, typed_arguments, typed_function

LOCAL_RATE_LIMIT = RateLimit(requests=100_000, per_seconds=1.0)
TOKEN = "conformance-access-token"


@dataclass
class Check:
    """One call (a tool or a typed function, with one argument set) and Prism's verdict."""

    name: str
    variant: str
    problems: list[str] = field(default_factory=list)
    request: str = ""
    method: str = ""
    raw_path: str = ""
    warnings: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def environment(vendor: Vendor, url: str) -> dict[str, str]:
    """What a user would set: the base URL and an access token (Prism checks the security scheme)."""
    prefix = vendor.env_prefix
    return {f"{prefix}_BASE_URL": url, f"{prefix}_ACCESS_TOKEN": TOKEN}


class HarnessError(RuntimeError):
    """The check itself went wrong (not the code under test): nothing it found can be trusted."""


def plan(vendor: Vendor, count: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """The argument sets of every tool, checked against the tool's own schema first."""
    sets = {}
    for tool in vendor.tools:
        try:
            sets[tool["name"]] = argument_sets(tool, count, seed=seed)
        except ValueError as exc:
            raise HarnessError(f"no argument sets for {tool['name']}: {exc}") from None
        for index, args in enumerate(sets[tool["name"]]):
            wrong = check_valid(tool["input_schema"], args)
            if wrong:
                raise HarnessError(
                    f"argument set {index} of {tool['name']} breaks the tool's own schema: {wrong[:3]}"
                )
    return sets


def _judge(check: Check, exchanges: list[Exchange], unsent: str) -> Check:
    if not exchanges:
        check.problems.append(f"nothing was sent: {unsent}")
        return check
    first = exchanges[0]
    check.request = first.describe()
    check.method = first.method
    check.raw_path = httpx.URL(first.url).raw_path.split(b"?")[0].decode()
    for exchange in exchanges:
        check.problems += exchange.errors
        check.warnings += exchange.warnings
    if len(exchanges) > 1:
        check.problems.append(f"{len(exchanges)} requests for one call (expected exactly one)")
    return check


# --- tools, through the MCP app's pipeline ------------------------------------------------


async def _check_tools(vendor: Vendor, url: str, sets: Mapping[str, list[dict[str, Any]]]) -> list[Check]:
    from ledgermcp.server.app import create_app
    from ledgermcp.server.http.client import build_async_client
    from ledgermcp.server.safety import SafetyOptions

    env = environment(vendor, url)
    recorder = Recorder()
    client = build_async_client(
        vendor.info,
        env=env,
        transport=AsyncRecordingTransport(recorder),
        rate_limit=LOCAL_RATE_LIMIT,
        retry=NO_RETRY,
    )
    app = create_app(
        vendor,
        environ=env,
        client=client,
        safety=SafetyOptions(approve="never", snapshots=False, audit_log="-"),
    )
    checks = []
    try:
        for tool in vendor.tools:
            for index, args in enumerate(sets[tool["name"]]):
                check = Check(tool["name"], f"{variant_name(index)}#{index}")
                result = await app.pipeline.call(tool["name"], args)
                text = " ".join(str(c.get("text", "")) for c in result.to_wire().get("content", []))
                checks.append(_judge(check, recorder.take(), text[:300]))
    finally:
        await app.aclose()
    return checks


def check_tools(vendor: Vendor, url: str, sets: Mapping[str, list[dict[str, Any]]]) -> list[Check]:
    return asyncio.run(_check_tools(vendor, url, sets))


# --- typed functions, through client_for ---------------------------------------------------


def check_typed(vendor: Vendor, url: str, sets: Mapping[str, list[dict[str, Any]]]) -> list[Check]:
    from ledgermcp.server.sdk import client_for

    recorder = Recorder()
    client = client_for(
        vendor.name,
        base_url=url,
        env=environment(vendor, url),
        transport=RecordingTransport(recorder),
        rate_limit=LOCAL_RATE_LIMIT,
        retry=NO_RETRY,
    )
    checks = []
    with client:
        for tool in vendor.tools:
            if tool.get("client_module") is None:  # left out of the typed client by the generator
                check = Check(tool["name"], "typed")
                check.problems.append(
                    "no typed function: `ledgermcp generate` left the operation out of the client"
                )
                checks.append(check)
                continue
            function = typed_function(vendor.name, tool)
            for index, args in enumerate(sets[tool["name"]]):
                check = Check(tool["name"], f"{variant_name(index)}#{index}")
                try:
                    kwargs = typed_arguments(function, tool, args)
                except (MappingError, TypeError, ValueError, KeyError) as exc:
                    check.problems.append(
                        f"the typed function cannot take the tool's data: {type(exc).__name__}: {exc}"
                    )
                    checks.append(check)
                    continue
                unsent = ""
                try:
                    function(client=client, **kwargs)
                except Exception as exc:  # after the request: Prism's example answer did not parse
                    unsent = f"{type(exc).__name__}: {exc}"
                    if recorder.exchanges:
                        check.note = f"answer not parsed ({type(exc).__name__})"
                checks.append(_judge(check, recorder.take(), unsent[:300]))
    return checks


def compare_requests(tools: list[Check], typed: list[Check]) -> None:
    """The typed function must hit the same operation as the tool with the same data."""
    by_key = {(c.name, c.variant): c for c in tools}
    for check in typed:
        twin = by_key.get((check.name, check.variant))
        if twin is None or not check.method or not twin.method:
            continue
        if (check.method, check.raw_path) != (twin.method, twin.raw_path):
            check.problems.append(
                f"sent {check.method} {check.raw_path}, the tool sent {twin.method} {twin.raw_path} for the same data"
            )


# --- the canary: Prism must still be validating --------------------------------------------


def canary(vendor: Vendor, url: str) -> tuple[bool, str]:
    """Send one request that breaks the description (a string body field sent as a number) and
    report whether Prism rejected it."""
    from ledgermcp.server.requests import build_request

    for tool in vendor.tools:
        body = tool["binding"].get("body") or {}
        if body.get("content_type") != "application/json" or not body.get("fields"):
            continue
        props = tool["input_schema"]["properties"]
        target = next(
            (a for a, p in body["fields"].items() if props.get(a, {}).get("type") == "string"), None
        )
        if target is None:
            continue
        args = argument_sets(tool, 2)[1]  # the `full` set: every field present
        if target not in args:
            continue
        request = build_request(tool, args)
        payload = request.json_body
        inner = payload[body["wrapper"]] if body.get("wrapper") else payload
        inner[body["fields"][target]] = 12345
        recorder = Recorder()
        with httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
            transport=RecordingTransport(recorder),
        ) as client:
            client.request(request.method, request.target, json=payload)
        (exchange,) = recorder.take()
        what = f"{tool['name']}: {request.method} {request.path} with {body['fields'][target]!r} as a number"
        if exchange.errors:
            return True, f"{what} -> rejected ({exchange.errors[0]})"
        return False, f"{what} -> ACCEPTED (status {exchange.status}): Prism is not validating requests"
    return False, "no tool with a JSON body field of type string to build an invalid request from"


@dataclass
class VendorRun:
    vendor: str
    tools: list[Check]
    typed: list[Check]
    canary_ok: bool
    canary: str
    seconds: float
    notes: Counter[str] = field(default_factory=Counter)


def run_vendor(vendor: Vendor, url: str, count: int, seed: int) -> VendorRun:
    started = time.monotonic()
    ok, said = canary(vendor, url)
    sets = plan(vendor, count, seed)
    tools = check_tools(vendor, url, sets)
    typed = check_typed(vendor, url, sets)
    compare_requests(tools, typed)
    notes: Counter[str] = Counter(c.note for c in typed if c.note)
    return VendorRun(vendor.name, tools, typed, ok, said, time.monotonic() - started, notes)
