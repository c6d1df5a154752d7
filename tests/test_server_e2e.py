"""End to end: `ledgermcp serve VENDOR --sandbox` as a subprocess, driven over stdio by the official
`mcp` client."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SPEC_OPERATIONS = {"fortnox": 377, "smallinvoice": 147}

# runs the real CLI entry point; on exit, writes the modules it imported
LAUNCHER = """
import atexit, json, sys
def _dump():
    with open(sys.argv[1], "w") as fh:
        json.dump(sorted(sys.modules), fh)
atexit.register(_dump)
from ledgermcp.server.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def expected_tool_count(vendor: str) -> int:
    overlay = ROOT / "specs" / vendor / "overlay.toml"
    excluded = tomllib.loads(overlay.read_text()).get("exclude", {}) if overlay.exists() else {}
    return SPEC_OPERATIONS[vendor] - len(excluded)


def serve(tmp_path: Path, vendor: str, *extra: str) -> tuple[StdioServerParameters, Path, Path]:
    journal = tmp_path / "sandbox.jsonl"
    modules = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERMCP_")}
    env["LEDGERMCP_SANDBOX_JOURNAL"] = str(journal)
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-c",
            LAUNCHER,
            str(modules),
            "serve",
            vendor,
            "--sandbox",
            *([] if "--mode" in extra else ["--mode", "full"]),
            *extra,
        ],
        env=env,
        cwd=str(tmp_path),
    )
    return params, journal, modules


def sent(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines()]


def error_code(result) -> str | None:
    return result.structured_content["error"]["code"] if result.is_error else None


@pytest.mark.anyio
async def test_fortnox_over_stdio(tmp_path: Path) -> None:
    params, journal, modules = serve(tmp_path, "fortnox")
    async with Client(params, mode="auto", read_timeout_seconds=60) as client:
        assert client.protocol_version == "2026-07-28"
        listed = await client.list_tools()
        assert len(listed.tools) == expected_tool_count("fortnox")

        # a wrong-typed argument: VALIDATION_ERROR and the sandbox saw nothing
        bad = await client.call_tool("get_customer", {"CustomerNumber": 17})
        assert error_code(bad) == "VALIDATION_ERROR"
        assert bad.structured_content["error"]["field"] == "CustomerNumber"
        assert sent(journal) == []

        listing = await client.call_tool("list_customers", {})
        assert listing.structured_content["Customers"] == []
        created = await client.call_tool("create_customer", {"Name": "Acme AB", "City": "Lund"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        got = await client.call_tool("get_customer", {"CustomerNumber": number})
        assert got.structured_content["Customer"]["Name"] == "Acme AB"
        updated = await client.call_tool("update_customer", {"CustomerNumber": number, "City": "Malmö"})
        assert updated.structured_content["Customer"]["City"] == "Malmö"
        listing = await client.call_tool("list_customers", {})
        assert [c["City"] for c in listing.structured_content["Customers"]] == ["Malmö"]
        deleted = await client.call_tool("delete_customer", {"CustomerNumber": number})
        assert not deleted.is_error
        gone = await client.call_tool("get_customer", {"CustomerNumber": number})
        assert error_code(gone) == "NOT_FOUND"
        assert [r["method"] for r in sent(journal)] == ["GET", "POST", "GET", "PUT", "GET", "DELETE", "GET"]

    imported = json.loads(modules.read_text())
    assert "ledgermcp.generated.fortnox.tools" in imported
    assert [m for m in imported if m.startswith("ledgermcp.generated.fortnox.client")] == []


@pytest.mark.anyio
async def test_smallinvoice_over_stdio_with_a_2025_11_25_client(tmp_path: Path) -> None:
    params, journal, modules = serve(tmp_path, "smallinvoice")
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        assert client.protocol_version == "2025-11-25"
        listed = await client.list_tools()
        assert len(listed.tools) == expected_tool_count("smallinvoice")
        for tool in listed.tools:
            hints = tool.annotations
            assert None not in (
                hints.read_only_hint,
                hints.destructive_hint,
                hints.idempotent_hint,
                hints.open_world_hint,
            )
            assert tool.output_schema is None

        bad = await client.call_tool("get_contact", {"contactId": "seven"})
        assert error_code(bad) == "VALIDATION_ERROR" and sent(journal) == []

        assert (await client.call_tool("list_contacts", {})).structured_content["items"] == []
        address = {"street": "Bahnhofstrasse 1", "postcode": "8001", "city": "Zürich", "country": "CH"}
        created = await client.call_tool(
            "create_contact", {"name": "Muster AG", "relation": ["CL"], "type": "C", "main_address": address}
        )
        contact_id = created.structured_content["item"]["id"]
        got = await client.call_tool("get_contact", {"contactId": contact_id})
        assert got.structured_content["item"]["main_address"]["city"] == "Zürich"
        await client.call_tool(
            "update_contact",
            {"contactId": contact_id, "name": "Muster GmbH", "relation": ["CL"], "type": "C"},
        )
        listing = await client.call_tool("list_contacts", {})
        assert [c["name"] for c in listing.structured_content["items"]] == ["Muster GmbH"]
        assert not (await client.call_tool("delete_contacts", {"contactIds": contact_id})).is_error
        gone = await client.call_tool("get_contact", {"contactId": contact_id})
        assert error_code(gone) == "NOT_FOUND"

    imported = json.loads(modules.read_text())
    assert [m for m in imported if m.startswith("ledgermcp.generated.smallinvoice.client")] == []


@pytest.mark.anyio
async def test_selection_over_stdio(tmp_path: Path) -> None:
    params, _journal, _ = serve(
        tmp_path, "fortnox", "--groups", "customers,invoices", "--read-only", "--exclude", "*preview*"
    )
    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert names == sorted(names) and names
    assert "get_customer" in names and "list_invoices" in names
    assert "preview_invoice" not in names and "delete_customer" not in names
    # printing sets the invoice's Sent flag: not a read, whatever its HTTP method
    assert "print_invoice" not in names
