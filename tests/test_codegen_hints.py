"""Hints: derived from the effect (tests/test_codegen_effects.py), layered under spec extension and overlay."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.diagnostics import GenerationError
from ledgermcp.codegen.hints import HINT_KEYS, Hints, check_consistent, layer
from ledgermcp.codegen.ir import Tool
from ledgermcp.codegen.normalize import normalise

JSON_OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
PDF_OK = {
    "200": {
        "description": "pdf",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _op(responses: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"responses": responses or JSON_OK, **extra}


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


def hints(tool: Tool) -> dict[str, bool]:
    return tool.hints.as_mapping()


READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}

CRUD = build(
    {
        "/invoices": {"get": _op(), "post": _op()},
        "/invoices/{id}": {"get": _op(), "put": _op(), "patch": _op(), "delete": _op()},
        "/invoices/{id}/pdf": {"get": _op(PDF_OK)},
    }
)


def test_every_hint_is_explicit() -> None:
    for tool in CRUD.values():
        annotations = tool.to_table()["annotations"]
        assert set(HINT_KEYS) <= set(annotations)
        assert all(isinstance(annotations[k], bool) for k in HINT_KEYS)


@pytest.mark.parametrize(
    ("key", "kind"),
    [("GET /invoices", "list"), ("GET /invoices/{id}", "get"), ("GET /invoices/{id}/pdf", "download")],
)
def test_list_get_download_are_read_only(key: str, kind: str) -> None:
    assert CRUD[key].kind == kind
    assert hints(CRUD[key]) == READ_ONLY


def test_delete_is_destructive_and_idempotent() -> None:
    tool = CRUD["DELETE /invoices/{id}"]
    assert tool.kind == "delete"
    assert hints(tool) == {
        "readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": False,
    }  # fmt: skip


def test_create_is_additive() -> None:
    tool = CRUD["POST /invoices"]
    assert tool.kind == "create"
    assert hints(tool) == {
        "readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False,
    }  # fmt: skip


def test_put_and_patch_updates_set_values_so_both_repeat_safely() -> None:
    put, patch = CRUD["PUT /invoices/{id}"], CRUD["PATCH /invoices/{id}"]
    assert (put.kind, patch.kind) == ("update", "update")
    for tool in (put, patch):
        assert tool.hints.idempotent and tool.hints.destructive and not tool.hints.read_only


IRREVERSIBLE = build(
    {
        "/invoices/{id}/bookkeep": {"put": _op()},
        "/invoices/{id}/send-by-email": {"patch": _op()},
        "/invoices/{id}/credit": {"put": _op()},
        "/invoices/{id}/cancel": {"put": _op()},
        "/invoices/{id}/pay": {"post": _op()},
        "/invoices/{id}/finalize": {"post": _op()},
        "/invoices/{id}/email": {"get": _op()},  # a GET that sends an e-mail is still irreversible
    }
)
OPEN_WORLD = {"send-by-email", "pay", "email"}


@pytest.mark.parametrize("key", sorted(IRREVERSIBLE))
def test_irreversible_actions_are_destructive_never_retried(key: str) -> None:
    tool = IRREVERSIBLE[key]
    assert tool.kind == "action", tool.name
    assert tool.facts["irreversible"] and tool.facts["approval"] and not tool.facts["retry"], tool.name
    assert tool.hints.destructive and not tool.hints.read_only and not tool.hints.idempotent, tool.name
    # only what reaches people or banks is open-world; booking and cancelling stay in the books
    assert tool.hints.open_world == (key.rsplit("/", 1)[-1] in OPEN_WORLD), tool.name


def test_creating_from_another_document_is_additive() -> None:
    tool = build({"/orders/{id}/createinvoice": {"put": _op()}})["PUT /orders/{id}/createinvoice"]
    assert tool.name == "create_order_invoice"
    assert tool.facts["effect"] == "create"
    assert not tool.hints.destructive and not tool.hints.read_only and not tool.hints.open_world


def test_layering_method_default_then_spec_extension_then_overlay() -> None:
    key = "PUT /items/{id}"
    paths = {
        "/items/{id}": {"put": _op(**{"x-ledgermcp-hints": {"openWorldHint": True, "idempotentHint": False}})}
    }
    default = build({"/items/{id}": {"put": _op()}})[key]
    assert (default.hints.open_world, default.hints.idempotent) == (False, True)

    ext_only = build(paths)[key]
    assert (ext_only.hints.open_world, ext_only.hints.idempotent) == (True, False)
    assert any("spec extension" in s for s in ext_only.hint_sources)

    overlay = {"operations": {key: {"hints": {"openWorldHint": False}}}}
    both = build(paths, overlay)[key]
    # overlay wins where both speak; the extension still holds where the overlay is silent
    assert (both.hints.open_world, both.hints.idempotent) == (False, False)
    assert both.hint_sources[-1] == f"openWorldHint=False (overlay for {key})"


def test_the_other_extension_name_is_read_too() -> None:
    key = "POST /items"
    tool = build({"/items": {"post": _op(**{"x-mcp-annotations": {"openWorldHint": True}})}})[key]
    assert tool.hints.open_world


def test_layer_records_only_real_changes() -> None:
    base = Hints(read_only=False, destructive=True, idempotent=True, open_world=False)
    result, applied = layer(
        base, ("a", {"destructiveHint": True}), ("b", None), ("c", {"openWorldHint": True})
    )
    assert result == Hints(read_only=False, destructive=True, idempotent=True, open_world=True)
    assert applied == ["openWorldHint=True (c)"]


@pytest.mark.parametrize(
    "override", [{"readonly": True}, {"destructiveHint": "yes"}, {"openWorldHint": 1}], ids=str
)
def test_unknown_or_non_boolean_hint_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(GenerationError, match=r"overlay for GET /items/\{id\}"):
        build({"/items/{id}": {"get": _op()}}, {"operations": {"GET /items/{id}": {"hints": override}}})


def test_read_only_and_destructive_contradiction_names_the_tool() -> None:
    with pytest.raises(GenerationError) as err:
        build(
            {"/items/{id}": {"get": _op()}},
            {"operations": {"GET /items/{id}": {"hints": {"destructiveHint": True}}}},
        )
    message = str(err.value)
    assert "'get_item'" in message and "readOnlyHint and destructiveHint are both true" in message


def test_contradiction_from_the_spec_extension_fails_too() -> None:
    with pytest.raises(GenerationError, match=r"'update_item'.*both true"):
        build({"/items/{id}": {"put": _op(**{"x-ledgermcp-hints": {"readOnlyHint": True}})}})


def test_delete_that_is_not_destructive_fails_naming_the_tool() -> None:
    with pytest.raises(GenerationError) as err:
        build(
            {"/items/{id}": {"delete": _op()}},
            {"operations": {"DELETE /items/{id}": {"hints": {"destructiveHint": False}}}},
        )
    assert "'delete_item'" in str(err.value) and "a DELETE must be destructive" in str(err.value)


def test_consistent_hints_pass_the_check() -> None:
    check_consistent(
        "ok", "DELETE", Hints(read_only=False, destructive=True, idempotent=True, open_world=False)
    )
    with pytest.raises(GenerationError, match="a DELETE cannot be read-only"):
        check_consistent(
            "x", "DELETE", Hints(read_only=True, destructive=True, idempotent=True, open_world=False)
        )
