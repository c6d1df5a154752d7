"""Snapshot targets: for each mutating tool, the GET that reads the entity before the write."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError
from ledgermcp.codegen.ir import Tool
from ledgermcp.codegen.normalize import normalise

JSON_OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
OP = {"responses": JSON_OK}


def build(
    paths: dict[str, list[str]], overlay: dict[str, Any] | None = None
) -> tuple[dict[str, Tool], list[Diagnostic]]:
    spec_paths: dict[str, Any] = {}
    for path, methods in paths.items():
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"\{([^}]+)\}", path)
        ]
        spec_paths[path] = {"parameters": params, **{m: dict(OP) for m in methods}}
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": spec_paths}
    ir, diags = build_ir(
        normalise(spec)[0], overlay or {}, vendor="acme", spec_file="a.json", spec_sha256="0"
    )
    return {t.operation.key: t for t in ir.tools}, diags


INVOICES, INVOICE_DIAGS = build(
    {
        "/3/invoices": ["get", "post"],
        # patch listed before put on purpose: the restore tool is still the PUT
        "/3/invoices/{DocumentNumber}": ["get", "patch", "put", "delete"],
        "/3/invoices/{DocumentNumber}/bookkeep": ["put"],
        "/3/invoices/{InvoiceNumber}/send-by-email": ["patch"],
        "/contacts/{contactId}": ["get", "put"],
        "/contacts/{contactId}/addresses": ["post"],
        "/contacts/{contactIds}": ["delete"],
        "/notes": ["post"],
        "/notes/{noteId}/archive": ["put"],
    }
)


def snapshot(key: str) -> dict[str, Any] | None:
    tool = INVOICES[key]
    return tool.snapshot.to_table() if tool.snapshot else None


READ_INVOICE = {
    "method": "GET",
    "path": "/3/invoices/{DocumentNumber}",
    "params": {"DocumentNumber": "DocumentNumber"},
    "batch_arg": None,
    "read_tool": "get_invoice",
    "restore_tool": "update_invoice",
}


@pytest.mark.parametrize("key", ["PUT /3/invoices/{DocumentNumber}", "PATCH /3/invoices/{DocumentNumber}"])
def test_updates_read_the_entity_first_and_can_be_restored(key: str) -> None:
    assert snapshot(key) == READ_INVOICE


@pytest.mark.parametrize(
    "key", ["DELETE /3/invoices/{DocumentNumber}", "PUT /3/invoices/{DocumentNumber}/bookkeep"]
)
def test_irreversible_writes_keep_a_record_but_offer_no_restore(key: str) -> None:
    # a deleted invoice cannot be written back by an update, nor can a booking be unbooked
    assert snapshot(key) == {**READ_INVOICE, "restore_tool": None}
    assert INVOICES[key].facts["irreversible"] and not INVOICES[key].facts["restorable"]


def test_restore_tool_is_the_put_on_the_read_path() -> None:
    restore = INVOICES["PUT /3/invoices/{DocumentNumber}"]
    assert restore.binding.method == "PUT" and restore.name == READ_INVOICE["restore_tool"]
    assert INVOICES["PATCH /3/invoices/{DocumentNumber}"].name != READ_INVOICE["restore_tool"]


def test_action_with_another_parameter_name_maps_it() -> None:
    assert snapshot("PATCH /3/invoices/{InvoiceNumber}/send-by-email") == {
        **READ_INVOICE,
        "params": {"DocumentNumber": "InvoiceNumber"},
        "restore_tool": None,  # a sent e-mail is not undone by writing the invoice back
    }


def test_sub_resource_post_reads_the_parent() -> None:
    assert snapshot("POST /contacts/{contactId}/addresses") == {
        "method": "GET",
        "path": "/contacts/{contactId}",
        "params": {"contactId": "contactId"},
        "batch_arg": None,
        "read_tool": "get_contact",
        "restore_tool": None,  # adding an address is undone by deleting it, not by a write-back
    }


def test_batch_delete_reads_each_id() -> None:
    snap = snapshot("DELETE /contacts/{contactIds}")
    assert snap is not None
    assert snap["path"] == "/contacts/{contactId}"
    assert snap["params"] == {"contactId": "contactIds"}
    assert snap["batch_arg"] == "contactIds"
    # a single delete is not a batch
    assert snapshot("DELETE /3/invoices/{DocumentNumber}")["batch_arg"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    "key", ["GET /3/invoices", "GET /3/invoices/{DocumentNumber}", "POST /3/invoices", "POST /notes"]
)
def test_reads_and_plain_creates_have_no_snapshot(key: str) -> None:
    assert snapshot(key) is None


def test_a_write_without_a_read_warns_and_has_no_snapshot() -> None:
    assert snapshot("PUT /notes/{noteId}/archive") is None
    warned = [d for d in INVOICE_DIAGS if d.code == "no-snapshot-target"]
    assert [d.where for d in warned] == ["PUT /notes/{noteId}/archive"]


def test_snapshot_table_names_real_tools() -> None:
    names = {t.name for t in INVOICES.values()}
    for tool in INVOICES.values():
        if tool.snapshot is None:
            continue
        assert tool.snapshot.read_tool in names
        assert tool.snapshot.restore_tool is None or tool.snapshot.restore_tool in names
        write_args = {p.arg for p in tool.binding.params}
        assert set(tool.snapshot.params.values()) <= write_args
        read = next(t for t in INVOICES.values() if t.name == tool.snapshot.read_tool)
        assert set(tool.snapshot.params) == {p.name for p in read.binding.params if p.location == "path"}


def test_overlay_can_turn_off_or_point_the_snapshot() -> None:
    paths = {"/items/{id}": ["get", "put"], "/items/{id}/lock": ["put"], "/locks/{id}": ["get"]}
    off, _ = build(paths, {"operations": {"PUT /items/{id}": {"snapshot": False}}})
    assert off["PUT /items/{id}"].snapshot is None
    pointed, _ = build(paths, {"operations": {"PUT /items/{id}/lock": {"snapshot": {"path": "/locks/{id}"}}}})
    snap = pointed["PUT /items/{id}/lock"].snapshot
    assert snap is not None and snap.path == "/locks/{id}" and snap.read_tool == "get_lock"
    with pytest.raises(GenerationError, match=r"'/nowhere/\{id\}'.*not a GET"):
        build(paths, {"operations": {"PUT /items/{id}/lock": {"snapshot": {"path": "/nowhere/{id}"}}}})


def _body(*fields: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"summary": summary, "responses": JSON_OK, **({"requestBody": body} if body else {})}


def test_a_restore_is_promised_only_where_the_update_can_write_back_what_changed() -> None:
    """The entity's update restores a write on a sub-path only when it can send every field that
    write sent; a status change, a 'mark as printed' or a tags list it cannot send stays a record."""
    param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/orders/{id}": {
                "parameters": param,
                "get": _op("Get an order"),
                "put": _op("Update an order", _body("note", "quantity", "status_text")),
            },
            "/orders/{id}/partial": {
                "parameters": param,
                "patch": _op("Update part of an order", _body("quantity")),
            },
            "/orders/{id}/change-status": {
                "parameters": param,
                "patch": _op("Change the status", _body("status")),
            },
            "/orders/{id}/externalprint": {"parameters": param, "put": _op("Mark the order as printed")},
        },
    }
    ir, _ = build_ir(normalise(spec)[0], {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    tools = {t.operation.key: t for t in ir.tools}
    covered = tools["PATCH /orders/{id}/partial"]
    assert covered.snapshot is not None and covered.snapshot.restore_tool == "update_order"
    assert covered.facts["restorable"]
    for key in ("PATCH /orders/{id}/change-status", "PUT /orders/{id}/externalprint"):
        tool = tools[key]
        assert tool.snapshot is not None and tool.snapshot.read_tool == "get_order", key
        assert tool.snapshot.restore_tool is None and not tool.facts["restorable"], key
