"""Each mode end to end: `ledgermcp serve VENDOR --sandbox --mode M` as a subprocess, driven over
stdio by the official `mcp` client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from test_sandbox import minimal
from test_server_e2e import error_code, expected_tool_count, sent, serve

pytestmark = pytest.mark.slow

HINTS = ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def all_hints_set(tools) -> bool:
    return all(None not in [getattr(t.annotations, h) for h in HINTS] for t in tools)


@pytest.mark.anyio
async def test_full_mode_lists_compact_tools_and_shapes_lists(tmp_path: Path) -> None:
    params, journal, _ = serve(tmp_path, "fortnox", "--mode", "full")
    async with Client(params, mode="auto", read_timeout_seconds=60) as client:
        listed = await client.list_tools()
        assert len(listed.tools) == expected_tool_count("fortnox") and all_hints_set(listed.tools)
        listing = next(t for t in listed.tools if t.name == "list_customers")
        assert {"fields", "include_raw"} <= set(listing.input_schema["properties"])
        assert all(t.output_schema is None for t in listed.tools)
        for i in range(3):
            await client.call_tool("create_customer", {"Name": f"C{i}", "City": "Lund"})
        # `fields` as listed (a comma-separated string) and as a list
        assert listing.input_schema["properties"]["fields"] == {"type": "string"}
        names = await client.call_tool("list_customers", {"fields": "Name,City"})
        assert names.structured_content["Customers"] == [{"Name": f"C{i}", "City": "Lund"} for i in range(3)]
        names = await client.call_tool("list_customers", {"fields": ["Name"]})
        assert names.structured_content["Customers"] == [{"Name": "C0"}, {"Name": "C1"}, {"Name": "C2"}]
    assert [r["method"] for r in sent(journal)] == ["POST", "POST", "POST", "GET", "GET"]


@pytest.mark.anyio
async def test_consolidated_mode_over_stdio(tmp_path: Path) -> None:
    params, journal, _ = serve(tmp_path, "fortnox", "--mode", "consolidated", "--approve", "destructive")
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert len(tools) < expected_tool_count("fortnox") / 3 and all_hints_set(listed.tools)
        customers = tools["customers"]
        assert customers.annotations.destructive_hint and not customers.annotations.read_only_hint
        assert "delete" in customers.input_schema["properties"]["action"]["enum"]

        created = await client.call_tool("customers", {"action": "create", "Name": "Acme AB"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        got = await client.call_tool("customers", {"action": "get", "CustomerNumber": number})
        assert got.structured_content["Customer"]["Name"] == "Acme AB"
        bad = await client.call_tool("customers", {"action": "get", "CustomerNumber": 5})
        assert error_code(bad) == "VALIDATION_ERROR"

        asked = await client.call_tool("customers", {"action": "delete", "CustomerNumber": number})
        assert asked.structured_content["approval_required"] is True
        token = asked.structured_content["approval"]["token"]
        deleted = await client.call_tool(
            "customers", {"action": "delete", "CustomerNumber": number, "_approval": token}
        )
        assert not deleted.is_error, deleted.content
        described = await client.call_tool("customers", {"action": "describe", "of": "create"})
        assert described.structured_content["actions"][0]["operation"] == "create_customer"
    assert [r["method"] for r in sent(journal)] == ["POST", "GET", "DELETE"]


@pytest.mark.anyio
async def test_discovery_mode_over_stdio(tmp_path: Path) -> None:
    params, journal, _ = serve(tmp_path, "smallinvoice", "--mode", "discovery")
    async with Client(params, mode="auto", read_timeout_seconds=60) as client:
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == ["search_operations", "describe_operation", "call_operation"]
        assert all_hints_set(listed.tools)

        groups = await client.call_tool("search_operations", {})
        assert "contacts" in [g["group"] for g in groups.structured_content["groups"]]
        found = await client.call_tool("search_operations", {"query": "create contact"})
        assert found.structured_content["operations"][0]["name"] == "create_contact"
        described = await client.call_tool("describe_operation", {"name": "create_contact"})
        schema = described.structured_content["inputSchema"]
        assert described.structured_content["name"] == "create_contact" and schema["required"]

        args = minimal(schema, schema.get("$defs", {}))  # built from what describe shows, nothing else
        created = await client.call_tool("call_operation", {"name": "create_contact", "arguments": args})
        assert not created.is_error, created.content
        bad = await client.call_tool("call_operation", {"name": "create_contact", "arguments": {}})
        assert error_code(bad) == "VALIDATION_ERROR"
    requests = sent(journal)
    assert [r["method"] for r in requests] == ["POST"] and requests[0]["path"].endswith("/contacts")


def test_tools_verb_prints_what_each_mode_lists(tmp_path: Path) -> None:
    from test_server_app import run_cli

    from ledgermcp.server.catalog import load_vendor
    from ledgermcp.server.modes import build_surface

    for mode in ("consolidated", "discovery"):
        out = run_cli("tools", "smallinvoice", "--mode", mode, "--format", "json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == build_surface(mode, load_vendor("smallinvoice")).tools
    bad = run_cli("serve", "smallinvoice", "--sandbox", "--mode", "everything")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
