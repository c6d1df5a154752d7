"""Credentials and tenants out of the arguments (#16, item 5).

The generator marks header, query and cookie parameters that carry a secret or name the tenant
(codegen/bound.py); the tool lists neither, and the runtime (server/bound.py) fills them on every
request of the call, the snapshot's pre-read included. Small inline descriptions, sent through
the real pipeline to an `httpx.MockTransport` that records each request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ledgermcp.codegen.emit import describe_file, table_rows
from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import Vendor
from ledgermcp.server.safety import SafetyOptions
from ledgermcp.server.settings import env_table, load_settings

API_KEY = "ninja-key-0f3a9c11e2"
PASSWORD = "ninja-pass-7d1e22"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def header(name: str, required: bool = True, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"}, **extra}


def description(
    parameters: list[dict[str, Any]], schemes: dict[str, Any] | None = None, *, query: list[Any] = ()
) -> dict[str, Any]:
    """Customers: list (with `query` parameters), create, get, update; every operation takes
    `parameters` (path-level)."""
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
                }
            }
        },
    }
    ident = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "Acme", "version": "1"},
        "servers": [{"url": "https://api.acme.test"}],
        "paths": {
            "/customers": {
                "parameters": parameters,
                "get": {"operationId": "listCustomers", "parameters": list(query), "responses": ok},
                "post": {"operationId": "createCustomer", "requestBody": body, "responses": ok},
            },
            "/customers/{id}": {
                "parameters": parameters,
                "get": {"operationId": "getCustomer", "parameters": [ident], "responses": ok},
                "put": {
                    "operationId": "updateCustomer",
                    "parameters": [ident],
                    "requestBody": body,
                    "responses": ok,
                },
            },
        },
    }
    if schemes:
        doc["components"] = {"securitySchemes": schemes}
    return doc


def build(tmp_path: Path, doc: dict[str, Any], overlay: dict[str, Any] | None = None) -> Vendor:
    path = tmp_path / "acme.openapi.yaml"
    path.write_text(yaml.safe_dump(doc))
    ir, _ = describe_file(path, "acme", overlay)
    rows = table_rows(ir)
    return Vendor(info=ir.vendor_table(), tools=rows, by_name={t["name"]: t for t in rows})


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"id": "7", "name": "Acme", "city": "Lund"})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url="https://api.acme.test", transport=httpx.MockTransport(self))


def app_for(vendor: Vendor, recorder: Recorder, tmp_path: Path, env: dict[str, str], **kwargs: Any) -> Any:
    safety = SafetyOptions(approve="never", snapshot_dir=str(tmp_path / "snapshots"), audit_log="-")
    return create_app(
        vendor,
        environ=env,
        client=recorder.client(),
        settings=load_settings(vendor.info, env),
        safety=safety,
        mode="full",
        **kwargs,
    )


def arguments_of(vendor: Vendor, name: str) -> tuple[set[str], set[str]]:
    schema = vendor.tool(name)["input_schema"]
    return set(schema["properties"]), set(schema.get("required") or [])


# --- the generator's decision -------------------------------------------------------------------


NINJA_LIKE = description(
    [header("X-API-TOKEN"), header("X-Requested-With")],
    {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-TOKEN"}},
)


def test_a_security_scheme_header_is_no_argument_and_is_marked_in_the_table(tmp_path: Path) -> None:
    vendor = build(tmp_path, NINJA_LIKE)
    for tool in vendor.tools:
        props, required = arguments_of(vendor, tool["name"])
        assert "X-API-TOKEN" not in props and "X-API-TOKEN" not in required
        assert "X-Requested-With" in required  # an ordinary header stays an argument
        (token,) = [p for p in tool["binding"]["params"] if p["name"] == "X-API-TOKEN"]
        assert token["bound"] == "credential" and token["credential"] == "api_key"
    assert vendor.info["bound"] == {"credentials": ["api_key"]}


@pytest.mark.parametrize(
    ("param", "kind"),
    [
        (header("X-Auth-Token"), "api_key"),
        (header("x-api-key"), "api_key"),
        (header("Authorization"), "access_token"),
        (header("X-API-PASSWORD"), "password"),
        (header("X-API-SECRET", required=False), "api_secret"),
        ({"name": "api_key", "in": "query", "required": True, "schema": {"type": "string"}}, "api_key"),
        (
            {"name": "session_token", "in": "cookie", "required": True, "schema": {"type": "string"}},
            "api_key",
        ),
    ],
)
def test_a_parameter_named_like_a_secret_is_bound_without_a_scheme(
    tmp_path: Path, param: dict[str, Any], kind: str
) -> None:
    vendor = build(tmp_path, description([param]))
    props, _ = arguments_of(vendor, "create_customer")
    assert param["name"] not in props
    (bound,) = [p for p in vendor.tool("create_customer")["binding"]["params"] if p["name"] == param["name"]]
    assert (bound["bound"], bound["credential"]) == ("credential", kind)


@pytest.mark.parametrize(
    "param",
    [
        {"name": "pageToken", "in": "query", "schema": {"type": "string"}},
        {"name": "next_token", "in": "query", "schema": {"type": "string"}},
        header("Idempotency-Key", required=False),
        header("X-CSRF-Token", required=False),
        {"name": "token_type", "in": "query", "schema": {"type": "string"}},
    ],
)
def test_pagination_and_idempotency_tokens_stay_arguments(tmp_path: Path, param: dict[str, Any]) -> None:
    vendor = build(tmp_path, description([param]))
    props, _ = arguments_of(vendor, "create_customer")
    assert param["name"] in props
    assert "bound" not in vendor.info


@pytest.mark.parametrize("name", ["Xero-Tenant-Id", "x-account-id", "X-Organisation-Id"])
def test_a_tenant_header_is_recognised_and_not_required(tmp_path: Path, name: str) -> None:
    vendor = build(tmp_path, description([header(name)]))
    props, required = arguments_of(vendor, "get_customer")
    assert name not in props and name not in required and required == {"id"}
    assert vendor.info["bound"] == {"credentials": [], "tenant_header": name, "tenant_override": False}


def test_the_overlay_names_a_tenant_header_and_allows_an_override(tmp_path: Path) -> None:
    overlay = {"vendor": {"tenant_header": "X-Firm", "tenant_override": True}}
    vendor = build(tmp_path, description([header("X-Firm")]), overlay)
    props, required = arguments_of(vendor, "get_customer")
    assert "X-Firm" in props and required == {"id"}  # optional, for one call
    assert "Default: the tenant the server is configured for" in vendor.tool("get_customer")[
        "input_schema"]["properties"]["X-Firm"]["description"]  # fmt: skip
    without = build(tmp_path, description([header("X-Firm")]))
    assert "X-Firm" in arguments_of(without, "get_customer")[1]  # not recognised by name: required


# --- the runtime fills them ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_credentials_are_filled_on_every_request_and_shown_nowhere(tmp_path: Path) -> None:
    doc = description(
        [header("X-API-TOKEN"), header("X-API-PASSWORD")],
        {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-TOKEN"}},
    )
    vendor = build(tmp_path, doc)
    env = {"LEDGERMCP_ACME_API_KEY": API_KEY, "LEDGERMCP_ACME_PASSWORD": PASSWORD}
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, env)
    result = await app.pipeline.call("update_customer", {"id": "7", "city": "Malmö"})
    assert not result.is_error, result.to_wire()
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("GET", "/customers/7"),
        ("PUT", "/customers/7"),
    ]
    for request in recorder.requests:  # the snapshot's pre-read, then the write
        assert request.headers["X-API-TOKEN"] == API_KEY
        assert request.headers["X-API-PASSWORD"] == PASSWORD
    (snapshot,) = (tmp_path / "snapshots").rglob("*.json")
    kept = snapshot.read_text() + json.dumps(result.to_wire())
    assert API_KEY not in kept and PASSWORD not in kept
    refused = await app.pipeline.call("get_customer", {"id": "7", "X-API-TOKEN": "from-the-model"})
    assert refused.is_error and "unknown argument 'X-API-TOKEN'" in json.dumps(refused.to_wire())
    rows = {r["name"]: r for r in env_table(vendor.info)}
    assert rows["LEDGERMCP_ACME_PASSWORD"]["secret"] and rows["LEDGERMCP_ACME_API_KEY"]["secret"]


@pytest.mark.anyio
async def test_a_query_credential_is_filled_when_sent(tmp_path: Path) -> None:
    param = {"name": "api_key", "in": "query", "required": True, "schema": {"type": "string"}}
    vendor = build(tmp_path, description([param]))
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, {"LEDGERMCP_ACME_API_KEY": API_KEY})
    dry = app_for(vendor, Recorder(), tmp_path, {"LEDGERMCP_ACME_API_KEY": API_KEY})
    dry.safety.options.dry_run = True
    plan = await dry.pipeline.call("create_customer", {"name": "Acme"})
    assert API_KEY not in json.dumps(plan.to_wire())  # the plan never holds a credential
    result = await app.pipeline.call("create_customer", {"name": "Acme"})
    assert not result.is_error
    assert recorder.requests[0].url.params["api_key"] == API_KEY


XERO_LIKE = description([header("xero-tenant-id")])


@pytest.mark.anyio
async def test_the_configured_tenant_goes_on_the_pre_read_and_the_write(tmp_path: Path) -> None:
    vendor = build(tmp_path, XERO_LIKE)
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, {"LEDGERMCP_ACME_TENANT_ID": "org-1"})
    result = await app.pipeline.call("update_customer", {"id": "7", "city": "Malmö"})
    assert not result.is_error, result.to_wire()
    assert [r.headers.get("xero-tenant-id") for r in recorder.requests] == ["org-1", "org-1"]
    assert [r.method for r in recorder.requests] == ["GET", "PUT"]
    rows = {r["name"]: r for r in env_table(vendor.info)}
    assert "'xero-tenant-id' header" in rows["LEDGERMCP_ACME_TENANT_ID"]["purpose"]


@pytest.mark.anyio
async def test_the_profiles_tenant_serves_when_no_variable_is_set(tmp_path: Path) -> None:
    vendor = build(tmp_path, XERO_LIKE)
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, {}, tenant="org-from-login")
    await app.pipeline.call("list_customers", {})
    env_wins = Recorder()
    other = app_for(
        vendor, env_wins, tmp_path, {"LEDGERMCP_ACME_TENANT_ID": "org-env"}, tenant="org-from-login"
    )
    await other.pipeline.call("list_customers", {})
    assert recorder.requests[0].headers["xero-tenant-id"] == "org-from-login"
    assert env_wins.requests[0].headers["xero-tenant-id"] == "org-env"


@pytest.mark.anyio
async def test_no_tenant_configured_refuses_before_sending_and_says_what_to_set(tmp_path: Path) -> None:
    vendor = build(tmp_path, XERO_LIKE)
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, {})
    result = await app.pipeline.call("get_customer", {"id": "7"})
    error = result.to_wire()["structuredContent"]["error"]
    assert error["code"] == "UNAUTHORIZED" and error["request_sent"] is False
    assert "LEDGERMCP_ACME_TENANT_ID" in error["hint"] and "xero-tenant-id" in error["message"]
    assert recorder.requests == []
    sandbox = create_app(vendor, sandbox=True, environ={}, mode="full")  # the sandbox needs no tenant
    assert not (await sandbox.pipeline.call("list_customers", {})).is_error


@pytest.mark.anyio
async def test_a_per_call_tenant_overrides_the_configured_one_on_every_request(tmp_path: Path) -> None:
    overlay = {"vendor": {"tenant_header": "X-Firm", "tenant_override": True}}
    vendor = build(tmp_path, description([header("X-Firm")]), overlay)
    recorder = Recorder()
    app = app_for(vendor, recorder, tmp_path, {"LEDGERMCP_ACME_TENANT_ID": "firm-1"})
    await app.pipeline.call("update_customer", {"id": "7", "city": "Malmö", "X-Firm": "firm-2"})
    await app.pipeline.call("update_customer", {"id": "7", "city": "Lund"})
    assert [(r.method, r.headers.get("X-Firm")) for r in recorder.requests] == [
        ("GET", "firm-2"), ("PUT", "firm-2"), ("GET", "firm-1"), ("PUT", "firm-1"),
    ]  # fmt: skip


def test_invoice_ninjas_api_token_is_no_argument_of_any_tool(tmp_path: Path) -> None:
    import os

    folder = Path(
        os.environ.get("LEDGERMCP_SPEC_DIR") or Path(__file__).resolve().parents[2] / "shared" / "specs"
    )
    path = folder / "invoiceninja.openapi.yaml"
    if not path.is_file():
        pytest.fail(f"{path} is missing: put the vendors' descriptions there or set LEDGERMCP_SPEC_DIR")
    ir, _ = describe_file(path)
    rows = table_rows(ir)
    listing = [t["name"] for t in rows if "X-API-TOKEN" in t["input_schema"]["properties"]]
    filled = [t["name"] for t in rows for p in t["binding"]["params"]
              if p["name"] == "X-API-TOKEN" and p.get("bound") == "credential"]  # fmt: skip
    assert listing == [] and len(rows) > 300 and len(filled) > 300
