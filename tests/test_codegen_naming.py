"""Tool naming: verb_noun from method + path, poor operationIds ignored, clashes resolved or refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.diagnostics import GenerationError
from ledgermcp.codegen.ir import VendorIR
from ledgermcp.codegen.naming import MAX_NAME, name_from_operation_id, name_from_path, valid_name
from ledgermcp.codegen.normalize import normalise

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ENDS_IN_NUMBER = re.compile(r"_\d+$")


def _ok() -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _op(operation_id: str | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"responses": _ok(), **extra}
    if operation_id is not None:
        op["operationId"] = operation_id
    return op


def _item(path: str, **methods: dict[str, Any]) -> dict[str, Any]:
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in re.findall(r"\{([^}]+)\}", path)
    ]
    return {"parameters": params, **methods} if params else dict(methods)


def build(paths: dict[str, dict[str, Any]], overlay: dict[str, Any] | None = None) -> VendorIR:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {p: _item(p, **m) for p, m in paths.items()},
    }
    ir, _ = build_ir(normalise(spec)[0], overlay or {}, vendor="acme", spec_file="acme.json", spec_sha256="0")
    return ir


def names(ir: VendorIR) -> dict[str, str]:
    """operation key -> tool name"""
    return {t.operation.key: t.name for t in ir.tools}


def assert_good_names(found: list[str]) -> None:
    assert len(found) == len(set(found)), found
    for name in found:
        assert NAME_RE.match(name), name
        assert len(name) <= MAX_NAME, name
        assert not ENDS_IN_NUMBER.search(name), name


@pytest.mark.parametrize(
    ("method", "path", "has_children", "expected"),
    [
        ("GET", "/3/invoices", True, "list_invoices"),
        ("POST", "/3/invoices", True, "create_invoice"),
        ("GET", "/3/invoices/{DocumentNumber}", False, "get_invoice"),
        ("PUT", "/3/invoices/{DocumentNumber}", False, "update_invoice"),
        ("PATCH", "/3/invoices/{DocumentNumber}", False, "update_invoice"),
        ("DELETE", "/3/invoices/{DocumentNumber}", False, "delete_invoice"),
        ("PUT", "/3/invoices/{DocumentNumber}/bookkeep", False, "bookkeep_invoice"),
        ("PATCH", "/invoices/{id}/send-by-email", False, "send_invoice_by_email"),
        ("PUT", "/3/invoices/{DocumentNumber}/credit", False, "credit_invoice"),
        ("GET", "/contacts/{contactId}/accounts", False, "list_contact_accounts"),
        # not plural, but other operations live under it: still a collection
        ("GET", "/api/warehouse/stocktaking-v1", True, "list_warehouse_stocktaking"),
        ("GET", "/3/companyinformation", False, "get_companyinformation"),
        (
            "POST",
            "/api/warehouse/purchaseorders-v1/sendpurchaseorders",
            False,
            "send_warehouse_purchaseorder_purchaseorders",
        ),
        ("PUT", "/3/assets/sell/{GivenNumber}", False, "sell_asset"),
    ],
)
def test_name_from_method_and_path(method: str, path: str, has_children: bool, expected: str) -> None:
    assert name_from_path(method, path, strip_prefixes=["/3", "/api"], has_children=has_children) == expected


@pytest.mark.parametrize("poor", ["list_2", "create_17", "1_get", "get", "x", "update3_4", "", "17"])
def test_poor_operation_ids_are_refused(poor: str) -> None:
    assert name_from_operation_id(poor) is None


@pytest.mark.parametrize(
    ("operation_id", "expected"),
    [
        ("sendInvoiceByEMail", "send_invoice_by_e_mail"),
        ("getThing", "get_thing"),
        ("list-contacts", "list_contacts"),
    ],
)
def test_readable_operation_ids_are_snake_cased(operation_id: str, expected: str) -> None:
    assert name_from_operation_id(operation_id) == expected


@pytest.mark.parametrize("naming", ["path", "operation_id"])
def test_numbered_operation_ids_never_become_names(naming: str) -> None:
    ir = build(
        {
            "/3/invoices": {"get": _op("list_2"), "post": _op("create_17")},
            "/3/invoices/{DocumentNumber}": {"get": _op("1_get"), "put": _op("update_3")},
        },
        {"vendor": {"naming": naming, "strip_path_prefixes": ["/3"]}},
    )
    assert names(ir) == {
        "GET /3/invoices": "list_invoices",
        "POST /3/invoices": "create_invoice",
        "GET /3/invoices/{DocumentNumber}": "get_invoice",
        "PUT /3/invoices/{DocumentNumber}": "update_invoice",
    }
    # the spec's id stays available for traceability
    assert {t.operation.operation_id for t in ir.tools} == {"list_2", "create_17", "1_get", "update_3"}


def test_good_operation_ids_are_used_when_the_vendor_names_well() -> None:
    ir = build(
        {
            "/receivables/invoices": {"get": _op("getInvoices"), "post": _op("createInvoice")},
            "/receivables/invoices/{invoiceId}/send-by-email": {"patch": _op("sendInvoiceByEMail")},
        },
        {"vendor": {"naming": "operation_id"}},
    )
    assert names(ir) == {
        "GET /receivables/invoices": "list_invoices",  # a GET of a collection lists
        "POST /receivables/invoices": "create_invoice",
        "PATCH /receivables/invoices/{invoiceId}/send-by-email": "send_invoice_by_e_mail",
    }


def test_a_number_in_the_path_does_not_leave_a_numbered_name() -> None:
    ir = build({"/reports/sie-4": {"get": _op()}, "/exports/{id}/step-2": {"post": _op()}})
    found = sorted(names(ir).values())
    assert_good_names(found)
    assert "get_report_sie4" in found


def test_long_names_are_shortened_to_the_limit() -> None:
    path = "/" + "/".join(f"segmentnumber{w}" for w in "abcdefgh") + "/{id}"
    ir = build({path: {"put": _op()}})
    (name,) = names(ir).values()
    assert len(name) <= MAX_NAME
    assert name.startswith("update_segmentnumbera_") and name.endswith("segmentnumberh")


def test_clash_deeper_path_gets_by_params() -> None:
    ir = build(
        {"/scheduletimes/{EmployeeId}": {"get": _op()}, "/scheduletimes/{EmployeeId}/{Date}": {"get": _op()}}
    )
    assert names(ir) == {
        "GET /scheduletimes/{EmployeeId}": "get_scheduletime",
        "GET /scheduletimes/{EmployeeId}/{Date}": "get_scheduletime_by_date",
    }


def test_clash_patch_beside_put_becomes_patch() -> None:
    ir = build({"/items/{id}": {"put": _op(), "patch": _op()}})
    assert names(ir) == {"PUT /items/{id}": "update_item", "PATCH /items/{id}": "patch_item"}


def test_clash_falls_back_to_a_readable_operation_id() -> None:
    ir = build({"/items/{id}": {"put": _op("replaceItem")}, "/item/{id}": {"put": _op("update_9")}})
    assert names(ir) == {"PUT /items/{id}": "replace_item", "PUT /item/{id}": "update_item"}


def test_unresolvable_clash_names_both_operations() -> None:
    with pytest.raises(GenerationError) as err:
        build({"/items/{id}": {"put": _op("update_1")}, "/item/{id}": {"put": _op("update_2")}})
    message = str(err.value)
    assert "'update_item'" in message
    assert "PUT /items/{id}" in message and "PUT /item/{id}" in message
    assert "overlay" in message


def test_overlay_name_wins_and_resolves_a_clash() -> None:
    ir = build(
        {"/items/{id}": {"put": _op()}, "/item/{id}": {"put": _op("renameMe")}},
        {"operations": {"PUT /item/{id}": {"name": "replace_single_item"}}},
    )
    assert names(ir) == {"PUT /items/{id}": "update_item", "PUT /item/{id}": "replace_single_item"}


def test_overlay_name_wins_over_a_good_operation_id() -> None:
    ir = build(
        {"/things": {"get": _op("getThings")}},
        {"vendor": {"naming": "operation_id"}, "operations": {"GET /things": {"name": "search_things"}}},
    )
    assert names(ir) == {"GET /things": "search_things"}


def test_overlay_name_taking_a_derived_name_moves_the_derived_one() -> None:
    ir = build(
        {"/items/{id}": {"put": _op("replaceItem")}, "/things/{id}": {"put": _op()}},
        {"operations": {"PUT /things/{id}": {"name": "update_item"}}},
    )
    assert names(ir) == {"PUT /things/{id}": "update_item", "PUT /items/{id}": "replace_item"}


def test_two_overlay_names_alike_are_refused() -> None:
    with pytest.raises(GenerationError, match=r"PUT /items/\{id\} and PUT /things/\{id\}"):
        build(
            {"/items/{id}": {"put": _op()}, "/things/{id}": {"put": _op()}},
            {
                "operations": {
                    "PUT /things/{id}": {"name": "update_x"},
                    "PUT /items/{id}": {"name": "update_x"},
                }
            },
        )


@pytest.mark.parametrize("bad", ["Replace", "replace_2", "9lives", "re-place", "a" * 65, "send_invoice_17"])
def test_invalid_overlay_name_is_rejected(bad: str) -> None:
    assert not valid_name(bad)
    with pytest.raises(GenerationError) as err:
        build({"/items/{id}": {"put": _op()}}, {"operations": {"PUT /items/{id}": {"name": bad}}})
    assert repr(bad) in str(err.value) and "PUT /items/{id}" in str(err.value)


# --- any small spec: names are valid and unique, or generation says which two clash ---------------

SEGMENTS = st.one_of(
    st.sampled_from(
        ["invoices", "invoice", "contacts", "v2", "3", "send-by-email", "bookkeep", "addresses", "items",
         "status", "credit", "people", "ids", "{id}", "{contactId}", "{ids}", "api", "Reports", "fooBar",
         "sie-4", "step2"]
    ),
    st.from_regex(r"[a-z][a-z-]{0,10}", fullmatch=True),
)  # fmt: skip
OPERATIONS = st.tuples(
    st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)),
    st.sampled_from(["get", "post", "put", "patch", "delete"]),
    st.sampled_from([None, "list_2", "create_17", "1_get", "getThing", "sendInvoiceByEMail", "x"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATIONS, min_size=1, max_size=6), st.sampled_from(["path", "operation_id"]))
def test_any_spec_gets_good_names_or_a_clear_clash(
    ops: list[tuple[str, str, str | None]], naming: str
) -> None:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation_id in ops:
        params = re.findall(r"\{([^}]+)\}", path)
        if len(set(params)) != len(params):
            continue
        paths.setdefault(path, {})[method] = _op(operation_id)
    if not paths:
        return
    try:
        ir = build(paths, {"vendor": {"naming": naming, "strip_path_prefixes": ["/api"]}})
    except GenerationError as exc:
        assert "two operations would both be named" in str(exc), str(exc)
        return
    found = [t.name for t in ir.tools]
    assert len(found) == sum(len(m) for m in paths.values())
    assert_good_names(found)
