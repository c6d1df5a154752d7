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
