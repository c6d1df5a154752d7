"""The generated tool table writes recurring schema and binding parts once (codegen/shared_parts.py):
the module still holds exactly the tools the generator built, the parts really are one object,
and nothing in the runtime changes the table in place (a change would reach every tool that
shares the part)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ledgermcp.codegen.emit import _render
from ledgermcp.codegen.shared_parts import PartName, share_parts
from ledgermcp.server.app import create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.modes import MODES, build_surface
from ledgermcp.server.toolspec import wire_tools

ROW = {"type": "object", "properties": {"Price": {"type": "number"}, "Text": {"type": "string"}}}
TOOLS: list[dict[str, Any]] = [
    {
        "name": "create_order",
        "input_schema": {"type": "object", "properties": {"Rows": {"type": "array", "items": ROW}}},
        "binding": {"method": "POST", "path": "/orders", "params": []},
    },
    {
        "name": "create_offer",
        "input_schema": {
            "type": "object",
            "properties": {
                "Rows": {"type": "array", "items": copy.deepcopy(ROW)},
                "Note": {"type": "string"},
            },
        },
        "binding": {"method": "POST", "path": "/offers", "params": []},
    },
]


def test_recurring_parts_are_named_once_and_the_module_holds_the_same_tools() -> None:
    before = json.dumps(TOOLS)
    parts, replaced = share_parts(TOOLS)
    assert json.dumps(TOOLS) == before  # the input is not changed
    names = [name for name, _ in parts]
    assert len(names) == len(set(names))
    # the row schema (and the string field inside it, used again by Note) is a part
    defined = dict(parts)

    def resolved(value: Any) -> Any:
        if isinstance(value, PartName):
            return resolved(defined[value.name])
        if isinstance(value, dict):
            return {k: resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolved(v) for v in value]
        return value

    assert sum(1 for _, v in parts if resolved(v) == ROW) == 1
    assert isinstance(replaced[0]["input_schema"]["properties"]["Rows"], PartName)
    assert (
        replaced[0]["input_schema"]["properties"]["Rows"] is replaced[1]["input_schema"]["properties"]["Rows"]
    )

    source = _render(
        "tools.py.jinja",
        header="# test",
        vendor={"name": "acme", "title": "Acme", "groups": {}},
        tools=replaced,
        parts=parts,
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "tools.py", "exec"), namespace)  # parts are defined before they are used
    assert namespace["TOOLS"] == TOOLS
    rows = [t["input_schema"]["properties"]["Rows"] for t in namespace["TOOLS"]]
    assert rows[0] is rows[1]


@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
def test_generated_tables_share_parts(vendor_name: str) -> None:
    tools = load_vendor(vendor_name).tools
    seen: dict[int, str] = {}
    shared = 0
    for tool in tools:
        for prop in (tool["input_schema"].get("properties") or {}).values():
            if id(prop) in seen and seen[id(prop)] != tool["name"]:
                shared += 1
            seen.setdefault(id(prop), tool["name"])
    assert shared > 100, shared


@pytest.mark.anyio
@pytest.mark.parametrize("vendor_name", ["fortnox", "smallinvoice"])
async def test_the_runtime_never_changes_the_table(vendor_name: str) -> None:
    vendor = load_vendor(vendor_name)
    before = json.dumps(vendor.tools, sort_keys=True)
    for mode in MODES:
        for output_schemas in (False, True):
            surface = build_surface(mode, vendor, output_schemas=output_schemas)
            json.dumps(surface.tools)
    wire_tools(vendor)
    app = create_app(vendor, sandbox=True, environ={})
    for tool in vendor.tools[:60]:
        # any outcome will do (most lack arguments); validation, planning and gates run
        await app.pipeline.call(tool["name"], {})
    await app.aclose()
    assert json.dumps(vendor.tools, sort_keys=True) == before


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
