"""The conformance harness's own parts, without Prism: argument sets, Prism's verdicts, and the
typed call that matches a tool call (`nox -s conformance` runs the whole check against Prism)."""

from __future__ import annotations

import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from conformance.arguments import TRICKY_STRINGS, RegexSampler, argument_sets, check_valid
from conformance.exchanges import Exchange, verdict
from conformance.runner import canary
from conformance.typed_calls import typed_arguments, typed_function

from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.http.ratelimit import RateLimit
from ledgermcp.server.requests import build_request
from ledgermcp.server.sdk import client_for

VENDORS = ["fortnox", "smallinvoice"]


def tools(vendor: str) -> list[dict[str, Any]]:
    return load_vendor(vendor).tools


@pytest.mark.parametrize("vendor", VENDORS)
def test_argument_sets_are_valid_repeatable_and_varied(vendor: str) -> None:
    seen_strings: set[str] = set()
    for tool in tools(vendor):
        schema = tool["input_schema"]
        sets = argument_sets(tool, 4)
        assert sets == argument_sets(tool, 4), tool["name"]  # the same every run
        for args in sets:
            assert check_valid(schema, args) == [], (tool["name"], args)
            seen_strings.update(v for v in args.values() if isinstance(v, str))
        required, full = sets[0], sets[1]
        assert set(required) == set(schema.get("required", [])), tool["name"]  # only what is required
        assert set(full) == set(schema["properties"]), tool["name"]  # every argument, optional ones too
    # reserved URL characters, dot segments and non-ASCII text all reach the tools
    assert {"a/b?c=d#e", "..", "Örebro & Söner AB", "kvitto 🧾 nr 7"} <= seen_strings


def test_another_seed_gives_other_values() -> None:
    tool = next(t for t in tools("fortnox") if t["name"] == "update_invoice")
    assert argument_sets(tool, 3, seed=1) != argument_sets(tool, 3, seed=2)


def test_conditional_requirements_and_exclusions_are_respected() -> None:
    tool = {
        "name": "update_thing",
        "input_schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "minLength": 1, "not": {"enum": [".", ".."]}},
                "Name": {"type": "string"},
                "City": {"type": "string"},
            },
            "required": ["id"],
            "if": {"propertyNames": {"enum": ["id"]}},
            "else": {"required": ["Name"]},
            "additionalProperties": False,
        },
    }
    for args in argument_sets(tool, 12):
        assert check_valid(tool["input_schema"], args) == []
        assert args["id"] not in ("", ".", "..")
        if "City" in args:
            assert "Name" in args


@pytest.mark.parametrize(
    "pattern", [r"^\d{2}:\d{2}$", "[a-zA-Z0-9_-]+", "planning|started|completed|voided", "^[0-9]+(,[0-9]+)*$"]
)
def test_patterns_are_sampled_with_ascii_classes(pattern: str) -> None:
    rng = random.Random(7)
    for _ in range(20):
        text = RegexSampler(pattern, rng).sample()
        assert re.search(pattern, text) and text.isascii(), text


def test_tricky_strings_include_the_edge_cases() -> None:
    assert {"", ".", ".."} <= set(TRICKY_STRINGS)
    assert any(not s.isascii() for s in TRICKY_STRINGS)


# --- Prism's verdicts ----------------------------------------------------------------------


def test_request_violations_are_read_from_the_header() -> None:
    header = json.dumps(
        [
            {
                "location": ["request", "body", "Invoice", "CustomerNumber"],
                "severity": "Error",
                "message": "must be string",
            },
            {"location": ["request", "query", "limit"], "severity": "Warning", "message": "deprecated"},
            {
                "location": ["response", "body", "created"],
                "severity": "Error",
                "message": "must match format",
            },
        ]
    )
    violations, prism_error = verdict(httpx.Headers({"sl-violations": header}), b"{}")
    exchange = Exchange(
        "POST", "http://x/3/invoices", "application/json", b"{}", 422, violations, prism_error
    )
    assert exchange.errors == [
        "request.body.Invoice.CustomerNumber: must be string"
    ]  # the response's is not ours
    assert exchange.warnings == ["request.query.limit: deprecated"]


