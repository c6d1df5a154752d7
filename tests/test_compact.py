"""The listed form of the tools: smaller, and still everything a model needs to call them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from modes_support import arguments_for

from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.compact import (
    _TOOL_FILLER,
    SHARED_MIN_BYTES,
    compact_description,
    compact_schema,
    compact_tool,
    field_description,
    share_fields,
)
from ledgermcp.server.modes import build_surface
from ledgermcp.server.toolspec import vendor_title, wire_tool, wire_tools


def test_schema_noise_goes_and_meaning_stays() -> None:
    row = {
        "type": "object",
        "properties": {
            "Qty": {"type": "integer", "format": "int32"},
            "Day": {"type": "string", "format": "date"},
            "Id": {"type": "string", "format": "uuid", "description": "identifies the invoice"},
            "Note": {"type": "string", "maxLength": 1024, "description": "  <b>Free</b>&nbsp;text "},
            "Ref": {"type": "string", "maxLength": 50, "title": "Ref"},
            "Kind": {"type": "string", "enum": ["A", "B"]},
            "Level": {"type": "integer", "enum": [1, 2]},
        },
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {
            "Row": {"$ref": "#/$defs/vendor_Invoice_Row"},
            "Rows": {"type": "array", "items": {"$ref": "#/$defs/vendor_Order_Row"}},
            "Label": {"$ref": "#/$defs/vendor_Label"},
            "Labels": {"type": "array", "items": {"$ref": "#/$defs/vendor_Label"}},
            "Tree": {"$ref": "#/$defs/vendor_Node"},
        },
        "required": ["Row"],
        "additionalProperties": False,
        "$defs": {
            "vendor_Invoice_Row": row,
            "vendor_Order_Row": json.loads(json.dumps(row)),  # same content: merged
            "vendor_Label": {"type": "object", "properties": {"Id": {"type": "integer"}}},
            "vendor_Node": {"type": "object", "properties": {"Child": {"$ref": "#/$defs/vendor_Node"}}},
        },
    }
    out = compact_schema(schema)
    assert out["required"] == ["Row"] and "additionalProperties" not in out
    assert out["properties"]["Row"] == {"$ref": "#/$defs/Row"}  # used twice after the merge
    assert out["properties"]["Rows"]["items"] == {"$ref": "#/$defs/Row"}
    assert out["properties"]["Label"] == {"$ref": "#/$defs/Label"}
    assert out["properties"]["Tree"] == {"$ref": "#/$defs/Node"}  # refers to itself: stays a definition
    assert set(out["$defs"]) == {"Row", "Label", "Node"}
    props = out["$defs"]["Row"]["properties"]
    assert props["Qty"] == {"type": "integer"}
    assert props["Day"] == {"type": "string", "format": "date"}
    assert props["Id"] == {"type": "string", "format": "uuid"}
    assert props["Note"] == {"type": "string", "description": "Free text"}
    assert props["Ref"] == {"type": "string", "maxLength": 50}
    assert props["Kind"] == {"enum": ["A", "B"]}
    assert props["Level"] == {"type": "integer", "enum": [1, 2]}
    single = compact_schema(
        {
            "type": "object",
            "properties": {"L": {"$ref": "#/$defs/x_Label"}},
            "$defs": {"x_Label": {"type": "object"}},
        }
    )
    assert single == {"type": "object", "properties": {"L": {"type": "object"}}}  # used once: in place


def test_irreversible_is_said_from_the_fact_not_from_generated_prose() -> None:
    wire = {"name": "bookkeep_invoice", "title": "Bookkeep an invoice.", "description": "Bookkeep an invoice.",
            "inputSchema": {"type": "object"}, "annotations": {}}  # fmt: skip
    ledger = {"effect": "ledger", "irreversible": True}
    assert compact_tool(wire, "Acme", ledger)["description"] == "Irreversible."
    assert "description" not in compact_tool(wire, "Acme", {"effect": "update", "irreversible": False})
    # a delete says it itself
    delete = {
        **wire,
        "name": "delete_invoice",
        "title": "Delete an invoice.",
        "description": "Delete an invoice.",
    }
    assert "description" not in compact_tool(delete, "Acme", {"effect": "delete", "irreversible": True})


def test_descriptions_lose_sentences_about_the_http_exchange() -> None:
    text = (
        "Create an offer. An endpoint for creating an offer. With EasyVat on, give an account. "
        "This endpoint can produce errors, some of which may only matter for EasyVat."
    )
    assert compact_description(text, "Acme") == "Create an offer. With EasyVat on, give an account."
    text = (
        "Retrieve a list of labels. The labels register can return a list of records or a single "
        "record. By specifying a Code in the URL, a single record will be returned. Not specifying "
        "a Code will return a list of records."
    )
    assert compact_description(text, "Acme") == "Retrieve a list of labels."
    # the first sentence always stays, even when it reads like boilerplate
    assert (
        compact_description("An endpoint for creating an offer.", "Acme")
        == "An endpoint for creating an offer."
    )


def test_field_descriptions_that_only_spell_the_name_go() -> None:
    schema = {
        "type": "object",
        "properties": {
            "zipcode": {"type": "string", "description": "filter by zip code"},
            "projectIds": {
                "type": "array",
                "items": {"type": "string"},
                "description": "An array of project IDs.",
            },
            "filter": {"enum": ["active"], "description": "possibility to filter customers"},
            "lastmodified": {"type": "string", "description": "filter by last modified (date and time)"},
        },
    }
    props = compact_schema(schema)["properties"]
    assert "description" not in props["zipcode"] and "description" not in props["projectIds"]
    assert props["filter"]["description"] == "possibility to filter customers"
    assert props["lastmodified"]["description"] == "filter by last modified (date and time)"


def test_field_descriptions_keep_their_first_sentence() -> None:
    assert field_description("The end date. Example: 2022-11-30") == "The end date."
    long = "word " * 60
    cut = field_description(long)
    assert cut.endswith("…") and len(cut) <= 121 and " wor…" not in cut


def _tool(name: str, props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return {"name": name, "description": name, "inputSchema": schema, "annotations": {}}


def test_an_update_lists_only_what_its_create_does_not_say() -> None:
    body = {f"Field{i}": {"type": "string", "maxLength": 40 + i} for i in range(40)}
    assert len(json.dumps(body)) > SHARED_MIN_BYTES
    create = _tool("create_thing", dict(body), ["Field0"])
    update = _tool("update_thing", {"Id": {"type": "integer"}, **body, "Field1": {"type": "integer"}}, ["Id"])
    other = _tool("update_other", {"Id": {"type": "integer"}, "Name": {"type": "string"}}, ["Id"])
    before = json.dumps([create, update, other])
    # the update comes first in name order: the create still donates (creates own their fields)
    listed = {t["name"]: t for t in share_fields([update, create, other])}
    assert json.dumps([create, update, other]) == before  # inputs untouched
    assert listed["create_thing"] == create and listed["update_other"] == other
    shared = listed["update_thing"]
    # its own id, and a field whose type differs from the create's, stay listed
    assert set(shared["inputSchema"]["properties"]) == {"Id", "Field1"}
    assert shared["inputSchema"]["required"] == ["Id"]
    assert "Other fields: as create_thing's, all optional." in shared["description"]
    # without the donor in the same listing nothing is shared: the pointer never dangles
    assert share_fields([update]) == [update]


def test_a_required_field_is_never_shared_and_missing_fields_are_named() -> None:
    body = {f"Field{i}": {"type": "string", "maxLength": 40 + i} for i in range(40)}
    create = _tool("create_thing", {**body, "Extra": {"type": "string"}})
    update = _tool("update_thing", dict(body), ["Field3"])
    listed = {t["name"]: t for t in share_fields([create, update])}
    assert set(listed["update_thing"]["inputSchema"]["properties"]) == {"Field3"}
    assert "except Extra" in listed["update_thing"]["description"]


def test_conditionally_required_fields_stay_listed() -> None:
    """A body that must carry Field3 once any body field is given: Field3 is not "optional"."""
    body = {f"Field{i}": {"type": "string", "maxLength": 40 + i} for i in range(40)}
    create = _tool("create_thing", dict(body))
    update = _tool("update_thing", {"Id": {"type": "integer"}, **body}, ["Id"])
    update["inputSchema"].update(
        {"if": {"propertyNames": {"enum": ["Id"]}}, "else": {"required": ["Field3"]}}
    )
    listed = {t["name"]: t for t in share_fields([create, update])}
    assert set(listed["update_thing"]["inputSchema"]["properties"]) == {"Id", "Field3"}
    assert listed["update_thing"]["inputSchema"]["else"] == {"required": ["Field3"]}


def test_fields_with_definitions_are_shared_only_between_identical_definitions() -> None:
    row = {"type": "object", "properties": {f"Col{i}": {"type": "string"} for i in range(30)}}
    body = {f"Field{i}": {"type": "string", "maxLength": 40 + i} for i in range(10)}
    body["Rows"] = {"type": "array", "items": {"$ref": "#/$defs/Row"}}
    create = _tool("create_thing", dict(body))
    create["inputSchema"]["$defs"] = {"Row": row}
    update = _tool("update_thing", {"Id": {"type": "integer"}, **body}, ["Id"])
    update["inputSchema"]["$defs"] = {"Row": row}
    listed = {t["name"]: t for t in share_fields([create, update])}
    # shared, and the definition only the shared Rows used is gone from the update
    assert listed["update_thing"]["inputSchema"]["properties"] == {"Id": {"type": "integer"}}
    assert "$defs" not in listed["update_thing"]["inputSchema"]
    assert "Other fields: as create_thing's" in listed["update_thing"]["description"]
    # same field text, other definition behind the same $ref: nothing is shared
    other_row = {"type": "object", "properties": {"Other": {"type": "integer"}}}
    update["inputSchema"]["$defs"] = {"Row": other_row}
    listed = {t["name"]: t for t in share_fields([create, update])}
    assert listed["update_thing"] == update


def test_descriptions_lose_sentences_the_name_or_another_sentence_already_say() -> None:
    def listed(name: str, title: str, description: str = "") -> str:
        wire = {"name": name, "title": title, "description": description or title}
        tool = compact_tool({**wire, "inputSchema": {"type": "object"}, "annotations": {}}, "Acme")
        return str(tool.get("description", ""))

    # the summary only spells the name: no description at all
    assert listed("get_invoice", "Retrieve a single invoice.") == ""
    assert listed("list_termsofdeliveries", "Retrieve a list of terms of deliveries.") == ""
    # a sentence whose words all recur in a longer one goes
    text = "Get stock point. Get stock point by id or code."
    assert listed("get_warehouse_stockpoint", "Get stock point.", text) == "Get stock point by id or code."
    # what the name does not say stays, in order
    text = "Create an order. With EasyVat on, give an account."
    assert listed("create_order", "Create an order.", text) == "With EasyVat on, give an account."
    assert listed("send_invoice", "Send an invoice as e-mail.") == "Send an invoice as e-mail."
    # error lists: a failed call returns the vendor's code and message anyway
    text = (
        "Release a document. The document will be locked. The following error codes might be thrown: "
        "document_is_voided Document is voided."
    )
    assert listed("release_document", "Release a document.", text) == "The document will be locked."
    assert listed("update_thing", "Update a thing.", "Update a thing. HTTP code 400 voided") == ""


def test_field_descriptions_that_only_repeat_the_tool_and_field_names_go() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "description": "Purchase order id."},
            "Date": {"type": "string", "description": "Date of the delivery."},
        },
    }
    props = compact_schema(schema, "get_warehouse_purchaseorder")["properties"]
    assert "description" not in props["id"]
    assert props["Date"]["description"] == "Date of the delivery."  # "delivery": not in either name


def resolved(schema: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema.get("$defs", {})[node["$ref"].split("/")[-1]]
    return node


def enums(schema: dict[str, Any]) -> list[Any]:
    found: list[Any] = []

    def walk(node: Any, depth: int) -> None:
        node = resolved(schema, node)
        if depth > 8 or not isinstance(node, dict):
            return
        if "enum" in node:
            found.append(tuple(node["enum"]))
        for key in ("properties",):
            for sub in (node.get(key) or {}).values():
                walk(sub, depth + 1)
        if isinstance(node.get("items"), dict):
            walk(node["items"], depth + 1)

    walk(schema, 0)
    return sorted(found, key=repr)


@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
def test_listed_tools_keep_what_a_call_needs(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    listed = {t["name"]: t for t in wire_tools(vendor)}
    full_size = listed_size = 0
    for tool in vendor.tools:
        full, out = tool["input_schema"], listed[tool["name"]]["inputSchema"]
        description = listed[tool["name"]].get("description", "")
        donor = re.search(r"Other fields: as (\w+)'s", description)
        if donor:
            # fields left out are the donor's, with the same listed schema, in the same listing
            donor_schema = listed[donor.group(1)]["inputSchema"]
            out = {**out, "properties": {**donor_schema["properties"], **out["properties"]}}
            defs = {**(donor_schema.get("$defs") or {}), **(out.get("$defs") or {})}
            if defs:  # shared only between identical $defs: the donor's say what its fields mean
                assert all(donor_schema["$defs"][k] == v for k, v in (out.get("$defs") or {}).items())
                out["$defs"] = defs
            assert "Other fields" not in listed[donor.group(1)].get("description", "")
        assert set(full.get("properties") or {}) <= set(out["properties"]), tool["name"]
        assert full.get("required", []) == out.get("required", []), tool["name"]
        for name, sub in (full.get("properties") or {}).items():
            kind = resolved(full, sub).get("type")
            assert resolved(out, out["properties"][name]).get("type", "string") == (kind or "string"), name
        assert enums(full) == enums(out), tool["name"]
        # what validates against the generated schema validates against the listed one
        Draft202012Validator.check_schema(out)
        assert not list(Draft202012Validator(out).iter_errors(arguments_for(tool))), tool["name"]
        # the summary opens the description, unless the name and the rest already say all of it
        summary = tool["title"].rstrip(".")
        if not description.lower().startswith(summary.lower()):
            said = re.sub(r"[^a-z0-9]", "", (tool["name"] + description).lower())
            unsaid = [w for w in re.findall(r"[a-z0-9]+", summary.lower()) if w not in _TOOL_FILLER]
            stems = [(w, w.rstrip("s"), w[:-3] + "y" if w.endswith("ies") else w) for w in unsaid]
            assert all(any(form in said for form in forms) for forms in stems), (tool["name"], summary)
        for repeated in (
            "Adds data in",
            "Changes or removes existing data in",
            "its effect cannot be undone",
        ):
            assert repeated not in description
        ann = listed[tool["name"]]["annotations"]
        assert set(ann) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
        assert all(ann[h] == tool["annotations"][h] for h in ann)
        full_size += len(json.dumps(wire_tool(tool)))
        listed_size += len(json.dumps(listed[tool["name"]]))
    assert listed_size < full_size


def test_discovery_lists_the_same_handful_for_any_vendor() -> None:
    lists = []
    for name in ("fortnox", "smallinvoice"):
        vendor = load_vendor(name)
        tools = build_surface("discovery", vendor).tools
        lists.append(json.dumps(tools).replace(vendor_title(vendor), "VENDOR"))
    assert lists[0] == lists[1]
    assert [t["name"] for t in json.loads(lists[0])] == [
        "search_operations",
        "describe_operation",
        "call_operation",
    ]
