"""The generator against operations labelled by reading them (tests/labels/<vendor>.json).

Each label says what one operation does (effect), its four hints and whether it is irreversible, with
a reason, written by reading the operation's method, path, summary, description and body, not from
the generator's output. Committed vendors are generated with their overlay; the others as
`ledgermcp tools --spec FILE` would, with none.

What must hold: no unsafe miss (an operation labelled destructive that is not marked so, labelled
not read-only but marked read-only, labelled not idempotent but marked idempotent) and at least
97 % of the labelled operations with all four hints equal.

The descriptions are read from $LEDGERMCP_SPEC_DIR (default <repo>/../shared/specs); a missing file
fails the test and says where it looked.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledgermcp.codegen.build import build_ir
from ledgermcp.codegen.emit import describe_file, described_spec
from ledgermcp.codegen.ir import Tool
from ledgermcp.codegen.vendor_config import load_vendor_config

REPO = Path(__file__).resolve().parents[1]
LABELS = Path(__file__).parent / "labels"
SPECS = {
    "fortnox": None,  # committed vendors: their overlay applies
    "smallinvoice": None,
    "xero": "xero-accounting.openapi.yaml",
    "sevdesk": "sevdesk.openapi.yaml",
    "invoiceninja": "invoiceninja.openapi.yaml",
}
HINTS = {"readOnly": "readOnlyHint", "destructive": "destructiveHint", "idempotent": "idempotentHint",
         "openWorld": "openWorldHint"}  # fmt: skip
EFFECTS_TO_COVER = ("send", "money", "ledger", "bulk")


def spec_dir() -> Path:
    return Path(os.environ.get("LEDGERMCP_SPEC_DIR") or REPO / ".." / "shared" / "specs").resolve()


@cache
def tools(vendor: str) -> dict[str, Tool | None]:
    """Each operation's tool; None for one the overlay excludes (such as an OAuth token endpoint)."""
    filename = SPECS[vendor]
    if filename is None:
        config = load_vendor_config(REPO, vendor)
        spec, sha, _, _ = described_spec(config, REPO)
        ir, _ = build_ir(spec, config.overlay, vendor=vendor, spec_file=config.spec_file, spec_sha256=sha)
    else:
        path = spec_dir() / filename
        if not path.is_file():
            pytest.fail(f"{path} is missing: put the vendors' descriptions there or set LEDGERMCP_SPEC_DIR")
        ir, _ = describe_file(path, vendor)
    return {**dict.fromkeys(ir.excluded), **{t.operation.key: t for t in ir.tools}}


def labels(vendor: str) -> list[dict[str, Any]]:
    return list(json.loads((LABELS / f"{vendor}.json").read_text()))


def unsafe(label: dict[str, Any], got: dict[str, bool]) -> list[str]:
    misses = []
    if label["destructive"] and not got["destructive"]:
        misses.append("labelled destructive, not marked so")
    if not label["readOnly"] and got["readOnly"]:
        misses.append("labelled not read-only, marked read-only")
    if not label["idempotent"] and got["idempotent"]:
        misses.append("labelled not idempotent, marked idempotent")
    return misses


def compare(vendor: str) -> tuple[int, list[str], list[str], int]:
    """(labels with all four hints equal, unsafe misses, labelled operations without a tool or an
    exclusion, labels compared)."""
    table = tools(vendor)
    equal, misses, missing, compared = 0, [], [], 0
    for label in labels(vendor):
        if label["operation"] not in table:
            missing.append(label["operation"])
            continue
        tool = table[label["operation"]]
        if tool is None:
            continue  # excluded by the overlay: nothing a model can call
        compared += 1
        mapping = tool.hints.as_mapping()
        got = {k: mapping[v] for k, v in HINTS.items()}
        if all(got[k] == label[k] for k in HINTS):
            equal += 1
        misses += [
            f"{vendor} {label['operation']} ({tool.name}): {m}; {label['reason']}" for m in unsafe(label, got)
        ]
    return equal, misses, missing, compared


def test_the_labelled_set_is_large_and_covers_every_dangerous_effect() -> None:
    total = sum(len(labels(v)) for v in SPECS)
    assert total >= 400
    for vendor in SPECS:
        rows = labels(vendor)
        assert len({r["operation"] for r in rows}) == len(rows), f"{vendor}: an operation labelled twice"
        for row in rows:
            assert set(row) >= {"operation", "effect", "reason", "irreversible", *HINTS}, row
            assert row["reason"].strip(), row
            assert not (row["readOnly"] and row["destructive"]), row
    covered = {r["effect"] for v in SPECS for r in labels(v)}
    assert set(EFFECTS_TO_COVER) <= covered


@pytest.mark.parametrize("vendor", list(SPECS))
def test_every_labelled_operation_is_a_tool(vendor: str) -> None:
    assert compare(vendor)[2] == []


def test_no_unsafe_miss_and_hints_agree_with_the_labels() -> None:
    equal = total = 0
    misses: list[str] = []
    for vendor in SPECS:
        e, m, _, n = compare(vendor)
        equal += e
        total += n
        misses += m
    assert misses == []
    assert equal / total >= 0.97, f"{equal}/{total} labelled operations with all four hints equal"


@pytest.mark.parametrize("vendor", list(SPECS))
def test_labelled_irreversible_effects_are_never_retried(vendor: str) -> None:
    table = tools(vendor)
    wrong = [
        f"{r['operation']}: {r['effect']}"
        for r in labels(vendor)
        if r["effect"] in ("send", "money", "ledger", "cancel")
        and (tool := table[r["operation"]]) is not None
        and tool.facts["retry"]
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "filename", [*sorted(f for f in SPECS.values() if f), "fortnox.openapi.json", "smallinvoice.openapi.yaml"]
)
def test_tools_spec_format_lock_works_on_every_shared_description(filename: str) -> None:
    """`ledgermcp tools --spec FILE --format lock`: one record per operation, each with its effect."""
    import subprocess
    import sys

    from ledgermcp.codegen.effects import EFFECTS
    from ledgermcp.codegen.normalize import load_document, operations

    path = spec_dir() / filename
    if not path.is_file():
        pytest.fail(f"{path} is missing: put the vendors' descriptions there or set LEDGERMCP_SPEC_DIR")
    run = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "tools", "--spec", str(path), "--format", "lock"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == len(operations(load_document(path)))
    for record in records:
        assert set(record) == {"name", "group", "operation", "effect", "hints", "input_schema", "arguments"}
        assert record["effect"] in EFFECTS and set(record["hints"]) == set(HINTS.values())
    assert "Traceback" not in run.stderr
