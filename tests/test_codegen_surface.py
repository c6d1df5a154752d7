"""The tool-surface change report: what a regeneration adds, removes, renames or makes less cautious."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.normalize import normalise
from ledgermcp.codegen.surface import diff_surface, lock_entries, parse_lock, render_lock, schema_hash

SAFE = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
WRITE = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}


def entry(
    name: str, operation: str, hints: dict[str, bool] | None = None, schema: str = "s1"
) -> dict[str, Any]:
    return {
        "name": name,
        "group": "g",
        "operation": operation,
        "hints": dict(hints or SAFE),
        "input_schema": schema,
    }


OLD = [
    entry("get_invoice", "GET /invoices/{id}"),
    entry("list_invoices", "GET /invoices"),
    entry("send_invoice", "POST /invoices/{id}/send", WRITE),
]


def test_no_change_is_empty() -> None:
    change = diff_surface(OLD, [dict(e) for e in OLD])
    assert change.empty and change.breaking == []
    assert change.render() == "tool surface unchanged"


def test_added_tool_is_not_breaking() -> None:
    change = diff_surface(OLD, [*OLD, entry("list_contacts", "GET /contacts")])
    assert change.added == ["list_contacts"]
    assert (change.removed, change.renamed, change.hints, change.schema) == ([], [], [], [])
    assert change.breaking == []
    assert "+ added    list_contacts" in change.render()


def test_removed_tool_is_breaking() -> None:
    change = diff_surface(OLD, OLD[1:])
    assert change.removed == ["get_invoice"]
    assert change.breaking == ["removed get_invoice"]
    assert "[BREAKING]" in change.render()


def test_same_operation_new_name_is_a_breaking_rename() -> None:
    new = [entry("fetch_invoice", "GET /invoices/{id}"), *OLD[1:]]
    change = diff_surface(OLD, new)
    assert change.renamed == [("get_invoice", "fetch_invoice")]
    assert change.added == [] and change.removed == []
    assert change.breaking == ["renamed get_invoice -> fetch_invoice"]
    assert "~ renamed  get_invoice -> fetch_invoice   [BREAKING]" in change.render()


@pytest.mark.parametrize(
    ("key", "before", "after"),
    [
        ("readOnlyHint", False, True),
        ("destructiveHint", True, False),
        ("idempotentHint", False, True),
        ("openWorldHint", True, False),
    ],
)
def test_less_cautious_hint_is_breaking_and_the_reverse_is_not(key: str, before: bool, after: bool) -> None:
    old = [entry("x", "POST /x", {**WRITE, key: before})]
    relaxed = [entry("x", "POST /x", {**WRITE, key: after})]
    change = diff_surface(old, relaxed)
    assert change.hints == [("x", f"{key} {before} -> {after}", True)]
    assert change.breaking == [f"x: {key} {before} -> {after}"]
    assert "less cautious" in change.render()

    back = diff_surface(relaxed, old)
    assert back.hints == [("x", f"{key} {after} -> {before}", False)]
    assert back.breaking == []
    assert "BREAKING" not in back.render()


def test_hint_change_follows_a_renamed_tool() -> None:
    new = [
        *OLD[:2],
        entry("send_invoice_by_email", "POST /invoices/{id}/send", {**WRITE, "openWorldHint": False}),
    ]
    change = diff_surface(OLD, new)
    assert change.renamed == [("send_invoice", "send_invoice_by_email")]
    assert change.hints == [("send_invoice_by_email", "openWorldHint True -> False", True)]
    assert len(change.breaking) == 2


def test_schema_change_is_listed() -> None:
    new = [OLD[0], entry("list_invoices", "GET /invoices", schema="s2"), OLD[2]]
    change = diff_surface(OLD, new)
    assert change.schema == ["list_invoices"]
    assert change.breaking == []
    assert "~ schema   list_invoices: input schema changed" in change.render()


def test_a_name_moving_to_another_operation_is_breaking() -> None:
    # upstream adds GET /employees/{id}; the clash rules give it the old name of the deeper path
    old = [entry("get_employee", "GET /employees/{id}/{date}")]
    new = [
        entry("get_employee", "GET /employees/{id}"),
        entry("get_employee_by_date", "GET /employees/{id}/{date}"),
    ]
    change = diff_surface(old, new)
    assert change.renamed == [("get_employee", "get_employee_by_date")]
    assert change.retargeted == [("get_employee", "GET /employees/{id}/{date}", "GET /employees/{id}")]
    assert change.added == [] and change.removed == []
    assert len(change.breaking) == 2
    assert not change.empty


def test_a_name_kept_for_a_different_operation_is_breaking() -> None:
    old = [entry("update_item", "PUT /items/{id}", WRITE)]
    new = [entry("update_item", "PUT /item/{id}", WRITE)]
    change = diff_surface(old, new)
    assert change.retargeted == [("update_item", "PUT /items/{id}", "PUT /item/{id}")]
    assert change.breaking == ["update_item now calls PUT /item/{id} (was PUT /items/{id})"]
    assert change.added == [] and change.removed == [] and change.renamed == []
    assert "~ moved    update_item: PUT /items/{id} -> PUT /item/{id}   [BREAKING]" in change.render()
    # what the moved name offers is still compared
    relaxed = diff_surface(old, [entry("update_item", "PUT /item/{id}", {**WRITE, "destructiveHint": False})])
    assert relaxed.hints == [("update_item", "destructiveHint True -> False", True)]


def test_an_operation_that_is_gone_while_its_name_moves_on_is_reported_once() -> None:
    old = [entry("list_a", "GET /a"), entry("get_a", "GET /a/{id}")]
    new = [entry("list_a", "GET /a"), entry("get_a", "GET /b/{id}"), entry("get_b", "GET /a/{id}")]
    change = diff_surface(old, new)
    assert change.renamed == [("get_a", "get_b")]
    assert change.retargeted == [("get_a", "GET /a/{id}", "GET /b/{id}")]
    assert change.added == [] and change.removed == [] and change.hints == [] and change.schema == []


# --- end to end: an operationId renamed upstream ------------------------------------------------


def _spec(operation_id: str) -> dict[str, Any]:
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/contacts": {"get": {"operationId": "getContacts", "responses": ok}},
            "/contacts/{contactId}": {
                "parameters": [
                    {"name": "contactId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "get": {"operationId": operation_id, "responses": ok},
            },
        },
    }


def _lock(operation_id: str) -> list[dict[str, Any]]:
    spec, _ = normalise(_spec(operation_id))
    ir, _ = build_ir(
        spec, {"vendor": {"naming": "operation_id"}}, vendor="acme", spec_file="a.yaml", spec_sha256="0"
    )
    return lock_entries([t.to_table() for t in ir.tools])


def test_operation_id_renamed_upstream_is_a_breaking_rename() -> None:
    before, after = _lock("getContact"), _lock("lookupContactById")
    assert [e["name"] for e in before] == ["get_contact", "list_contacts"]
    change = diff_surface(before, after)
    assert change.renamed == [("get_contact", "lookup_contact_by_id")]
    assert change.added == [] and change.removed == [] and change.schema == [] and change.hints == []
    assert change.breaking == ["renamed get_contact -> lookup_contact_by_id"]


def test_lock_round_trips_and_is_sorted_and_stable() -> None:
    entries = _lock("getContact")
    text = render_lock("# Generated by test from a.yaml (sha256 0); do not edit.", entries)
    assert json.loads(text)["_generated"].startswith("Generated by test")
    assert parse_lock(text) == entries
    assert [e["name"] for e in entries] == sorted(e["name"] for e in entries)
    assert render_lock("# h", _lock("getContact")) == render_lock("# h", entries)
    # the schema hash ignores key order but not content
    assert schema_hash({"a": 1, "b": 2}) == schema_hash({"b": 2, "a": 1})
    assert schema_hash({"a": 1}) != schema_hash({"a": 2})


# --- arguments ------------------------------------------------------------------------------------


def _invoices_spec(statuses: list[str], *, currency_required: bool) -> dict[str, Any]:
    """An upstream description in two versions: the status filter's enum and the create's body."""
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
    body_required = ["customer", "currency"] if currency_required else ["customer"]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Acme", "version": "1"},
        "paths": {
            "/invoices": {
                "get": {
                    "operationId": "listInvoices",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": statuses}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": ok,
                },
                "post": {
                    "operationId": "createInvoice",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": body_required,
                                    "properties": {
                                        "customer": {"type": "string"},
                                        "currency": {"type": "string"},
                                        "notes": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": ok,
                },
            }
        },
    }


def _entries(spec: dict[str, Any]) -> list[dict[str, Any]]:
    normalised, _ = normalise(spec)
    ir, _ = build_ir(normalised, {}, vendor="acme", spec_file="a.yaml", spec_sha256="0")
    return lock_entries([t.to_table() for t in ir.tools])


def test_the_lock_keeps_each_argument_with_type_required_and_enum() -> None:
    entries = {
        e["name"]: e for e in _entries(_invoices_spec(["draft", "sent", "paid"], currency_required=False))
    }
    assert entries["list_invoices"]["arguments"] == [
        {"name": "limit", "type": "integer", "required": False},
        {"name": "status", "type": "string", "required": False, "enum": ["draft", "sent", "paid"]},
    ]
    assert [(a["name"], a["required"]) for a in entries["create_invoice"]["arguments"]] == [
        ("currency", False), ("customer", True), ("notes", False),
    ]  # fmt: skip


def test_a_narrowed_enum_and_a_newly_required_argument_are_breaking_and_named() -> None:
    before = _entries(_invoices_spec(["draft", "sent", "paid"], currency_required=False))
    after = _entries(_invoices_spec(["draft", "paid"], currency_required=True))
    change = diff_surface(before, after)
    assert change.arguments == [
        ("create_invoice", "argument 'currency' now required", True),
        ("list_invoices", "argument 'status' enum lost \"sent\"", True),
    ]
    assert change.breaking == [
        "create_invoice: argument 'currency' now required",
        "list_invoices: argument 'status' enum lost \"sent\"",
    ]
    report = change.render()
    assert "~ argument create_invoice: argument 'currency' now required   [BREAKING]" in report
    assert "~ argument list_invoices: argument 'status' enum lost \"sent\"   [BREAKING]" in report
    assert report.endswith("2 argument changes, 2 schema changes; 2 breaking")
    assert "~ schema" not in report  # the argument lines say what changed in those schemas
    # the other way round relaxes both: reported, not breaking
    relaxed = diff_surface(after, before)
    assert [(t, br) for t, _, br in relaxed.arguments] == [
        ("create_invoice", False),
        ("list_invoices", False),
    ]
    assert relaxed.breaking == []


@pytest.mark.parametrize(
    ("old", "new", "text", "breaking"),
    [
        ({"name": "x", "type": "string", "required": False}, None, "argument 'x' removed", True),
        (None, {"name": "x", "type": "string", "required": True}, "argument 'x' added (required)", True),
        (None, {"name": "x", "type": "string", "required": False}, "argument 'x' added", False),
        ({"name": "x", "type": "integer|string", "required": False},
         {"name": "x", "type": "integer", "required": False}, "argument 'x' type integer|string -> integer", True),
        ({"name": "x", "type": "integer", "required": False},
         {"name": "x", "type": "number", "required": False}, "argument 'x' type integer -> number", False),
        ({"name": "x", "type": "any", "required": False},
         {"name": "x", "type": "object", "required": False}, "argument 'x' type any -> object", True),
        ({"name": "x", "type": "string", "required": False},
         {"name": "x", "type": "string", "required": False, "enum": ["a"]}, "argument 'x' limited to \"a\"", True),
        ({"name": "x", "type": "string", "required": False, "enum": ["a"]},
         {"name": "x", "type": "string", "required": False, "enum": ["a", "b"]}, "argument 'x' enum gained \"b\"", False),
        ({"name": "x", "type": "string", "required": False, "enum": ["a"]},
         {"name": "x", "type": "string", "required": False}, "argument 'x' takes any value now (enum dropped)", False),
    ],
)  # fmt: skip
def test_each_kind_of_argument_change(old: Any, new: Any, text: str, breaking: bool) -> None:
    def tool(argument: Any) -> list[dict[str, Any]]:
        return [{**entry("t", "GET /t"), "arguments": [argument] if argument else []}]

    change = diff_surface(tool(old), tool(new))
    assert change.arguments == [("t", text, breaking)]


def test_a_lock_without_arguments_compares_by_hash_only() -> None:
    old = [entry("t", "GET /t", schema="s1")]
    new = [
        {
            **entry("t", "GET /t", schema="s2"),
            "arguments": [{"name": "x", "type": "string", "required": True}],
        }
    ]
    change = diff_surface(old, new)
    assert change.arguments == [] and change.schema == ["t"] and change.breaking == []
