"""The real vendors: generated/ is what the generator writes today, and every tool is well formed.

The vendors' descriptions are not committed. They are read from $LEDGERMCP_SPEC_DIR, by default
<repo>/../shared/specs; when a file is missing these tests fail and say where they looked.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ledgermcp.codegen.effects import EFFECTS

REPO = Path(__file__).resolve().parents[1]
VENDORS = ["fortnox", "smallinvoice"]
HINT_KEYS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# what issue 2 promises: every operation of the vendor's description, less the overlay's exclusions
OPERATIONS = {"fortnox": 377, "smallinvoice": 147}


def spec_dir() -> Path:
    return Path(os.environ.get("LEDGERMCP_SPEC_DIR") or REPO.parent / "shared" / "specs")


def source(vendor: str) -> dict[str, Any]:
    with (REPO / "specs" / vendor / "source.toml").open("rb") as fh:
        return tomllib.load(fh)


def spec_path(vendor: str) -> Path:
    path = spec_dir() / source(vendor)["file"]
    if not path.is_file():
        pytest.fail(
            f"the {vendor} description is missing: looked for {path}. Put the vendors' descriptions "
            f"(see specs/{vendor}/source.toml for the file and its upstream) in one folder and set "
            "LEDGERMCP_SPEC_DIR to it, or place them in <repo>/../shared/specs.",
            pytrace=False,
        )
    return path


@cache
def spec_operations(vendor: str) -> set[str]:
    path = spec_path(vendor)
    if path.suffix == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
    else:
        import yaml

        doc = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    return {
        f"{method.upper()} {p}"
        for p, item in doc["paths"].items()
        for method in HTTP_METHODS
        if isinstance(item, dict) and isinstance(item.get(method), dict)
    }


def table(vendor: str) -> Any:
    return importlib.import_module(f"ledgermcp.generated.{vendor}.tools")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGERMCP_SPEC_DIR": str(spec_dir())}
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("vendor", VENDORS)
def test_generate_check_matches_the_committed_output(vendor: str) -> None:
    """Regenerates into a staging folder and compares it, byte for byte, with generated/<vendor>."""
    spec_path(vendor)
    before = (REPO / "generated" / vendor / "tools.lock.json").read_bytes()
    result = run_cli("generate", vendor, "--check")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"generated/{vendor} is up to date" in result.stderr
    assert "tool surface unchanged" in result.stderr
    # --check writes nothing and leaves no staging folder behind
    assert (REPO / "generated" / vendor / "tools.lock.json").read_bytes() == before
    assert not list((REPO / "generated").glob(f".staging-{vendor}-*"))


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_operation_is_a_tool_or_excluded_with_a_reason(vendor: str) -> None:
    ops = spec_operations(vendor)
    assert len(ops) == OPERATIONS[vendor] == source(vendor)["operations"]
    mod = table(vendor)
    excluded = mod.VENDOR["excluded"]
    for key, reason in excluded.items():
        assert isinstance(reason, str) and reason.strip(), key
    tools = {f"{t['binding']['method']} {t['binding']['path']}" for t in mod.TOOLS}
    assert len(mod.TOOLS) == len(tools) == OPERATIONS[vendor] - len(excluded)
    assert tools | set(excluded) == ops
    assert not tools & set(excluded)
    assert mod.VENDOR["spec_sha256"] == source(vendor)["sha256"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_tool_names_are_well_formed(vendor: str) -> None:
    names = [t["name"] for t in table(vendor).TOOLS]
    assert len(names) == len(set(names))
    bad = [n for n in names if not NAME_RE.match(n) or len(n) > 64 or re.search(r"_\d+$", n)]
    assert bad == []
    assert names == sorted(names)


@pytest.mark.parametrize("vendor", VENDORS)
def test_tools_list_output_is_complete_and_valid(vendor: str) -> None:
    """`ledgermcp tools VENDOR --format json` is what an MCP tools/list returns."""
    result = run_cli("tools", vendor, "--mode", "full", "--format", "json", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    listed = json.loads(result.stdout)
    assert len(listed) == OPERATIONS[vendor] - len(table(vendor).VENDOR["excluded"])
    assert sorted(t["name"] for t in listed) == [t["name"] for t in table(vendor).TOOLS]
    problems = []
    for tool in listed:
        annotations = tool.get("annotations", {})
        for key in HINT_KEYS:
            if not isinstance(annotations.get(key), bool):
                problems.append(f"{tool['name']}: {key} missing or not a boolean")
        schema = tool["inputSchema"]
        if schema.get("type") != "object":
            problems.append(f"{tool['name']}: inputSchema is not an object")
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            problems.append(f"{tool['name']}: {exc.message}")
        problems += [f"{tool['name']}: dangling {ref}" for ref in _dangling_refs(schema)]
    assert problems == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_table_hints_follow_the_rules(vendor: str) -> None:
    """Every tool's facts and hints agree with each other (docs/effects.md)."""
    problems = []
    names = {t["name"] for t in table(vendor).TOOLS}
    for t in table(vendor).TOOLS:
        a, facts = t["annotations"], t["facts"]
        if facts["effect"] not in EFFECTS:
            problems.append(f"{t['name']}: unknown effect {facts['effect']!r}")
        if t["kind"] in ("list", "get", "download") and not a["readOnlyHint"]:
            problems.append(f"{t['name']}: {t['kind']} not read-only")
        if t["binding"]["method"] == "DELETE" and not a["destructiveHint"]:
            problems.append(f"{t['name']}: DELETE not destructive")
        if a["readOnlyHint"] and a["destructiveHint"]:
            problems.append(f"{t['name']}: read-only and destructive")
        if (
            facts["irreversible"]
            and facts["effect"] != "delete"
            and (a["idempotentHint"] or not a["destructiveHint"])
        ):
            problems.append(f"{t['name']}: irreversible {facts['effect']} not destructive, or retried")
        if facts["effect"] in ("send", "money") and not a["openWorldHint"]:
            problems.append(f"{t['name']}: {facts['effect']} not open-world")
        if facts["retry"] != a["idempotentHint"] or facts["approval"] != a["destructiveHint"]:
            problems.append(f"{t['name']}: retry/approval facts disagree with the hints")
        if facts["restorable"] and facts["irreversible"]:
            problems.append(f"{t['name']}: irreversible yet offered for restore")
        snapshot = t["snapshot"]
        if snapshot is not None and (snapshot["read_tool"] not in names or a["readOnlyHint"]):
            problems.append(f"{t['name']}: snapshot {snapshot} on a read or naming no tool")
    assert problems == []


def _dangling_refs(schema: dict[str, Any]) -> list[str]:
    found = []
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target: Any = schema
                for part in ref.removeprefix("#/").split("/") if ref.startswith("#/") else [None]:
                    if not isinstance(target, dict) or part not in target:
                        found.append(ref)
                        break
                    target = target[part]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
