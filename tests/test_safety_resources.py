"""Snapshots as MCP resources: listed and read with the official client (in process, both protocol
eras); a missing, foreign or escaping URI is refused by name and never reads outside the directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions
from ledgermcp.server.safety.resources import BadSnapshotRef, SnapshotResources, parse_snapshot_ref
from ledgermcp.server.safety.snapshots import SnapshotStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def options(tmp_path: Path) -> SafetyOptions:
    return SafetyOptions(approve="never", snapshot_dir=str(tmp_path / "snapshots"), audit_log="-")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_snapshots_are_listed_and_read(mode: str, tmp_path: Path) -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=options(tmp_path))
    async with Client(app.server, mode=mode) as client:
        assert client.server_capabilities.resources is not None
        assert (await client.list_resources()).resources == []
        created = await client.call_tool("create_customer", {"Name": "Acme AB", "City": "Lund"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        updated = await client.call_tool("update_customer", {"CustomerNumber": number, "City": "Malmö"})
        snap = updated.meta["ledgermcp/snapshot"]

        listed = (await client.list_resources()).resources
        assert [r.uri for r in listed] == [snap["uri"]] == [f"ledgermcp://snapshots/fortnox/{snap['id']}"]
        resource = listed[0]
        record = app.safety.store.load(snap["id"])
        assert resource.name == f"update_customer /3/customers/{number} {record['time']}"
        assert resource.mime_type == "application/json"
        assert "restore_snapshot writes it back through update_customer" in (resource.description or "")

        read = await client.read_resource(resource.uri)
        (contents,) = read.contents
        assert contents.mime_type == "application/json"
        assert json.loads(contents.text) == record
        assert record["entities"][0]["state"] == {
            "Customer": {"CustomerNumber": number, "Name": "Acme AB", "City": "Lund"}
        }

        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["ledgermcp://snapshots/fortnox/{snapshot_id}"]


@pytest.mark.anyio
async def test_missing_foreign_and_escaping_uris_are_refused(tmp_path: Path) -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=options(tmp_path))
    store = app.safety.store
    # a JSON file next to the snapshot directory, and one in it under a name that is no snapshot id
    (tmp_path / "outside.json").write_text('{"secret": true}')
    store.directory.mkdir(parents=True, exist_ok=True)
    (store.directory / "notes.json").write_text('{"secret": true}')
    foreign = store.new_id("update_contact", time.time())
    store.save({"id": foreign, "vendor": "smallinvoice", "tool": "update_contact", "entities": []})
    missing = "20240131T101500Z-update_customer-0badf00d"
    refusals = {
        f"ledgermcp://snapshots/fortnox/{missing}": f"there is no snapshot {missing}",
        f"ledgermcp://snapshots/fortnox/{foreign}": "was kept for 'smallinvoice'",
        f"ledgermcp://snapshots/smallinvoice/{missing}": "snapshot of 'smallinvoice'",
        "ledgermcp://snapshots/fortnox/../outside": "is not a snapshot id",
        "ledgermcp://snapshots/fortnox/..%2Foutside": "is not a snapshot id",
        "ledgermcp://snapshots/fortnox/notes": "is not a snapshot id",
        f"ledgermcp://snapshots/fortnox/{missing}/../../outside": "is not a snapshot id",
        f"ledgermcp://snapshots/fortnox/{missing}.json": "is not a snapshot id",
        "ledgermcp://snapshots/fortnox": "is not a snapshot URI",
        "file:///etc/passwd": "is not a snapshot URI",
    }
    async with Client(app.server, mode="legacy") as client:
        for uri, words in refusals.items():
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert words in str(caught.value), uri
            assert "secret" not in str(caught.value)
        # another vendor's snapshot in a shared directory is not listed as fortnox's either
        assert (await client.list_resources()).resources == []


def test_refs_and_pages(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    now = 1_800_000_000.0
    ids = []
    for i in range(5):
        sid = store.new_id("update_customer", now + i)
        store.save(
            {"id": sid, "vendor": "fortnox", "tool": "update_customer", "time": str(i), "entities": []}
        )
        ids.append(sid)
    assert parse_snapshot_ref(ids[0], "fortnox") == ids[0]
    assert parse_snapshot_ref(f"ledgermcp://snapshots/fortnox/{ids[0]}", "fortnox") == ids[0]
    for bad in (
        "",
        "x",
        ids[0] + "x",
        ids[0].upper(),
        f"{ids[0]}/x",
        f"ledgermcp://snapshots/sevdesk/{ids[0]}",
    ):
        with pytest.raises(BadSnapshotRef):
            parse_snapshot_ref(bad, "fortnox")

    pages, cursor = [], None
    resources = SnapshotResources(store, "fortnox", page_size=2)
    while True:
        page = resources.list(cursor)
        pages.append([r["uri"].rsplit("/", 1)[1] for r in page["resources"]])
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    with pytest.raises(BadSnapshotRef):
        resources.list("../x")
