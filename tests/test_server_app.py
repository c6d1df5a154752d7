"""The MCP app in memory with the official client: negotiation, tools/list, selection, calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fixtures.acme_tools import acme_vendor
from mcp import Client

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.toolspec import Selection, SelectionError, wire_tools

SPEC_OPERATIONS = {"fortnox": 377, "smallinvoice": 147}


def expected_tool_count(vendor: str) -> int:
    """Every operation of the spec, minus the overlay's explicit exclusions."""
    overlay = Path(__file__).resolve().parents[1] / "specs" / vendor / "overlay.toml"
    excluded = tomllib.loads(overlay.read_text()).get("exclude", {}) if overlay.exists() else {}
    return SPEC_OPERATIONS[vendor] - len(excluded)


HINTS = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def dump(tools) -> list[dict]:
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_both_protocol_eras(mode: str, version: str) -> None:
    app = create_app(acme_vendor(), sandbox=True, environ={})
    async with Client(app.server, mode=mode) as client:
        assert client.protocol_version == version
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == sorted(t["name"] for t in acme_vendor().tools)
        created = await client.call_tool("create_customer", {"Name": "Acme AB"})
        assert not created.is_error
        assert created.structured_content == {"Customer": {"CustomerNumber": "1", "Name": "Acme AB"}}
        bad = await client.call_tool("get_customer", {"CustomerNumber": 1})
        assert bad.is_error and bad.structured_content["error"]["code"] == "VALIDATION_ERROR"
    await app.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
async def test_tools_list_of_real_vendors(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    app = create_app(vendor, sandbox=True, environ={})
    async with Client(app.server, mode="legacy") as client:
        listed = await client.list_tools()
    await app.aclose()
    tools = dump(listed.tools)
    assert len(tools) == len(vendor.tools) == expected_tool_count(vendor_name)
    assert [t["name"] for t in tools] == sorted(t["name"] for t in tools)
    for tool in tools:
        # the title is the description's first sentence (server/compact.py): listed once; a
        # description that would only restate the name is left out
        assert (
            {"name", "inputSchema", "annotations"}
            <= set(tool)
            <= {
                "name",
                "description",
                "inputSchema",
                "annotations",
            }
        ), tool["name"]
        assert set(tool["annotations"]) >= HINTS
        assert tool["inputSchema"]["type"] == "object"
    # `ledgermcp tools VENDOR --format json` prints exactly this array
    assert tools == wire_tools(vendor)


def test_selection_options() -> None:
    vendor = acme_vendor()

    def names(**kw) -> list[str]:
        return [t["name"] for t in wire_tools(vendor, Selection.from_options(**kw))]

    assert names(groups=["customers"]) == [
        "create_customer",
        "delete_customer",
        "get_customer",
        "list_customers",
        "update_customer",
    ]
    assert names(groups=["customers,documents"], read_only=True) == [
        "get_customer",
        "get_invoice_pdf",
        "list_customers",
        "search_stock",
    ]
    assert names(tools=["get_*,list_*"], exclude=["*contact*"]) == [
        "get_customer",
        "get_invoice_pdf",
        "list_customers",
    ]
    assert names(exclude=["*"]) == []
    with pytest.raises(SelectionError, match="unknown group"):
        Selection.from_options(groups=["nope"]).check(vendor)


@pytest.mark.anyio
async def test_hidden_tools_cannot_be_called() -> None:
    app = create_app(
        acme_vendor(), sandbox=True, environ={}, selection=Selection.from_options(read_only=True)
    )
    async with Client(app.server, mode="legacy") as client:
        listed = await client.list_tools()
        assert all(t.annotations.read_only_hint for t in listed.tools)
        with pytest.raises(Exception, match="unknown tool"):
            await client.call_tool("delete_customer", {"CustomerNumber": "1"})
    assert app.sandbox.requests == []
    await app.aclose()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", *args], capture_output=True, text=True, timeout=60
    )


def test_tools_verb_json_and_table_and_env() -> None:
    out = run_cli("tools", "smallinvoice", "--mode", "full", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == wire_tools(load_vendor("smallinvoice"))
    table = run_cli("tools", "fortnox", "--groups", "customers")
    assert "delete_customer" in table.stdout and "destructive" in table.stdout and "5 tools" in table.stdout
    env = run_cli("tools", "smallinvoice", "--env")
    assert "LEDGERMCP_SMALLINVOICE_ACCESS_TOKEN" in env.stdout and "SMALLINVOICE_ACCESS_TOKEN" in env.stdout
    assert "LEDGERMCP_SMALLINVOICE_BASE_URL" in env.stdout
    bad = run_cli("tools", "nosuchvendor")
    assert bad.returncode == 2 and "unknown vendor" in bad.stderr and "Traceback" not in bad.stderr


def test_help_does_not_import_mcp() -> None:
    code = (
        "import sys; from ledgermcp.server.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'jsonschema', 'httpx'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_pipeline_layers_do_not_import_mcp() -> None:
    modules = ["calls", "requests", "errors", "render", "sandbox", "toolspec", "settings"]
    code = (
        "import sys\n"
        + "".join(f"import ledgermcp.server.{m}\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_serve_refuses_a_malformed_setting_without_traceback() -> None:
    env = {**os.environ, "LEDGERMCP_SMALLINVOICE_TIMEOUT_MS": "soon"}
    out = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "serve", "smallinvoice"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and "TIMEOUT_MS" in out.stderr and "Traceback" not in out.stderr