def test_prisms_own_errors_are_failures() -> None:
    body = json.dumps(
        {
            "type": "https://stoplight.io/prism/errors#NO_PATH_MATCHED_ERROR",
            "title": "Route not resolved, no path matched",
            "status": 404,
            "detail": "The route /3/bookkeep hasn't been found in the specification file",
        }
    ).encode()
    violations, prism_error = verdict(httpx.Headers({"content-type": "application/problem+json"}), body)
    exchange = Exchange("PUT", "http://x/3/bookkeep", None, b"", 404, violations, prism_error)
    assert exchange.errors == [
        "NO_PATH_MATCHED_ERROR: The route /3/bookkeep hasn't been found in the specification file"
    ]


def test_an_accepted_request_has_no_errors() -> None:
    violations, prism_error = verdict(
        httpx.Headers({"content-type": "application/json"}), b'{"Invoices": []}'
    )
    assert Exchange("GET", "http://x/3/invoices", None, b"", 200, violations, prism_error).errors == []


# --- the typed call that matches a tool call ----------------------------------------------

UTC_SUFFIX = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:Z|\+00:00)$")


def same_instants(value: Any) -> Any:
    """JSON with UTC date-times written one way ("Z" and "+00:00" name the same instant)."""
    if isinstance(value, dict):
        return {k: same_instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same_instants(v) for v in value]
    if isinstance(value, str):
        return UTC_SUFFIX.sub(r"\1Z", value)
    return value


@pytest.mark.parametrize("vendor", VENDORS)
def test_typed_functions_send_what_the_tools_send(vendor: str) -> None:
    """Same operation, same path, same JSON body: for every tool and two argument sets, the typed
    function (given the tool's data) and the tool's own request builder agree."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    env = {"LEDGERMCP_FORTNOX_ACCESS_TOKEN": "t", "LEDGERMCP_SMALLINVOICE_ACCESS_TOKEN": "t"}
    base = "https://vendor.test"
    disagree = []
    builder = httpx.AsyncClient(base_url=base)  # builds the tools' requests; sends nothing
    local = RateLimit(requests=100_000, per_seconds=1.0)  # no vendor pacing against a mock
    with client_for(
        vendor, base_url=base, env=env, transport=httpx.MockTransport(answer), rate_limit=local
    ) as client:
        for tool in tools(vendor):
            function = typed_function(vendor, tool)
            for args in argument_sets(tool, 2):
                expected = build_request(tool, args).build(builder)
                sent.clear()
                try:
                    function(client=client, **typed_arguments(function, tool, args))
                except (
                    Exception
                ) as exc:  # an empty 204 does not parse as the typed answer; the request was sent
                    if not sent:
                        raise AssertionError(f"{tool['name']}: nothing sent ({exc!r})") from exc
                (request,) = sent
                got = (request.method, request.url.raw_path.split(b"?")[0])
                want = (expected.method, expected.url.raw_path.split(b"?")[0])
                if got != want:
                    disagree.append(f"{tool['name']}: typed {got}, tool {want}")
                elif expected.headers.get("content-type") == "application/json" and same_instants(
                    json.loads(request.content)
                ) != same_instants(json.loads(expected.content)):
                    disagree.append(f"{tool['name']}: bodies differ")
    assert disagree == []


# --- the canary ------------------------------------------------------------------------------


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True
    verdict = b""  # the sl-violations header every answer carries (empty: none)


class _Answer(BaseHTTPRequestHandler):
    server: _Upstream

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(422 if self.server.verdict else 200)
        if self.server.verdict:
            self.send_header("sl-violations", self.server.verdict.decode())
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_canary_fails_when_nothing_is_validated(vendor: str) -> None:
    upstream = _Upstream(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{upstream.server_address[1]}"
    try:
        rejected, said = canary(load_vendor(vendor), url)
        assert not rejected and "Prism is not validating requests" in said
        upstream.verdict = json.dumps(
            [{"location": ["request", "body", "x"], "severity": "Error", "message": "must be string"}]
        ).encode()
        rejected, said = canary(load_vendor(vendor), url)
        assert rejected and "must be string" in said
    finally:
        upstream.shutdown()
        upstream.server_close()
