"""Overlay corrections of a vendor's description: applied before everything else, each one reported."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.corrections import apply_corrections
from ledgermcp.codegen.diagnostics import GenerationError

REF = "#/components/schemas/"
OK = {"200": {"description": "ok"}}
ID = {"name": "contactIds", "in": "path", "required": True, "schema": {"type": "integer"}}
WRAP_BODY = {"content": {"application/json": {"schema": {"$ref": REF + "CustomerWrap"}}}}
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/contacts/{contactIds}": {"delete": {"parameters": [ID], "responses": OK}},
        "/customers": {"post": {"requestBody": WRAP_BODY, "responses": OK}},
        "/customers/{n}": {
            "put": {
                "parameters": [{"name": "n", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": WRAP_BODY,
                "responses": OK,
            }
        },
    },
    "components": {
        "schemas": {
            "CustomerWrap": {
                "type": "object",
                "required": ["Customer"],
                "properties": {"Customer": {"$ref": REF + "Customer"}},
            },
            "Customer": {
                "title": "Customer",
                "type": "object",
                "required": ["Name"],
                "properties": {"Name": {"type": "string"}, "City": {"type": "string"}},
            },
        }
    },
}
IDS = {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}


def correct(*entries: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    return apply_corrections(SPEC, list(entries), vendor="acme")


def test_a_parameter_schema_is_replaced_by_name_and_reported() -> None:
    before = copy.deepcopy(SPEC)
    spec, diags = correct(
        {
            "operation": "DELETE /contacts/{contactIds}",
            "at": "parameters/contactIds/schema",
            "value": IDS,
            "reason": "the description says comma separated",
        }
    )
    (param,) = spec["paths"]["/contacts/{contactIds}"]["delete"]["parameters"]
    assert param["schema"] == IDS and param["name"] == "contactIds"
    assert before == SPEC  # the input is not changed
    [diag] = diags
    assert diag.code == "overlay-correction" and diag.where == "DELETE /contacts/{contactIds}"
    assert "comma separated" in diag.message


def test_a_document_place_and_several_operations() -> None:
    spec, diags = correct(
        {"at": "components/schemas/Customer/properties/City/maxLength", "value": 50, "reason": "documented"},
        {
            "operation": ["POST /customers", "PUT /customers/{n}"],
            "at": "requestBody/description",
            "value": "the customer",
            "reason": "missing",
        },
    )
    assert spec["components"]["schemas"]["Customer"]["properties"]["City"]["maxLength"] == 50
    assert spec["paths"]["/customers"]["post"]["requestBody"]["description"] == "the customer"
    assert spec["paths"]["/customers/{n}"]["put"]["requestBody"]["description"] == "the customer"
    assert [d.where for d in diags] == ["#", "POST /customers", "PUT /customers/{n}"]


def test_a_partial_body_leaves_the_shared_component_alone() -> None:
    spec, diags = correct(
        {
            "operation": "PUT /customers/{n}",
            "partial_body": True,
            "reason": "updates change only given fields",
        }
    )
    schemas = spec["components"]["schemas"]
    put = spec["paths"]["/customers/{n}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    post = spec["paths"]["/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert put == {"$ref": REF + "CustomerWrap_Partial"} and post == {"$ref": REF + "CustomerWrap"}
    assert schemas["CustomerWrap_Partial"]["properties"]["Customer"] == {"$ref": REF + "Customer_Partial"}
    assert "required" not in schemas["CustomerWrap_Partial"] and "required" not in schemas["Customer_Partial"]
    assert "title" not in schemas["Customer_Partial"]  # its class is named after its own key
    assert schemas["Customer"]["required"] == ["Name"]  # creation still requires the name
    assert len(diags) == 1

    ir, _ = build_ir(spec, {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    tools = {t.operation.key: t for t in ir.tools}
    update = jsonschema.Draft202012Validator(tools["PUT /customers/{n}"].input_schema)
    assert update.is_valid({"n": "7", "City": "Lund"})
    create = jsonschema.Draft202012Validator(tools["POST /customers"].input_schema)
    assert not create.is_valid({"City": "Lund"})


def test_the_overlay_section_is_known_to_the_builder() -> None:
    overlay = {"corrections": [{"at": "info/title", "value": "T", "reason": "r"}]}
    ir, _ = build_ir(SPEC, overlay, vendor="acme", spec_file="a.json", spec_sha256="0")
    assert ir.tools


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"at": "info/title", "value": "T"}, "non-empty 'reason'"),
        ({"at": "info/title", "value": "T", "reason": "r", "why": "x"}, "unknown key(s) ['why']"),
        ({"operation": "GET /nowhere", "at": "x", "value": 1, "reason": "r"}, "no operation 'GET /nowhere'"),
        (
            {
                "operation": "DELETE /contacts/{contactIds}",
                "at": "parameters/other/schema",
                "value": 1,
                "reason": "r",
            },
            "no single entry named 'other' (names: ['contactIds'])",
        ),
        ({"at": "components/schemas/Nope/type", "value": 1, "reason": "r"}, "has no 'Nope'"),
        (
            {
                "operation": "POST /customers",
                "at": "requestBody/content/application~1json/schema/required",
                "value": [],
                "reason": "r",
            },
            "is a $ref to #/components/schemas/CustomerWrap; correct that component instead",
        ),
        (
            {"operation": "POST /customers", "partial_body": True, "at": "x", "reason": "r"},
            "'partial_body' goes with",
        ),
        ({"reason": "r"}, "needs 'at' and 'value'"),
    ],
)
def test_a_bad_correction_stops_generation_and_says_why(entry: dict[str, Any], words: str) -> None:
    with pytest.raises(GenerationError) as caught:
        correct(entry)
    assert words in str(caught.value)
    assert "correction 1" in str(caught.value)


# --- parameters the description leaves out, on operations chosen by a rule ----------------------

OBJ = {"type": "object", "properties": {"Name": {"type": "string"}}}
META = {"type": "object", "properties": {"@TotalPages": {"type": "integer"}}}


def answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


LIMIT = {"name": "Limit", "in": "query", "schema": {"type": "integer"}}
LISTS: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/3/customers": {
            "get": {"responses": answer({"$ref": REF + "CustomerList"})},
            "post": {"responses": answer({"$ref": REF + "CustomerList"})},
        },
        "/3/customers/{n}": {
            "parameters": [{"name": "n", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"responses": answer({"type": "object", "properties": {"Customer": OBJ}})},
        },
        "/3/currencies": {
            "get": {
                "parameters": [LIMIT],
                "responses": answer(
                    {
                        "type": "object",
                        "properties": {
                            "Currencies": {"type": "array", "items": OBJ},
                            "MetaInformation": {"$ref": REF + "Meta"},
                        },
                    }
                ),
            }
        },
        # an entity that carries one array among plain values is not a list
        "/3/vouchers/{n}": {
            "get": {
                "parameters": [{"name": "n", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": answer(
                    {"type": "object", "properties": {"Rows": {"type": "array"}, "Total": {"type": "number"}}}
                ),
            }
        },
        "/3/archive": {"get": {"responses": answer({"type": "object", "properties": {"Folder": OBJ}})}},
        "/api/items": {"get": {"responses": answer({"type": "array", "items": OBJ})}},
    },
    "components": {
        "schemas": {
            "CustomerList": {"type": "object", "properties": {"Customers": {"type": "array", "items": OBJ}}},
            "Meta": META,
        }
    },
}
PAGE = {
    "name": "page",
    "in": "query",
    "description": "Page number.",
    "schema": {"type": "integer", "minimum": 1},
}
LIMIT_ADDED = {
    "name": "limit",
    "in": "query",
    "description": "Items per page.",
    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
}


def paging(**entry: Any) -> dict[str, Any]:
    return {"add_parameters": [PAGE, LIMIT_ADDED], "reason": "the API pages every list", **entry}


def params_of(spec: dict[str, Any], path: str, method: str = "get") -> list[str]:
    return [p["name"] for p in spec["paths"][path][method].get("parameters") or []]


def test_a_rule_adds_parameters_to_the_list_operations_it_matches_and_keeps_their_own() -> None:
    before = copy.deepcopy(LISTS)
    spec, diags = apply_corrections(LISTS, [paging(operation="GET /3/*", answers_list=True)], vendor="acme")
    assert before == LISTS  # the input is not changed
    assert params_of(spec, "/3/customers") == ["page", "limit"]
    # `Limit` is already there (letter case aside): only `page` is added, the vendor's own stays
    assert params_of(spec, "/3/currencies") == ["Limit", "page"]
    # not lists, not GETs, or not under /3/: untouched
    assert params_of(spec, "/3/customers/{n}") == []
    assert params_of(spec, "/3/vouchers/{n}") == ["n"]
    assert params_of(spec, "/3/archive") == params_of(spec, "/api/items") == []
    assert params_of(spec, "/3/customers", "post") == []
    assert {d.where: d.message for d in diags} == {
        "GET /3/customers": "query parameter(s) page, limit added corrected: the API pages every list",
        "GET /3/currencies": "query parameter(s) page added corrected: the API pages every list",
    }

    ir, _ = build_ir(spec, {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    listing = next(t for t in ir.tools if t.operation.key == "GET /3/customers")
    validator = jsonschema.Draft202012Validator(listing.input_schema)
    assert validator.is_valid({"page": 2, "limit": 500})
    assert not validator.is_valid({"limit": 501}) and not validator.is_valid({"page": 0})
    sent = {p["name"]: p["in"] for p in listing.binding.to_table()["params"]}
    assert sent == {"page": "query", "limit": "query"}


def test_named_operations_and_patterns_combine_without_repeats() -> None:
    spec, diags = apply_corrections(
        LISTS,
        [paging(operation=["GET /api/items", "GET /3/cu*", "GET /3/customers"], answers_list=True)],
        vendor="acme",
    )
    assert [d.where for d in diags] == ["GET /api/items", "GET /3/customers", "GET /3/currencies"]
    # without answers_list a pattern takes every operation it matches
    spec, diags = apply_corrections(LISTS, [paging(operation="GET /3/customers*")], vendor="acme")
    assert params_of(spec, "/3/customers/{n}") == ["page", "limit"]
    assert [d.where for d in diags] == ["GET /3/customers", "GET /3/customers/{n}"]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (paging(operation="GET /4/*"), "'GET /4/*' matches no operation of the description"),
        (
            paging(operation="GET /3/customers/*", answers_list=True),
            "none of the operations 'GET /3/customers/*' matches answers a list",
        ),
        (
            paging(operation=["GET /3/customers", "GET /3/archive"], answers_list=True),
            "GET /3/archive does not answer a list",
        ),
        (paging(operation="GET /3/nowhere"), "no operation 'GET /3/nowhere'"),
        (paging(answers_list=True), "'answers_list' chooses among operations: add 'operation'"),
        (paging(operation="GET /3/customers", answers_list="yes"), "'answers_list' must be true or false"),
        (
            paging(operation="GET /3/customers", at="x", value=1),
            "'add_parameters' goes with 'operation' only",
        ),
        (
            {**paging(operation="GET /3/customers"), "add_parameters": []},
            "'add_parameters' must be a non-empty array",
        ),
        (
            {**paging(operation="GET /3/customers"), "add_parameters": [{**PAGE, "in": "path"}]},
            "'in' must be one of ['query', 'header', 'cookie'], not 'path'",
        ),
        (
            {**paging(operation="GET /3/customers"), "add_parameters": [{**PAGE, "description": " "}]},
            "'description' must say what the parameter does",
        ),
        (
            {**paging(operation="GET /3/customers"), "add_parameters": [{"name": "page", "in": "query"}]},
            "needs exactly the keys ['description', 'in', 'name', 'schema']",
        ),
        (
            {**paging(operation="GET /3/customers"), "add_parameters": [PAGE, {**PAGE, "name": "Page"}]},
            "query parameter 'Page' is listed twice",
        ),
        (
            {**paging(operation="GET /3/currencies"), "add_parameters": [{**LIMIT_ADDED, "name": "LIMIT"}]},
            "every operation it selects already has LIMIT; remove the correction",
        ),
    ],
)
def test_a_rule_that_picks_nothing_or_a_bad_parameter_stops_generation(
    entry: dict[str, Any], words: str
) -> None:
    with pytest.raises(GenerationError) as caught:
        apply_corrections(LISTS, [entry], vendor="acme")
    assert words in str(caught.value)
    assert "correction 1" in str(caught.value)
