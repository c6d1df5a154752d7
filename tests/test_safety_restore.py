"""restore_snapshot against the sandbox, through the server's real MCP handlers (the official client,
in process): create -> update (snapshot kept) -> restore with approval -> the entity reads as it did
in the snapshot; without approval, with bad ids, without an update operation nothing is sent."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from ledgermcp.server.app import App, create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions
from ledgermcp.server.toolspec import Selection


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(tmp_path: Path, vendor: str, *, selection: Selection | None = None, **opts: Any) -> App:
    options = SafetyOptions(
        approve=opts.pop("approve", "destructive"),
        snapshot_dir=str(tmp_path / "snapshots"),
        audit_log=str(tmp_path / "audit.jsonl"),
        **opts,
    )
    return create_app(load_vendor(vendor), sandbox=True, environ={}, safety=options, selection=selection)


def writes(app: App) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in app.sandbox.requests if r.method != "GET"]


def code(result: Any) -> str | None:
    return result.structured_content["error"]["code"] if result.is_error else None


async def approved(client: Client, name: str, args: dict[str, Any]) -> Any:
    """The token flow of a client that cannot be asked: preview, then repeat with the token."""
    first = await client.call_tool(name, args)
    assert first.structured_content.get("approval_required"), first.content[0].text
    return await client.call_tool(name, {**args, "_approval": first.structured_content["approval"]["token"]})


CASES = {
    "fortnox-customer": {
        "vendor": "fortnox",
        "create": ("create_customer", {"Name": "Acme AB", "City": "Lund", "Email": "info@acme.example"}),
        "id": ("Customer", "CustomerNumber", "CustomerNumber"),
        "get": "get_customer",
        "update": ("update_customer", {"City": "Malmö", "Email": "billing@acme.example"}),
    },
    "fortnox-invoice": {
        "vendor": "fortnox",
        "create": (
            "create_invoice",
            {
                "CustomerNumber": "1",
                "Comments": "first draft",
                "InvoiceRows": [{"ArticleNumber": "A1", "DeliveredQuantity": "2", "Price": 100.0}],
            },
        ),
        "id": ("Invoice", "DocumentNumber", "DocumentNumber"),
        "get": "get_invoice",
        "update": (
            "update_invoice",
            {"Comments": "second draft", "InvoiceRows": [{"ArticleNumber": "B2", "DeliveredQuantity": "5"}]},
        ),
    },
    "smallinvoice-contact": {
        "vendor": "smallinvoice",
        "create": (
            "create_contact",
            {
                "name": "Muster AG",
                "relation": ["CL"],
                "type": "C",
                "email": "info@muster.example",
                "main_address": {
                    "street": "Bahnhofstrasse 1",
                    "postcode": "8001",
                    "city": "Zürich",
                    "country": "CH",
                },
            },
        ),
        "id": ("item", "id", "contactId"),
        "get": "get_contact",
        "update": (
            "update_contact",
            {"name": "Muster GmbH", "relation": ["CL", "CR"], "email": "new@muster.example"},
        ),
    },
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(CASES))
async def test_restore_brings_the_entity_back_to_its_snapshot(case: str, tmp_path: Path) -> None:
    spec = CASES[case]
    app = make_app(tmp_path, spec["vendor"])
    envelope, id_field, id_arg = spec["id"]
    async with Client(app.server, mode="legacy") as client:
        assert "restore_snapshot" in [t.name for t in (await client.list_tools()).tools]
        name, args = spec["create"]
        created = await client.call_tool(name, args)
        assert not created.is_error, created.content[0].text
        ident = {id_arg: created.structured_content[envelope][id_field]}
        before = (await client.call_tool(spec["get"], ident)).structured_content

        update, changes = spec["update"]
        updated = await approved(client, update, {**ident, **changes})
        assert not updated.is_error, updated.content[0].text
        snapshot_id = updated.meta["ledgermcp/snapshot"]["id"]
        changed = (await client.call_tool(spec["get"], ident)).structured_content
        assert changed != before
        sent_before = writes(app)

        # without approval: the plan, and nothing sent
        preview = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert preview.structured_content["approval_required"] is True
        plan = preview.structured_content["plan"]
        assert plan["tool"] == "restore_snapshot" and plan["method"] == "PUT"
        assert plan["restore"]["snapshot_id"] == snapshot_id and plan["restore"]["via"] == update
        assert f"restores: snapshot {snapshot_id}" in preview.content[0].text
        assert writes(app) == sent_before

        restored = await client.call_tool(
            "restore_snapshot",
            {"snapshot_id": snapshot_id, "_approval": preview.structured_content["approval"]["token"]},
        )
        assert not restored.is_error, restored.content[0].text
        assert restored.content[0].text.startswith(f"Restored snapshot {snapshot_id}")
        assert writes(app)[:-1] == sent_before and len(writes(app)) == len(sent_before) + 1
        assert writes(app)[-1][0] == "PUT" and writes(app)[-1][1].endswith(plan["path"])
        after = (await client.call_tool(spec["get"], ident)).structured_content
        assert after == before

        # the state the restore replaced was kept too, under the restore's own name
        fresh = app.safety.store.load(restored.meta["ledgermcp/snapshot"]["id"])
        assert fresh["tool"] == "restore_snapshot"
        assert fresh["entities"][0]["state"] == changed

    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    restores = [
        (a["approval"], a["sent"])
        for a in audit
        if a["tool"] == "restore_snapshot" and a["event"] == "outcome"
    ]
    assert restores == [("required", False), ("token", True)]


@pytest.mark.anyio
async def test_restore_reports_fields_it_leaves_out(tmp_path: Path) -> None:
    app = make_app(tmp_path, "fortnox", approve="never")
    store = app.safety.store
    async with Client(app.server, mode="legacy") as client:
        created = await client.call_tool("create_customer", {"Name": "Acme AB", "City": "Lund"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        snapshot_id = store.new_id("update_customer", time.time())
        kept = {
            "@url": "https://api.fortnox.se/3/customers/1",
            "CustomerNumber": number,
            "Name": "Acme Old AB",
            "City": None,  # null where the update takes a string: left out, not sent as "null"
            "Balance": 12.5,  # not an input of update_customer
        }
        store.save(
            {
                "id": snapshot_id,
                "vendor": "fortnox",
                "tool": "update_customer",
                "target": load_vendor("fortnox").tool("update_customer")["snapshot"],
                "entities": [{"path": f"/3/customers/{number}", "status": 200, "state": {"Customer": kept}}],
            }
        )
        result = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert not result.is_error, result.content[0].text
        left_out = {f["field"] for f in result.meta["ledgermcp/restore"]["left_out"]}
        assert left_out == {"@url", "City", "Balance"}
        assert "Not restored: @url (response metadata)" in result.content[0].text
        put = app.sandbox.requests[-1]
        assert put.method == "PUT" and json.loads(put.content) == {"Customer": {"Name": "Acme Old AB"}}
        got = await client.call_tool("get_customer", {"CustomerNumber": number})
        assert got.structured_content["Customer"] == {
            "CustomerNumber": number,
            "Name": "Acme Old AB",
            "City": "Lund",
        }


@pytest.mark.anyio
async def test_refusals_send_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path, "fortnox", approve="never")
    store = app.safety.store
    vendor = load_vendor("fortnox")
    no_update = next(t for t in vendor.tools if t.get("snapshot") and not t["snapshot"]["restore_tool"])
    orphan = store.new_id(no_update["name"], time.time())
    store.save(
        {
            "id": orphan,
            "vendor": "fortnox",
            "tool": no_update["name"],
            "target": no_update["snapshot"],
            "entities": [
                {"path": no_update["snapshot"]["path"].split("{")[0] + "7", "status": 200, "state": {"a": 1}}
            ],
        }
    )
    foreign = store.new_id("update_contact", time.time())
    store.save({"id": foreign, "vendor": "smallinvoice", "tool": "update_contact", "entities": []})
    missing = "20240131T101500Z-update_customer-0badf00d"
    async with Client(app.server, mode="legacy") as client:
        cases = {
            orphan: ("RESTORE_UNSUPPORTED", "cannot be undone by writing the state back"),
            missing: ("NOT_FOUND", f"there is no snapshot {missing}"),
            foreign: ("NOT_FOUND", "was kept for 'smallinvoice'"),
            "../../etc/passwd": ("VALIDATION_ERROR", "is not a snapshot URI"),
            f"{missing}.json": ("VALIDATION_ERROR", "is not a snapshot id"),
            f"ledgermcp://snapshots/smallinvoice/{missing}": (
                "VALIDATION_ERROR",
                "snapshot of 'smallinvoice'",
            ),
        }
        for ref, (expected, words) in cases.items():
            result = await client.call_tool("restore_snapshot", {"snapshot_id": ref})
            assert code(result) == expected, (ref, result.content[0].text)
            assert words in result.content[0].text, (ref, result.content[0].text)
            assert result.structured_content["error"]["request_sent"] is False
        bad = await client.call_tool("restore_snapshot", {"snapshot": missing})
        assert code(bad) == "VALIDATION_ERROR" and "snapshot_id" in bad.content[0].text
    assert app.sandbox.requests == []


@pytest.mark.anyio
async def test_batch_snapshot_names_its_entities(tmp_path: Path) -> None:
    app = make_app(tmp_path, "smallinvoice", approve="never")
    async with Client(app.server, mode="legacy") as client:
        address = {"street": "S 1", "postcode": "8001", "city": "Zürich", "country": "CH"}
        made = await client.call_tool(
            "create_contact", {"name": "A AG", "relation": ["CL"], "type": "C", "main_address": address}
        )
        contact = made.structured_content["item"]["id"]
        people = []
        for name in ("Anna", "Beat"):
            person = await client.call_tool(
                "create_contact_people",
                {"contactId": contact, "name": name, "surname": "Muster", "gender": "F"},
            )
            people.append(person.structured_content["item"]["id"])
        deleted = await client.call_tool(
            "delete_contact_people", {"contactId": contact, "peopleIds": f"{people[0]},{people[1]}"}
        )
        assert not deleted.is_error, deleted.content[0].text
        snapshot_id = deleted.meta["ledgermcp/snapshot"]["id"]
        paths = [f"/contacts/{contact}/people/{p}" for p in people]
        assert [e["path"] for e in app.safety.store.load(snapshot_id)["entities"]] == paths
        sent = writes(app)

        which = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert code(which) == "VALIDATION_ERROR"
        assert all(p in which.content[0].text for p in paths)
        unknown = await client.call_tool(
            "restore_snapshot", {"snapshot_id": snapshot_id, "entity": "/contacts/9"}
        )
        assert code(unknown) == "VALIDATION_ERROR" and paths[0] in unknown.content[0].text

        # the entity is gone: an update cannot bring it back, so the restore is refused before
        # anything is sent, and says the snapshot is a record
        gone = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id, "entity": paths[0]})
        assert code(gone) == "RESTORE_UNSUPPORTED" and "it is a record" in gone.content[0].text
        assert writes(app) == sent


@pytest.mark.anyio
async def test_dry_run_and_selection(tmp_path: Path) -> None:
    dry = make_app(tmp_path / "dry", "fortnox", approve="never", dry_run=True)
    store = dry.safety.store
    snapshot_id = store.new_id("update_customer", time.time())
    store.save(
        {
            "id": snapshot_id,
            "vendor": "fortnox",
            "tool": "update_customer",
            "target": load_vendor("fortnox").tool("update_customer")["snapshot"],
            "entities": [{"path": "/3/customers/5", "status": 200, "state": {"Customer": {"Name": "Old"}}}],
        }
    )
    async with Client(dry.server, mode="legacy") as client:
        result = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert result.structured_content["dry_run"] is True
        assert result.structured_content["plan"]["body"] == {"Customer": {"Name": "Old"}}
    assert dry.sandbox.requests == []

    hidden = make_app(
        tmp_path / "sel", "fortnox", approve="never", selection=Selection(exclude=("update_*",))
    )
    hidden.safety.store.save({**store.load(snapshot_id)})
    async with Client(hidden.server, mode="legacy") as client:
        refused = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert code(refused) == "RESTORE_UNSUPPORTED" and "update_customer" in refused.content[0].text
    assert hidden.sandbox.requests == []

    read_only = make_app(tmp_path / "ro", "fortnox", selection=Selection(read_only=True))
    async with Client(read_only.server, mode="legacy") as client:
        assert "restore_snapshot" not in [t.name for t in (await client.list_tools()).tools]
        with pytest.raises(MCPError):
            await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})


@pytest.mark.anyio
async def test_no_restore_tool_and_no_resources_without_snapshots(tmp_path: Path) -> None:
    app = create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=SafetyOptions(snapshots=False))
    async with Client(app.server, mode="legacy") as client:
        assert client.server_capabilities.resources is None
        assert "restore_snapshot" not in [t.name for t in (await client.list_tools()).tools]


@pytest.mark.anyio
async def test_fields_gained_after_the_snapshot_are_named(tmp_path: Path) -> None:
    app = make_app(tmp_path, "fortnox", approve="never")
    async with Client(app.server, mode="legacy") as client:
        created = await client.call_tool("create_customer", {"Name": "Acme AB", "City": "Lund"})
        number = created.structured_content["Customer"]["CustomerNumber"]
        updated = await client.call_tool(
            "update_customer", {"CustomerNumber": number, "City": "Malmö", "Phone1": "040-123"}
        )
        snapshot_id = updated.meta["ledgermcp/snapshot"]["id"]
        restored = await client.call_tool("restore_snapshot", {"snapshot_id": snapshot_id})
        assert not restored.is_error, restored.content[0].text
        assert restored.meta["ledgermcp/restore"]["not_in_snapshot"] == ["Phone1"]
        assert "Not in the snapshot, so left as they were: Phone1" in restored.content[0].text
        got = (await client.call_tool("get_customer", {"CustomerNumber": number})).structured_content
        assert got["Customer"]["City"] == "Lund" and got["Customer"]["Phone1"] == "040-123"
