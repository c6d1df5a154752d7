"""Normalisation golden tests: each fix applied to a small inline spec, reported, input untouched."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledgermcp.codegen.diagnostics import GenerationError, Severity
from ledgermcp.codegen.normalize import REF_PREFIX, load_document, normalise

INT_CODES_YAML = """
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /things:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Thing"}}
        404: {description: missing}
    post:
      requestBody:
        content:
          "*/*":
            schema: {$ref: "#/components/schemas/Thing"}
      responses:
        201: {description: created}
components:
  schemas:
    Thing: {type: object, properties: {name: {type: string}}}
"""


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _codes(diags: list[Any]) -> list[str]:
    return [d.code for d in diags]


def test_int_response_codes_become_strings() -> None:
    doc = yaml.safe_load(INT_CODES_YAML)
    assert 200 in doc["paths"]["/things"]["get"]["responses"]  # YAML really reads ints
    spec, diags = normalise(doc)
    get_responses = spec["paths"]["/things"]["get"]["responses"]
    post_responses = spec["paths"]["/things"]["post"]["responses"]
    assert set(get_responses) == {"200", "404"}
    assert set(post_responses) == {"201"}
    assert get_responses["200"]["description"] == "ok"
    int_diags = [d for d in diags if d.code == "int-response-code"]
    assert len(int_diags) == 3
    assert {d.where for d in int_diags} == {
        "#/paths/~1things/get/responses",
        "#/paths/~1things/post/responses",
    }
    assert all(d.severity == Severity.INFO for d in int_diags)


def test_other_non_string_keys_are_reported_under_their_own_code() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {"schemas": {"Flag": {"type": "string", "enum": ["a"], "x-names": {1: "one"}}}},
    }
    spec, diags = normalise(doc)
    assert spec["components"]["schemas"]["Flag"]["x-names"] == {"1": "one"}
    assert _codes(diags) == ["non-string-key"]


def test_star_body_becomes_json() -> None:
    spec, diags = normalise(yaml.safe_load(INT_CODES_YAML))
    content = spec["paths"]["/things"]["post"]["requestBody"]["content"]
    assert list(content) == ["application/json"]
    assert content["application/json"]["schema"] == {"$ref": REF_PREFIX + "Thing"}
    star = [d for d in diags if d.code == "star-body-as-json"]
    assert len(star) == 1 and star[0].where == "POST /things"


def test_star_body_beside_json_keeps_the_json_schema() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "put": {
                    "requestBody": {
                        "content": {
                            "*/*": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}},
                        }
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    spec, diags = normalise(doc)
    content = spec["paths"]["/a"]["put"]["requestBody"]["content"]
    assert content == {"application/json": {"schema": {"type": "object"}}}
    assert _codes(diags) == ["star-body-as-json"]


def test_plain_content_parameters_get_their_schema() -> None:
    """smallinvoice describes `sort` as `*/*` content with a string schema: it is a plain string."""
    sort = {"name": "sort", "in": "query", "content": {"*/*": {"schema": {"$ref": REF_PREFIX + "Sort"}}}}
    shaped = {"name": "where", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}}
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [sort, shaped], "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"Sort": {"type": "string", "default": "name"}}},
    }
    spec, diags = normalise(doc)
    first, second = spec["paths"]["/a"]["get"]["parameters"]
    assert first == {"name": "sort", "in": "query", "schema": {"$ref": REF_PREFIX + "Sort"}}
    assert second == shaped  # a JSON object travels as JSON: left for the caller to decide
    assert [(d.code, d.where) for d in diags] == [("parameter-content-as-schema", "GET /a")]
    assert "content" in doc["paths"]["/a"]["get"]["parameters"][0]  # the input is not changed


def test_response_star_is_not_touched_by_the_body_rule() -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"responses": {"200": {"description": "ok", "content": {"*/*": {"schema": {}}}}}}}
        },
    }
    spec, diags = normalise(doc)
    assert "*/*" in spec["paths"]["/a"]["get"]["responses"]["200"]["content"]
    assert diags == []


UNSAFE = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/a": {
            "post": {
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "api.v1.Invoice"}}}
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "invoice-row"}}},
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "api.v1.Invoice": {
                "type": "object",
                "properties": {
                    "rows": {"type": "array", "items": {"$ref": REF_PREFIX + "invoice-row"}},
                    "other": {"allOf": [{"$ref": REF_PREFIX + "api_v1_Invoice"}]},
                },
            },
            "invoice-row": {"type": "object", "properties": {"n": {"type": "integer"}}},
            # already taken: the renamed schema must not overwrite it
            "api_v1_Invoice": {"type": "string"},
            "1st.place": {"type": "string"},
            "Fine_Name": {"type": "integer"},
        }
    },
}


def test_unsafe_schema_names_are_renamed_and_every_ref_follows() -> None:
    spec, diags = normalise(UNSAFE)
    schemas = spec["components"]["schemas"]
    assert set(schemas) == {"api_v1_Invoice_", "invoice_row", "api_v1_Invoice", "S_1st_place", "Fine_Name"}
    # the pre-existing safe name keeps its own schema
    assert schemas["api_v1_Invoice"] == {"type": "string"}
    assert schemas["api_v1_Invoice_"]["properties"]["rows"]["items"] == {"$ref": REF_PREFIX + "invoice_row"}
    refs = _refs(spec)
    assert refs, "the spec has references"
    for ref in refs:
        assert ref.startswith(REF_PREFIX)
        assert ref[len(REF_PREFIX) :] in schemas, f"dangling {ref}"
    body = spec["paths"]["/a"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": REF_PREFIX + "api_v1_Invoice_"}
    renames = [d for d in diags if d.code == "unsafe-schema-name"]
    assert sorted(d.message for d in renames) == sorted(
        [
            "schema 'api.v1.Invoice' renamed to 'api_v1_Invoice_'",
            "schema 'invoice-row' renamed to 'invoice_row'",
            "schema '1st.place' renamed to 'S_1st_place'",
        ]
    )


def test_no_diagnostics_for_a_clean_spec() -> None:
    clean = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"A": {"type": "string"}}},
    }
    spec, diags = normalise(clean)
    assert diags == []
    assert spec == clean


SWAGGER2 = {
    "swagger": "2.0",
    "info": {"title": "Old", "version": "1"},
    "host": "api.example.test",
    "basePath": "/v2",
    "schemes": ["https"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "securityDefinitions": {
        "basic": {"type": "basic"},
        "oauth": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://example.test/auth",
            "tokenUrl": "https://example.test/token",
            "scopes": {"invoices": "invoices"},
        },
    },
    "parameters": {"Limit": {"name": "limit", "in": "query", "type": "integer"}},
    "paths": {
        "/invoices": {
            "get": {
                "operationId": "listInvoices",
                "parameters": [
                    {"$ref": "#/parameters/Limit"},
                    {"name": "ids", "in": "query", "type": "array", "items": {"type": "integer"}},
                    {
                        "name": "tag",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                ],
                "responses": {
                    200: {
                        "description": "ok",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Invoice"}},
                    }
                },
            },
            "post": {
                "operationId": "createInvoice",
                "parameters": [
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "schema": {"$ref": "#/definitions/Invoice"},
                    }
                ],
                "responses": {"201": {"description": "created", "schema": {"$ref": "#/definitions/Invoice"}}},
            },
        },
        "/invoices/{id}/attachments": {
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer"}],
            "post": {
                "operationId": "uploadAttachment",
                "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                    {"name": "note", "in": "formData", "type": "string"},
                ],
                "responses": {"204": {"description": "stored"}},
            },
        },
        "/invoices/{id}/notes": {
            "post": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "integer"},
                    {"name": "text", "in": "formData", "type": "string", "required": True},
                ],
                "responses": {"204": {"description": "stored"}},
            },
        },
    },
    "definitions": {
        "Invoice": {
            "type": "object",
            "properties": {"rows": {"type": "array", "items": {"$ref": "#/definitions/Row"}}},
        },
        "Row": {"type": "object", "properties": {"amount": {"type": "number"}}},
    },
}


def test_swagger2_is_converted_to_openapi3() -> None:
    spec, diags = normalise(SWAGGER2)
    assert _codes(diags)[0] == "swagger2-converted"
    assert spec["openapi"].startswith("3.")
    assert "swagger" not in spec and "definitions" not in spec
    assert spec["servers"] == [{"url": "https://api.example.test/v2"}]
    assert set(spec["components"]["schemas"]) == {"Invoice", "Row"}
    # every definitions ref now points into components/schemas
    refs = _refs(spec)
    assert refs and all(r.startswith(REF_PREFIX) for r in refs)
    assert spec["components"]["schemas"]["Invoice"]["properties"]["rows"]["items"] == {
        "$ref": REF_PREFIX + "Row"
    }

    invoices = spec["paths"]["/invoices"]
    # body parameter -> requestBody with the consumed media type
    create = invoices["post"]
    assert "parameters" not in create
    assert create["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "Invoice"}}},
    }
    assert create["responses"]["201"]["content"] == {
        "application/json": {"schema": {"$ref": REF_PREFIX + "Invoice"}}
    }
    # non-body parameters get a schema; collection formats become style/explode
    params = {p["name"]: p for p in invoices["get"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer"}
    assert (params["ids"]["style"], params["ids"]["explode"]) == ("form", False)
    assert (params["tag"]["style"], params["tag"]["explode"]) == ("form", True)
    assert set(invoices["get"]["responses"]) == {"200"}

    # formData -> multipart/form-data when consumed, files as binary strings
    upload = spec["paths"]["/invoices/{id}/attachments"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert schema["properties"]["note"] == {"type": "string"}
    assert schema["required"] == ["file"]
    assert [p["name"] for p in upload["parameters"]] == ["id"]  # path-level parameter kept
    # formData without multipart in consumes -> urlencoded form
    notes = spec["paths"]["/invoices/{id}/notes"]["post"]
    assert list(notes["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]

    schemes = spec["components"]["securitySchemes"]
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    flow = schemes["oauth"]["flows"]["authorizationCode"]
    assert flow["tokenUrl"] == "https://example.test/token"
    assert flow["scopes"] == {"invoices": "invoices"}


@pytest.mark.parametrize(
    "doc", [yaml.safe_load(INT_CODES_YAML), UNSAFE, SWAGGER2], ids=["int-codes", "unsafe", "swagger2"]
)
def test_input_is_never_mutated(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    spec, diags = normalise(doc)
    assert diags
    assert doc == before
    # and the result shares no mutable structure with the input
    spec["paths"].clear()
    assert doc == before


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "v.openapi.json"
    path.write_text('{\n  "openapi": "3.0.3",\n  "paths": {\n    "/a": {,}\n  }\n}\n')
    with pytest.raises(GenerationError) as err:
        load_document(path)
    message = str(err.value)
    assert str(path) in message and "line 4" in message and "not valid JSON" in message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "v.openapi.yaml"
    # line 5 is indented one space less than the mapping it continues
    path.write_text("openapi: 3.0.3\npaths:\n  /a:\n    get: x\n   bad: 1\n")
    with pytest.raises(GenerationError) as err:
        load_document(path)
    message = str(err.value)
    assert str(path) in message and "not valid YAML at line 5" in message


def test_a_document_that_is_not_openapi_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "v.openapi.json"
    path.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(GenerationError, match="is not an OpenAPI description"):
        load_document(path)
