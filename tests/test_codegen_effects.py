"""One effect per operation, from all its evidence (codegen/effects.py, docs/effects.md).

Each test is a small inline description shaped like a real API, including every case the
operation-semantics work was started for. Hints, names, retry and restore all follow from the effect.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.diagnostics import GenerationError
from ledgermcp.codegen.effects import RULES, OperationShape, classify, words
from ledgermcp.codegen.ir import Tool
from ledgermcp.codegen.normalize import normalise

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def op(summary: str = "", operation_id: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"responses": OK, **extra}
    if summary:
        out["summary"] = summary
    if operation_id:
        out["operationId"] = operation_id
    return out


def build(paths: dict[str, dict[str, Any]], overlay: dict[str, Any] | None = None) -> dict[str, Tool]:
    spec_paths = {}
    for path, methods in paths.items():
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"\{([^}]+)\}", path)
        ]
        spec_paths[path] = {"parameters": params, **methods}
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": spec_paths}
    ir, _ = build_ir(normalise(spec)[0], overlay or {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    return {t.operation.key: t for t in ir.tools}


def one(path: str, method: str, operation: dict[str, Any], **siblings: dict[str, Any]) -> Tool:
    tools = build({path: {method: operation}, **siblings})
    return tools[f"{method.upper()} {path}"]


def effect(tool: Tool) -> str:
    assert tool.decision is not None
    return tool.decision.effect


def hints(tool: Tool) -> tuple[bool, bool, bool, bool]:
    h = tool.hints
    return (h.read_only, h.destructive, h.idempotent, h.open_world)


# read-only, destructive, idempotent, open-world
READ = (True, False, True, False)
ADDITIVE = (False, False, False, False)
UPDATE = (False, True, True, False)
SEND = (False, True, False, True)
LEDGER = (False, True, False, False)


# --- the method decides only when nothing else does -----------------------------------------


def test_crud_by_shape() -> None:
    tools = build(
        {
            "/customers": {"get": op(), "post": op()},
            "/customers/{id}": {"get": op(), "put": op(), "patch": op(), "delete": op()},
        }
    )
    assert [effect(tools[k]) for k in ("GET /customers", "POST /customers", "PUT /customers/{id}")] == [
        "read",
        "create",
        "update",
    ]
    assert hints(tools["POST /customers"]) == ADDITIVE
    assert hints(tools["PATCH /customers/{id}"]) == UPDATE
    assert effect(tools["DELETE /customers/{id}"]) == "delete"
    assert tools["DELETE /customers/{id}"].facts["irreversible"]


def test_a_post_to_an_item_is_an_update_named_so() -> None:
    # Stripe-shaped: POST /v1/customers/{customer} updates the customer
    tool = one(
        "/v1/customers/{customer}",
        "post",
        op("Update a customer"),
        **{"/v1/customers": {"post": op("Create a customer")}},
    )
    assert effect(tool) == "update" and hints(tool) == UPDATE
    assert tool.name == "update_customer"


def test_a_post_to_an_item_without_words_is_an_update_too() -> None:
    tool = one("/v1/plans/{plan}", "post", op(), **{"/v1/plans": {"post": op()}})
    assert effect(tool) == "update" and tool.name == "update_plan"


# --- money, sends and ledger entries, whatever the method ------------------------------------


@pytest.mark.parametrize("noun", ["charges", "refunds", "payouts", "transfers"])
def test_creating_a_money_movement_is_money(noun: str) -> None:
    tool = one(f"/v1/{noun}", "post", op(f"Create a {noun[:-1]}"))
    assert effect(tool) == "money"
    assert hints(tool) == SEND  # destructive, never repeated, reaches a bank
    assert tool.facts["irreversible"] and tool.facts["approval"] and not tool.facts["retry"]


def test_a_stock_transfer_moves_goods_not_money() -> None:
    assert effect(one("/stock/stocktransfers", "post", op("Create a stock transfer"))) == "create"


@pytest.mark.parametrize(
    "path", ["/2010-04-01/Accounts/{AccountSid}/Messages.json", "/Accounts/{Sid}/Calls.json"]
)
def test_sending_an_sms_or_placing_a_call_reaches_people(path: str) -> None:
    tool = one(path, "post", op("Send a new outgoing message"))
    assert effect(tool) == "send" and tool.hints.open_world
    assert "2010" not in tool.name and "json" not in tool.name


def test_messages_name_has_no_date_or_suffix() -> None:
    tool = one("/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", op())
    assert tool.name == "create_account_message"


def test_a_get_that_sends_an_email_is_a_send() -> None:
    tool = one("/3/invoices/{DocumentNumber}/email", "get", op("Send an invoice as email", "email"))
    assert effect(tool) == "send" and hints(tool) == SEND
    assert not tool.facts["retry"]


def test_posting_a_voucher_is_a_ledger_entry() -> None:
    tool = one("/3/vouchers", "post", op("Create a voucher"))
    assert effect(tool) == "ledger" and hints(tool) == LEDGER
    assert tool.facts["approval"] and tool.facts["irreversible"]


def test_registering_a_payment_is_a_ledger_entry_not_open_world() -> None:
    tool = one("/3/invoicepayments", "post", op("Create an invoice payment"))
    assert effect(tool) == "ledger" and not tool.hints.open_world


def test_a_setting_about_payments_is_not_a_payment() -> None:
    assert effect(one("/3/termsofpayments", "post", op("Create a terms of payment"))) == "create"


@pytest.mark.parametrize(
    ("segment", "summary", "expected"),
    [
        ("bookkeep", "Bookkeep an invoice", "ledger"),
        ("credit", "Credit an invoice", "cancel"),
        ("cancel", "Cancel an invoice", "cancel"),
        ("void", "Void an invoice", "cancel"),
        ("finalize", "Finalize an invoice", "ledger"),
        ("send", "Send the invoice", "send"),
        ("pay", "Pay an invoice", "money"),
    ],
)
def test_irreversible_actions_after_an_item(segment: str, summary: str, expected: str) -> None:
    tool = one(f"/invoices/{{id}}/{segment}", "put", op(summary))
    assert effect(tool) == expected
    assert tool.hints.destructive and not tool.hints.idempotent and not tool.facts["retry"]
    assert tool.facts["irreversible"] and not tool.facts["restorable"]


def test_description_sentences_raise_the_effect() -> None:
    tool = one(
        "/warehouse/deliveries/{id}/release",
        "put",
        op("Release the document", description="The document will be locked and bookkept."),
    )
    assert effect(tool) == "ledger"


# --- nouns that start with a verb are nouns -------------------------------------------------


def test_credit_reversals_listed_by_a_get_are_a_read() -> None:
    tools = build(
        {
            "/v1/treasury/credit_reversals": {"get": op("List all CreditReversals")},
            "/v1/treasury/credit_reversals/{id}": {"get": op("Retrieve a CreditReversal")},
        }
    )
    tool = tools["GET /v1/treasury/credit_reversals"]
    assert effect(tool) == "read" and hints(tool) == READ
    assert tool.name == "list_treasury_credit_reversals"


def test_pay_templates_of_an_employee_are_a_read() -> None:
    tool = one(
        "/Employees/{EmployeeID}/PayTemplates",
        "get",
        op("Retrieves pay templates for a specific employee", "getEmployeePayTemplates"),
    )
    assert effect(tool) == "read" and not tool.name.startswith("pay_")


def test_a_credit_note_export_is_a_read() -> None:
    tool = one("/Export/creditNoteCsv", "get", op("Export creditNote", "creditNoteExportCsv"))
    assert hints(tool) == READ and not tool.name.startswith("credit_")


def test_a_credit_report_is_not_a_credit() -> None:
    tool = one("/api/v1/reports/credit", "post", op("Credit report", "creditReport"))
    assert effect(tool) == "export" and tool.hints.read_only


def test_a_credit_note_action_named_by_its_noun() -> None:
    tool = one("/CreditNote/{id}/sendBy", "put", op("Mark credit note as sent", "creditNoteSendBy"))
    # the summary explains the segment: marking as sent is a state change, nothing leaves
    assert effect(tool) == "state" and not tool.hints.open_world


# --- operationIds and summaries ------------------------------------------------------------


def test_store_is_a_create_and_named_create() -> None:
    tools = build(
        {"/api/v1/clients": {"post": op("Adds a client", "storeClient")}},
        {"vendor": {"naming": "operation_id"}},
    )
    tool = tools["POST /api/v1/clients"]
    assert effect(tool) == "create" and tool.name == "create_client"


def test_api_and_version_segments_are_not_in_names() -> None:
    tool = one("/api/v1/clients/{id}", "get", op())
    assert tool.name == "get_client"


def test_a_post_whose_operation_id_says_delete_is_a_delete() -> None:
    # Xero-shaped: the summary says update, the operationId and what it does say delete
    tool = one(
        "/BankTransfers/{BankTransferID}",
        "post",
        op("Updates a specific bank transfer", "deleteBankTransfer"),
    )
    assert effect(tool) == "delete" and tool.hints.destructive


def test_update_or_create_is_an_upsert_never_repeated() -> None:
    tool = one("/Contacts", "post", op("Updates or creates one or more contacts", "updateOrCreateContacts"))
    assert effect(tool) == "update" and tool.hints.destructive and not tool.hints.idempotent
    assert tool.name == "upsert_contacts"  # not create_contact: it changes what exists


def test_a_post_to_a_collection_that_deletes_is_named_so() -> None:
    tool = one("/BankTransfers", "post", op("Deletes one or more bank transfers", "deleteBankTransfers"))
    assert effect(tool) == "delete" and tool.name == "delete_bank_transfers"


def test_put_to_a_collection_that_creates_is_a_create() -> None:
    tool = one("/Contacts", "put", op("Creates multiple contacts", "createContacts"))
    assert effect(tool) == "create" and hints(tool) == ADDITIVE and tool.name == "create_contact"


def test_search_via_post_is_a_read() -> None:
    tool = one("/invoices/search", "post", op("Search invoices", "searchInvoices"))
    assert hints(tool) == READ and tool.facts["retry"]


def test_an_email_sent_by_post_to_a_collection() -> None:
    tool = one("/api/v1/emails", "post", op("Sends an email for an entity", "sendEmailTemplate"))
    assert effect(tool) == "send" and tool.hints.open_world


def test_delete_or_void_takes_the_more_dangerous() -> None:
    tool = one("/assets/{id}", "delete", op("Delete or Void an Asset"))
    assert effect(tool) == "cancel" and not tool.hints.idempotent


# --- bulk, {action} placeholders, options with side effects ---------------------------------


def test_bulk_with_listed_actions_takes_the_worst_one() -> None:
    body = {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string", "enum": ["archive", "delete", "email", "mark_paid"]},
                        "ids": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        }
    }
    tool = one("/api/v1/invoices/bulk", "post", op("Performs bulk actions on invoices", requestBody=body))
    assert effect(tool) == "bulk"
    assert hints(tool) == SEND  # e-mailing many invoices: destructive, open-world, never repeated
    assert tool.facts["irreversible"]


def test_bulk_without_listed_actions_is_destructive_but_not_open_world() -> None:
    tool = one("/api/v1/designs/bulk", "post", op("Performs bulk actions on designs"))
    assert effect(tool) == "bulk" and hints(tool) == (False, True, False, False)


def test_an_action_placeholder_takes_the_worst_listed_action() -> None:
    tool = one(
        "/api/v1/invoices/{id}/{action}",
        "get",
        op("Custom invoice action", description="Actions:\n- clone_to_invoice\n- download\n- email\n"),
    )
    assert effect(tool) == "send" and not tool.hints.read_only


def test_an_option_that_prevents_a_side_effect_reveals_it() -> None:
    flag = {"name": "preventSendBy", "in": "query", "schema": {"type": "boolean"}}
    tool = one(
        "/Invoice/{invoiceId}/getPdf", "get", op("Retrieve pdf document of an invoice", parameters=[flag])
    )
    assert not tool.hints.read_only and effect(tool) == "state"


def test_a_create_whose_body_deletes_is_destructive() -> None:
    body = {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"invoice": {"type": "object"}, "invoicePosDelete": {"type": "array"}},
                }
            }
        }
    }
    tool = one("/Invoice/Factory/saveInvoice", "post", op("Create a new invoice", requestBody=body))
    assert tool.hints.destructive and not tool.hints.idempotent


# --- state changes, appends and increments --------------------------------------------------


def test_marking_and_locking_are_reversible_state_changes() -> None:
    for segment in ("lock", "archive", "change-status"):
        tool = one(f"/letters/{{id}}/{segment}", "patch", op())
        assert effect(tool) == "state" and hints(tool) == UPDATE, segment
        assert not tool.facts["irreversible"]


def test_an_increment_is_never_repeated() -> None:
    tool = one("/contracts/{id}/increaseinvoicecount", "put", op("Increases the invoice count"))
    assert tool.hints.destructive and not tool.hints.idempotent


def test_history_notes_are_appended() -> None:
    tool = one("/Invoices/{InvoiceID}/History", "put", op("Creates a history record for a specific invoice"))
    assert hints(tool) == ADDITIVE


def test_an_unexplained_action_is_cautious_and_listed_for_review() -> None:
    tool = one("/widgets/{id}/frobnicate", "post", op())
    assert effect(tool) == "action"
    assert tool.hints.destructive and not tool.hints.idempotent and not tool.hints.read_only
    assert tool.decision is not None and tool.decision.review


def test_a_delete_of_a_lock_names_the_unlock_not_a_lock() -> None:
    # GitHub-shaped: DELETE .../repos/{repo_name}/lock unlocks a migrated repository
    tool = one("/orgs/{org}/migrations/{migration_id}/repos/{repo_name}/lock", "delete", op())
    assert not tool.name.startswith("lock_")
    assert tool.name == "delete_org_migration_repo_lock"
    assert tool.hints.destructive


# --- overlay and extensions decide outright ------------------------------------------------


def test_overlay_effect_needs_a_reason_and_wins() -> None:
    paths = {"/invoices/{id}/print": {"get": op("Print an invoice")}}
    assert build(paths)["GET /invoices/{id}/print"].hints.read_only
    overlay = {"operations": {"GET /invoices/{id}/print": {"effect": "state", "reason": "sets Sent"}}}
    tool = build(paths, overlay)["GET /invoices/{id}/print"]
    assert effect(tool) == "state" and not tool.hints.read_only
    with pytest.raises(GenerationError, match="needs a `reason`"):
        build(paths, {"operations": {"GET /invoices/{id}/print": {"effect": "state"}}})
    with pytest.raises(GenerationError, match="not one of"):
        build(paths, {"operations": {"GET /invoices/{id}/print": {"effect": "nap", "reason": "x"}}})


def test_the_spec_extension_decides() -> None:
    tool = one("/jobs", "post", op("Run a job", **{"x-ledgermcp-effect": "send"}))
    assert effect(tool) == "send" and tool.hints.open_world


# --- the pieces ---------------------------------------------------------------------------


def test_words_split_every_spelling() -> None:
    assert words("sendInvoiceByEMail") == ["send", "invoice", "by", "e", "mail"]
    assert words("Send an e-mail") == ["send", "an", "email"]
    assert words("send-by-post") == ["send", "by", "post"]


def test_every_effect_has_a_consistent_rule() -> None:
    for name, rule in RULES.items():
        assert not (rule.read_only and rule.destructive), name
        if rule.irreversible and name != "delete":
            assert rule.destructive and not rule.idempotent, name


def test_classify_reads_a_shape_directly() -> None:
    decision = classify(OperationShape(method="GET", path="/invoices/{id}/email", summary="Send an invoice"))
    assert decision.effect == "send"
    assert any(e.source == "summary" for e in decision.evidence)


def test_the_generator_names_the_paging_arguments_of_a_list() -> None:
    params = [
        {"name": "Page", "in": "query", "schema": {"type": "integer"}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
        {"name": "q", "in": "query", "schema": {"type": "string"}},
    ]
    tools = build({"/items": {"get": op("List items", parameters=params)}, "/items/{id}": {"get": op()}})
    assert tools["GET /items"].facts["paging"] == {"page": "Page", "limit": "per_page"}
    assert "paging" not in tools["GET /items/{id}"].facts  # one record: nothing to page
