"""The benchmark harness's own logic (bench/): verdicts, the table, parsing, the stub, the wire
measurement. No timing is asserted anywhere: the numbers themselves are the bench's business."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # bench/ is a folder of the checkout, not an installed package

from bench import measure, report  # noqa: E402
from bench.harness import summarise_importtime  # noqa: E402
from bench.stub import Stub  # noqa: E402


def results_with(**values: dict) -> dict:
    metrics = [
        {"id": metric_id, "label": metric_id, "unit": "tokens", "values": v, "na": v.pop("na", {})}
        for metric_id, v in values.items()
    ]
    return {"metrics": metrics, "versions": {"fastmcp": "4.1.2"}, "settings": {}, "machine": {}}


def verdict(results: dict, metric: str) -> dict:
    return next(v for v in report.verdicts(results) if v["metric"] == metric)


def test_ratio_target_met_and_not_met() -> None:
    met = results_with(fortnox_full_tokens={"ledgermcp": 40_000, "fastmcp": 184_000})
    assert verdict(met, "fortnox_full_tokens")["met"] is True
    assert verdict(met, "fortnox_full_tokens")["value"] == pytest.approx(40_000 / 184_000)
    missed = results_with(fortnox_full_tokens={"ledgermcp": 80_000, "fastmcp": 184_000})
    assert verdict(missed, "fortnox_full_tokens")["met"] is False


def test_absolute_target_compares_ledgermcp_alone() -> None:
    results = results_with(fortnox_discovery_tokens={"ledgermcp": 2_400, "fastmcp": None})
    assert verdict(results, "fortnox_discovery_tokens")["met"] is True
    results = results_with(fortnox_discovery_tokens={"ledgermcp": 3_001, "fastmcp": 184_000})
    assert verdict(results, "fortnox_discovery_tokens")["met"] is False


def test_missing_mode_is_na_with_its_reason_never_met() -> None:
    results = results_with(
        fortnox_consolidated_tokens={
            "ledgermcp": None,
            "fastmcp": 184_000,
            "na": {"ledgermcp": "mode not available"},
        }
    )
    v = verdict(results, "fortnox_consolidated_tokens")
    assert v["met"] is None and v["why"] == "mode not available"
    table = report.render_markdown(results)
    row = next(line for line in table.splitlines() if line.startswith("| fortnox_consolidated_tokens"))
    assert "n/a (mode not available)" in row
    assert "**yes**" not in row and "| no |" not in row


def test_table_has_one_row_per_metric_with_ratio_and_target() -> None:
    results = results_with(
        fortnox_full_tokens={"ledgermcp": 46_000, "fastmcp": 184_000},
        something_else={"ledgermcp": 1, "fastmcp": 4},
    )
    lines = report.render_markdown(results).splitlines()
    row = next(line for line in lines if line.startswith("| fortnox_full_tokens"))
    ratio, target = f"0.25{report.TIMES}", f"≤ 0.25{report.TIMES}"
    assert "46,000" in row and "184,000" in row and ratio in row and target in row and "**yes**" in row
    other = next(line for line in lines if line.startswith("| something_else"))
    assert ratio in other and "**yes**" not in other  # no target for it: no verdict
    assert "FastMCP 4.1.2" in lines[0]


def test_format_units() -> None:
    assert report.format_value(1.2345, "s") == "1.23 s"
    assert report.format_value(765_432, "bytes") == "765 kB"
    assert report.format_value(129 * 2**20, "MiB") == "129 MiB"
    assert report.format_value(184_123, "tokens") == "184,123"
    assert report.format_value(None, "ms") == "n/a"


def test_percentiles_are_nearest_rank() -> None:
    samples = [i / 1000 for i in range(1, 101)]  # 1 ms .. 100 ms
    stats = measure.stats_ms(samples)
    assert stats["p50_ms"] == pytest.approx(50)
    assert stats["p95_ms"] == pytest.approx(95)
    assert stats["n"] == 100
    assert measure.stats_ms([0.002])["p95_ms"] == pytest.approx(2)


def test_token_counter_falls_back_to_bytes_over_four(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import tiktoken -> ImportError
    count, name = measure.token_counter()
    assert name.startswith("bytes/4")
    assert count("x" * 400) == 100
    assert count("ö" * 2) == 1  # bytes, not characters


def test_schema_shares() -> None:
    tools = [{"name": "a", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object", "x": 1}}]
    shares = measure.schema_shares(tools)
    assert 0 < shares["input_schemas"] < shares["output_schemas"] < 1


def test_importtime_summary_finds_top_imports_and_watched_packages() -> None:
    text = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |     rich.text",
            "import time:       200 |        300 |   rich",
            "import time:      1000 |      50300 | mcp",
            "import time:       500 |        500 | ledgermcp.server.cli",
        ]
    )
    summary = summarise_importtime(text)
    assert summary["modules"] == 4
    assert summary["self_total_ms"] == pytest.approx(1.8)
    assert [t["module"] for t in summary["top"]] == ["mcp", "ledgermcp.server.cli"]
    assert summary["by_package"][0] == {"package": "mcp", "self_ms": 1.0}
    assert {"package": "rich", "self_ms": 0.3} in summary["by_package"]
    assert summary["watched"]["rich"] is True
    assert summary["watched"]["jsonschema"] is False
    # sys.modules at exit, when given, decides what was imported (import_module is not timed)
    later = summarise_importtime(text, ["mcp", "jsonschema", "jsonschema.validators"])
    assert later["watched"]["jsonschema"] is True and later["watched"]["rich"] is False
    assert later["modules"] == 3


def test_stub_answers_customers_and_counts_vendor_requests() -> None:
    stub = Stub()
    status, body = stub.answer("GET", "/3/customers/1001")
    assert status == 200 and body["Customer"]["CustomerNumber"] == "1001"
    status, body = stub.answer("GET", "/3/customers?filter=active")
    assert status == 200 and len(body["Customers"]) == 10
    status, _ = stub.answer("DELETE", "/3/customers/1001")
    assert status == 404
    assert stub.answer("GET", "/__stats") == (200, {"requests": 3})


def test_stub_answers_match_the_fortnox_response_schemas() -> None:
    """FastMCP, and the official client for FastMCP's tools, validate answers against these."""
    import jsonschema

    from ledgermcp.codegen.normalize import load_document, normalise
    from ledgermcp.codegen.vendor_config import load_vendor_config, locate_spec

    config = load_vendor_config(ROOT, "fortnox")
    spec, _ = normalise(load_document(locate_spec(config, ROOT)[0]))
    stub = Stub()
    for target, path in [
        ("/3/customers/1001", "/3/customers/{CustomerNumber}"),
        ("/3/customers", "/3/customers"),
    ]:
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        status, body = stub.answer("GET", target)
        assert status == 200
        jsonschema.validate(body, {**schema, "components": spec["components"]})


