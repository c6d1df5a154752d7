"""Tool input schemas: one flat object, no clashes, wrappers unwrapped, read-only left out, local $defs."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.ir import Tool
from ledgermcp.codegen.normalize import normalise

REF = "#/components/schemas/"
JSON_OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _body(schema: dict[str, Any], ctype: str = "application/json", required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {ctype: {"schema": schema}}}


SCHEMAS: dict[str, Any] = {
    "InvoiceWrap": {"type": "object", "properties": {"Invoice": {"$ref": REF + "Invoice"}}},
    "Invoice": {
        "type": "object",
        "required": ["CustomerNumber", "DocumentNumber"],
        "properties": {
            "DocumentNumber": {"type": "string", "readOnly": True},
            "CustomerNumber": {"type": "string", "description": "The customer's number.", "example": "42"},
            "Total": {"type": "number", "readOnly": True},
            "Rows": {"type": "array", "items": {"$ref": REF + "Row"}},
            "Comments": {"type": "string", "nullable": True},
            "Parent": {"$ref": REF + "Invoice"},  # recursive
            "Ghost": {"$ref": REF + "DoesNotExist"},
        },
    },
    "Row": {
        "type": "object",
        "required": ["RowId", "Price"],
        "properties": {
            "RowId": {"type": "integer", "readOnly": True},
            "Price": {"type": "number"},
            "Unit": {"$ref": REF + "Unit"},
        },
    },
    "Unit": {"type": "string", "enum": ["st", "h"], "xml": {"name": "unit"}},
    "Unused": {"type": "object", "properties": {"x": {"type": "string"}}},
    "Contact": {
        "allOf": [
            {"$ref": REF + "Named"},
            {"type": "object", "properties": {"email": {"type": "string"}, "id": {"type": "integer"}}},
        ]
    },
    "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
}

PATHS: dict[str, Any] = {
    "/invoices/{DocumentNumber}": {
        "parameters": [
            {"name": "DocumentNumber", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "put": {"requestBody": _body({"$ref": REF + "InvoiceWrap"}), "responses": JSON_OK},
    },
    "/contacts/{id}": {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "Filter."},
            {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}},
        ],
        "put": {"requestBody": _body({"$ref": REF + "Contact"}), "responses": JSON_OK},
    },
    "/contacts/{id}/tags": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "put": {"requestBody": _body({"type": "array", "items": {"type": "string"}}), "responses": JSON_OK},
    },
    "/files": {
        "post": {
            "requestBody": _body(
                {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "folder": {"type": "string"},
                    },
                },
                "multipart/form-data",
            ),
            "responses": JSON_OK,
        }
    },
    "/files/{file id}": {
        "parameters": [{"name": "file id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"responses": JSON_OK},
    },
}


def _build() -> dict[str, Tool]:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
    ir, _ = build_ir(normalise(spec)[0], {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    return {t.operation.key: t for t in ir.tools}


TOOLS = _build()


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


def resolve_pointer(schema: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"non-local ref {ref}"
    node: Any = schema
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling {ref}"
        node = node[part]
    return node


def props(node: Any) -> set[str]:
    """Every property name anywhere in the schema, $defs included."""
    if isinstance(node, dict):
        own = set(node["properties"]) if isinstance(node.get("properties"), dict) else set()
        return own.union(*(props(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(props(v) for v in node))
    return set()


@pytest.mark.parametrize("key", sorted(TOOLS))
def test_every_input_schema_is_a_valid_self_contained_object(key: str) -> None:
    schema = TOOLS[key].input_schema
    assert schema["type"] == "object"
    jsonschema.Draft202012Validator.check_schema(schema)
    for ref in refs_in(schema):
        assert ref.startswith("#/$defs/"), ref
        resolve_pointer(schema, ref)


@pytest.mark.parametrize("key", sorted(TOOLS))
def test_schema_properties_are_exactly_the_bound_arguments(key: str) -> None:
    tool = TOOLS[key]
    body = tool.binding.body
    bound = {p.arg for p in tool.binding.params}
    if body is not None:
        bound |= set(body.fields)
        if body.whole_body_arg:
            bound.add(body.whole_body_arg)
    assert set(tool.input_schema["properties"]) == bound
    assert set(tool.input_schema.get("required", [])) <= bound


def test_wrapper_object_is_unwrapped() -> None:
    tool = TOOLS["PUT /invoices/{DocumentNumber}"]
    body = tool.binding.body
    assert body is not None and body.wrapper == "Invoice"
    assert tool.binding.to_table()["body"]["wrapper"] == "Invoice"
    schema = tool.input_schema
    assert "Invoice" not in schema["properties"]
    assert {"CustomerNumber", "Rows", "Comments"} <= set(schema["properties"])
    # the path parameter keeps its name; the body's DocumentNumber is read-only, so no clash arises
    assert schema["properties"]["DocumentNumber"] == {
        "type": "string",
        "minLength": 1,
        "not": {"enum": [".", ".."]},
    }
    assert body.fields["CustomerNumber"] == "CustomerNumber"


def test_read_only_body_fields_are_left_out_everywhere() -> None:
    tool = TOOLS["PUT /invoices/{DocumentNumber}"]
    schema = tool.input_schema
    body = tool.binding.body
    assert body is not None
    assert "Total" not in schema["properties"] and "Total" not in body.fields
    assert "DocumentNumber" not in body.fields.values()
    # nested: the row's read-only id is gone from the copied definition and from its `required`
    row = schema["$defs"]["Row"]
    assert set(row["properties"]) == {"Price", "Unit"}
    assert row["required"] == ["Price"]
    assert "RowId" not in props(schema) and "Total" not in props(schema)
    # the path parameter is required; the read-only body field's `required` entry did not leak
    assert schema["required"] == ["DocumentNumber", "CustomerNumber"]


def test_refs_become_local_defs_without_danglers_or_extras() -> None:
    schema = TOOLS["PUT /invoices/{DocumentNumber}"].input_schema
    assert set(schema["$defs"]) == {"Invoice", "Row", "Unit"}  # reached only; Unused and wrappers left out
    assert schema["properties"]["Rows"] == {"type": "array", "items": {"$ref": "#/$defs/Row"}}
    assert schema["properties"]["Parent"] == {"$ref": "#/$defs/Invoice"}
    # a reference to a missing component becomes an open schema rather than a dangling ref
    assert schema["properties"]["Ghost"] == {}
    # cleaned up for a model: examples and XML hints dropped, nullable as a JSON Schema type list
    assert "example" not in schema["properties"]["CustomerNumber"]
    assert "xml" not in schema["$defs"]["Unit"]
    assert schema["properties"]["Comments"]["type"] == ["string", "null"]


def test_path_query_header_and_body_share_one_object_without_clashes() -> None:
    tool = TOOLS["PUT /contacts/{id}"]
    schema = tool.input_schema
    body = tool.binding.body
    assert body is not None and body.wrapper is None
    # body properties `id` and `name` clash with the path and query parameters
    assert body.fields == {"body_name": "name", "email": "email", "body_id": "id"}
    params = {p.arg: (p.name, p.location) for p in tool.binding.params}
    assert params == {
        "id": ("id", "path"),
        "name": ("name", "query"),
        "X-Request-Id": ("X-Request-Id", "header"),
    }
    assert schema["properties"]["id"] == {"type": "integer"}
    assert schema["properties"]["name"] == {"type": "string", "description": "Filter."}
    assert schema["required"] == ["id", "body_name"]  # `name` required by the allOf part, as body_name
    assert schema["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"id": 1, "body_name": "Ada", "name": "A", "email": "a@b.c", "body_id": 3})
    assert not validator.is_valid({"id": 1})  # body_name missing
    assert not validator.is_valid({"id": 1, "body_name": "Ada", "Invoice": {}})  # unknown argument


def test_non_object_body_travels_whole() -> None:
    tool = TOOLS["PUT /contacts/{id}/tags"]
    body = tool.binding.body
    assert body is not None and body.whole_body_arg == "body" and body.fields == {}
    assert tool.input_schema["properties"]["body"] == {"type": "array", "items": {"type": "string"}}
    assert tool.input_schema["required"] == ["id", "body"]


def test_multipart_files_are_base64_strings() -> None:
    tool = TOOLS["POST /files"]
    body = tool.binding.body
    assert body is not None and body.content_type == "multipart/form-data"
    file_arg = tool.input_schema["properties"]["file"]
    assert file_arg["contentEncoding"] == "base64" and file_arg["type"] == "string"


def test_argument_names_are_safe_for_clients() -> None:
    tool = TOOLS["GET /files/{file id}"]
    (param,) = tool.binding.params
    assert param.name == "file id" and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", param.arg)
    assert set(tool.input_schema["properties"]) == {param.arg}


def test_read_only_behind_a_ref_is_left_out_too() -> None:
    # OpenAPI 3.0 ignores keys beside $ref, so a read-only id is often its own component
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/notes": {"post": {"requestBody": _body({"$ref": REF + "Note"}), "responses": JSON_OK}},
        },
        "components": {
            "schemas": {
                "Note": {
                    "type": "object",
                    "required": ["id", "text"],
                    "properties": {
                        "id": {"$ref": REF + "ServerId"},
                        "text": {"type": "string"},
                        "author": {"$ref": REF + "Author"},
                    },
                },
                "ServerId": {"type": "integer", "readOnly": True},
                "Author": {
                    "type": "object",
                    "properties": {"id": {"$ref": REF + "ServerId"}, "name": {"type": "string"}},
                },
            }
        },
    }
    ir, _ = build_ir(normalise(spec)[0], {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    (tool,) = ir.tools
    schema = tool.input_schema
    assert set(schema["properties"]) == {"text", "author"}
    assert schema["required"] == ["text"]
    assert set(schema["$defs"]["Author"]["properties"]) == {"name"}
    assert "ServerId" not in schema.get("$defs", {})


def _tools_of(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Tool]:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }
    ir, _ = build_ir(normalise(spec)[0], {}, vendor="acme", spec_file="a.json", spec_sha256="0")
    return {t.operation.key: t for t in ir.tools}


def test_path_strings_refuse_what_would_leave_their_segment() -> None:
    """An empty value or a dot segment would reach another resource (/invoices/, /invoices/../x)."""
    schema = TOOLS["PUT /invoices/{DocumentNumber}"].input_schema
    validator = jsonschema.Draft202012Validator(schema)
    for bad in ("", ".", ".."):
        assert not validator.is_valid({"DocumentNumber": bad, "CustomerNumber": "7"}), bad
    for good in ("1001", "a.b", "...", "A/B"):
        assert validator.is_valid({"DocumentNumber": good, "CustomerNumber": "7"}), good
    # an integer path parameter and the query and header parameters are left as they are
    contact = TOOLS["PUT /contacts/{id}"].input_schema["properties"]
    assert contact["id"] == {"type": "integer"} and "not" not in contact["name"]


def test_required_array_parameters_need_an_item() -> None:
    """[] would put nothing on the wire: the required parameter would simply be missing."""
    tools = _tools_of(
        {
            "/attachments": {
                "get": {
                    "parameters": [
                        {
                            "name": "ids",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "array", "items": {"type": "integer"}},
                        },
                        {
                            "name": "tags",
                            "in": "query",
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                    ],
                    "responses": JSON_OK,
                }
            }
        }
    )
    props = tools["GET /attachments"].input_schema["properties"]
    assert props["ids"]["minItems"] == 1
    assert "minItems" not in props["tags"]  # optional: [] just means "not given"


def test_required_fields_of_an_optional_body_apply_once_the_body_is_sent() -> None:
    wrap = {"$ref": REF + "InvoiceWrap"}
    tools = _tools_of(
        {
            "/invoices": {"post": {"requestBody": _body(wrap, required=False), "responses": JSON_OK}},
            "/invoices/{DocumentNumber}": {
                "parameters": [
                    {"name": "DocumentNumber", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "put": {"requestBody": _body(wrap, required=False), "responses": JSON_OK},
            },
        },
        SCHEMAS,
    )
    update = jsonschema.Draft202012Validator(tools["PUT /invoices/{DocumentNumber}"].input_schema)
    assert update.is_valid({"DocumentNumber": "1"})  # no body argument: no body, nothing required
    assert not update.is_valid({"DocumentNumber": "1", "Comments": "x"})  # body sent without CustomerNumber
    assert update.is_valid({"DocumentNumber": "1", "Comments": "x", "CustomerNumber": "7"})
    create = tools["POST /invoices"].input_schema
    assert "required" not in create
    validator = jsonschema.Draft202012Validator(create)
    assert validator.is_valid({}) and validator.is_valid({"CustomerNumber": "7"})
    assert not validator.is_valid({"Comments": "x"})
    # a required body keeps plain top-level requirements (no condition needed)
    put = TOOLS["PUT /invoices/{DocumentNumber}"].input_schema
    assert "if" not in put and put["required"] == ["DocumentNumber", "CustomerNumber"]