@pytest.mark.slow
def test_stub_over_http_and_the_wire_measurement_of_a_real_server(tmp_path: Path) -> None:
    """The stub as the harness starts it, and `tools_list_wire` against the floor server."""
    import asyncio

    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.stub"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        ready = stub.stdout.readline().decode().split()  # type: ignore[union-attr]
        assert ready[0] == "READY"
        url = f"http://127.0.0.1:{ready[1]}"
        with urllib.request.urlopen(f"{url}/3/customers/42", timeout=10) as response:
            assert json.loads(response.read())["Customer"]["CustomerNumber"] == "42"
        with urllib.request.urlopen(f"{url}/__stats", timeout=10) as response:
            assert json.loads(response.read()) == {"requests": 1}

        server = measure.Server(
            label="floor",
            argv=[sys.executable, "-m", "bench.floor_server", url],
            env={},
            cwd=str(ROOT),
            log=tmp_path / "floor.log",
        )
        wire = asyncio.run(measure.tools_list_wire(server))
        assert [t["name"] for t in wire["tools"]] == ["get_customer"]
        assert wire["pages"] == 1
        line = json.loads(wire["text"])
        assert line["id"] == 2 and line["result"]["tools"][0]["name"] == "get_customer"
        assert wire["bytes"] == len(wire["text"].encode())
    finally:
        stub.terminate()
        stub.wait(10)


def fake_ledgermcp(tmp_path: Path, serve_help: str, env_help: str) -> str:
    script = tmp_path / "ledgermcp"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = serve ]; then printf "%s\\n" "{serve_help}"; else printf "%s\\n" "{env_help}"; fi\n'
    )
    script.chmod(0o755)
    return str(script)


def probed(tmp_path: Path, serve_help: str, env_help: str):  # type: ignore[no-untyped-def]
    from bench.harness import Bench, parse_args

    bench = Bench(parse_args(["--work", str(tmp_path / "work")]))
    bench.ledgermcp = fake_ledgermcp(tmp_path, serve_help, env_help)
    bench.probe_ledgermcp()
    return bench


def test_probe_without_modes_or_rate_limit_variable(tmp_path: Path) -> None:
    bench = probed(
        tmp_path, "usage: ledgermcp serve [--sandbox] VENDOR", "LEDGERMCP_FORTNOX_BASE_URL  base URL"
    )
    assert bench.has_mode_flag is False
    assert bench.modes == {"full": False, "consolidated": False, "discovery": False, "auto": False}
    assert bench.rate_limit_value == {}
    assert any("--mode" in note for note in bench.notes)
    assert any("bench.ledgermcp_entry" in note for note in bench.notes)
    call_server = bench.ledgermcp_server("fortnox", "full", for_calls=True)
    assert call_server.argv[:3] == [sys.executable, "-m", "bench.ledgermcp_entry"]
    assert "--mode" not in call_server.argv
    assert "LEDGERMCP_FORTNOX_RATE_LIMIT" not in call_server.env


def test_probe_with_some_modes_and_the_rate_limit_variable(tmp_path: Path) -> None:
    bench = probed(
        tmp_path,
        "  --mode {full,consolidated}  full or consolidated",
        "LEDGERMCP_FORTNOX_RATE_LIMIT  N/S or off (default 25/5)",
    )
    assert bench.modes == {"full": True, "consolidated": True, "discovery": False, "auto": False}
    assert bench.rate_limit_value["fortnox"] == "off"
    server = bench.ledgermcp_server("fortnox", "consolidated", for_calls=True)
    assert server.argv[0] == bench.ledgermcp and server.argv[-2:] == ["--mode", "consolidated"]
    assert server.env["LEDGERMCP_FORTNOX_RATE_LIMIT"] == "off"
    assert server.env["LEDGERMCP_FORTNOX_ACCESS_TOKEN"]
