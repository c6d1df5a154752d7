"""`python -m bench`: ledgermcp against FastMCP's `from_openapi` on the same vendor descriptions.

Both servers call the same stub upstream (bench/stub.py, its own process on 127.0.0.1) and are
driven by the same official `mcp` client; runs alternate between them. The record goes to
`bench/results/<date>-<host>.json`, the table to `bench/results/latest.md` (and stdout).

Benchmarks are not tests: nothing here fails on a slow number. The exit code is 0 unless the
harness itself breaks; a server that does not start or answers wrongly makes its rows n/a with
the reason, and the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import measure
from bench.measure import MeasureError, Server
from bench.report import render_markdown, verdicts

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
MODES = ("full", "consolidated", "discovery", "auto")
VENDORS = ("fortnox", "smallinvoice")
# auto mode is measured twice: as it starts, and after enable_groups added two groups
ENABLED_GROUPS = {"fortnox": ["invoices", "customers"], "smallinvoice": ["receivables", "contacts"]}
# The benchmarked read: Fortnox `GET /3/customers/{CustomerNumber}`.
CALL_PATH, CALL_METHOD, CUSTOMER = "/3/customers/{CustomerNumber}", "get", "1001"
LEDGERMCP_TOOL = "get_customer"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--fastmcp-python", help="interpreter of the virtualenv that has FastMCP")
    parser.add_argument("--runs", type=int, default=7, help="cold starts per server (default 7)")
    parser.add_argument("--rounds", type=int, default=3, help="call sessions per server and transport (3)")
    parser.add_argument("--calls", type=int, default=100, help="timed calls per session (default 100)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls before each session (20)")
    parser.add_argument("--gen-runs", type=int, default=3, help="generation runs per generator (default 3)")
    parser.add_argument("--no-http", action="store_true", help="skip the Streamable HTTP call rows")
    parser.add_argument("--no-generate", action="store_true", help="skip the generation-time row")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2 cold starts, 1 round of 20 calls, 1 generation"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where results go")
    parser.add_argument("--work", type=Path, default=BENCH / ".work", help="scratch folder (logs, specs)")
    args = parser.parse_args(argv)
    if args.fastmcp_python:
        args.fastmcp_python = os.path.abspath(args.fastmcp_python)  # not resolve(): keep the venv's path
    if args.quick:
        args.runs, args.rounds, args.calls, args.warmup, args.gen_runs = 2, 1, 20, 5, 1
    return args


# ------------------------------------------------------------------ set-up


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work
        self.logs = self.work / "logs"
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.raw: dict[str, Any] = {}
        self.bin = Path(sys.executable).parent
        self.ledgermcp = shutil.which("ledgermcp", path=str(self.bin)) or "ledgermcp"
        self.spec_dir = Path(os.environ.get("LEDGERMCP_SPEC_DIR") or ROOT.parent / "shared" / "specs")
        self.home = self.work / "home"
        self.stub_url = ""

    # -- environment shared by every ledgermcp process: isolated user folders, the stub, a token
    def _isolated_env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_STATE_HOME": str(self.home / "state"),
        }

    def ledgermcp_env(self, vendor: str) -> dict[str, str]:
        from ledgermcp.server.catalog import load_vendor

        prefix = load_vendor(vendor).env_prefix
        env = {
            **self._isolated_env(),
            f"{prefix}_BASE_URL": self.stub_url,
            f"{prefix}_ACCESS_TOKEN": "bench-access-token",
        }
        if self.rate_limit_value.get(vendor):
            env[f"{prefix}_RATE_LIMIT"] = self.rate_limit_value[vendor]
        return env

    def probe_ledgermcp(self) -> None:
        """Which `--mode`s the installed CLI knows, and whether the rate limit can be switched off."""
        env = {**os.environ, **self._isolated_env()}
        help_text = subprocess.run(
            [self.ledgermcp, "serve", "--help"], capture_output=True, text=True, env=env, check=False
        ).stdout
        self.has_mode_flag = "--mode" in help_text
        self.modes = {m: self.has_mode_flag and re.search(rf"\b{m}\b", help_text) is not None for m in MODES}
        self.rate_limit_value: dict[str, str] = {}
        for vendor in VENDORS:
            listed = subprocess.run(
                [self.ledgermcp, "tools", vendor, "--env"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            ).stdout
            line = next((ln for ln in listed.splitlines() if "_RATE_LIMIT" in ln), None)
            if line is not None:
                self.rate_limit_value[vendor] = "off" if re.search(r"\boff\b", line) else "100000/1"
        if not self.has_mode_flag:
            self.notes.append(
                "`ledgermcp serve --mode` is not available in this install: full-mode rows use the "
                "default server; consolidated and discovery rows are n/a."
            )
        if "fortnox" in self.rate_limit_value:
            self.notes.append(
                f"ledgermcp ran as `ledgermcp serve fortnox` with "
                f"LEDGERMCP_FORTNOX_RATE_LIMIT={self.rate_limit_value['fortnox']}."
            )
        else:
            self.notes.append(
                "This install has no LEDGERMCP_FORTNOX_RATE_LIMIT, so the call rows start ledgermcp through "
                "`python -m bench.ledgermcp_entry` (the real CLI with Fortnox's 25-per-5-s client-side limit "
                "switched off); cold start and tools/list use the `ledgermcp` command itself."
            )

    def ledgermcp_server(self, vendor: str, mode: str, *, for_calls: bool = False) -> Server:
        mode_args = ["--mode", mode] if self.has_mode_flag else []
        if for_calls and vendor not in self.rate_limit_value:
            command = [sys.executable, "-m", "bench.ledgermcp_entry"]
        else:
            command = [self.ledgermcp]
        base = [*command, "serve", vendor, *mode_args]
        return Server(
            label=f"ledgermcp {vendor} ({mode})",
            argv=base,
            env=self.ledgermcp_env(vendor),
            cwd=str(ROOT),
            log=self.logs / f"ledgermcp-{vendor}-{mode}.log",
            http_argv=lambda port: [*base, "--transport", "http", "--port", str(port)],
            tool=LEDGERMCP_TOOL,
            arguments={"CustomerNumber": CUSTOMER},
            expect=f'"CustomerNumber": "{CUSTOMER}"',
        )

    def fastmcp_server(self, vendor: str) -> Server | None:
        python = self.args.fastmcp_python
        if not python:
            return None
        spec = self.work / f"{vendor}.normalised.json"
        base = [python, str(BENCH / "fastmcp_server.py"), "--spec", str(spec), "--base-url", self.stub_url]
        base += ["--name", vendor]
        operation = json.loads(spec.read_text())["paths"].get(CALL_PATH, {}).get(CALL_METHOD, {})
        return Server(
            label=f"FastMCP {vendor}",
            argv=base,
            env={
                **self._isolated_env(),
                "FASTMCP_CHECK_FOR_UPDATES": "off",
                "FASTMCP_SHOW_SERVER_BANNER": "false",
            },
            cwd=str(self.work),
            log=self.logs / f"fastmcp-{vendor}.log",
            http_argv=lambda port: [*base, "--transport", "http", "--port", str(port)],
            tool=str(operation.get("operationId", "")),
            arguments={"CustomerNumber": CUSTOMER},
            expect=f'"CustomerNumber": "{CUSTOMER}"',
        )

    def floor_server(self) -> Server:
        return Server(
            label="floor (bare mcp server)",
            argv=[sys.executable, "-m", "bench.floor_server", self.stub_url],
            env=self._isolated_env(),
            cwd=str(ROOT),
            log=self.logs / "floor.log",
            tool="get_customer",
            arguments={"CustomerNumber": CUSTOMER},
            expect=f'"CustomerNumber": "{CUSTOMER}"',
        )

    def normalise_specs(self) -> None:
        """The descriptions as our generator normalises them, for FastMCP to read."""
        from ledgermcp.codegen.normalize import load_document, normalise
        from ledgermcp.codegen.vendor_config import load_vendor_config

        for vendor in VENDORS:
            config = load_vendor_config(ROOT, vendor)
            spec, diags = normalise(load_document(self.spec_dir / config.spec_file))
            (self.work / f"{vendor}.normalised.json").write_text(json.dumps(spec))
            self.raw.setdefault("normalise_fixes", {})[vendor] = len(diags)


# ------------------------------------------------------------------ the run


async def guarded(bench: Bench, what: str, step: Callable[[], Awaitable[Any]]) -> Any:
    """Run one measurement; a failed one is recorded and gives None, a harness bug propagates."""
    try:
        return await step()
    except (MeasureError, OSError) as exc:  # OSError: the command could not be started
        bench.errors.append(f"{what}: {exc}")
        print(f"  ! {what}: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        return None


def rotate(items: list[Any], shift: int) -> list[Any]:
    shift %= max(1, len(items))
    return items[shift:] + items[:shift]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


async def tools_list_rows(bench: Bench, count: Callable[[str], int]) -> dict[str, Any]:
    """Bytes and tokens of tools/list per vendor, per ledgermcp mode and for FastMCP."""
    out: dict[str, Any] = {}
    for vendor in VENDORS:
        row: dict[str, Any] = {}
        for mode in MODES:
            if not bench.modes.get(mode) and not (mode == "full" and not bench.has_mode_flag):
                row[mode] = {"na": "mode not available"}
                continue
            server = bench.ledgermcp_server(vendor, mode)
            wire = await guarded(
                bench, f"tools/list {server.label}", lambda s=server: measure.tools_list_wire(s)
            )
            row[mode] = _wire_summary(wire, count) if wire else {"na": "server failed, see errors"}
            if mode == "auto":
                call = ("enable_groups", {"groups": ENABLED_GROUPS[vendor]})
                wire = await guarded(
                    bench,
                    f"tools/list {server.label} after enable_groups",
                    lambda s=server, c=call: measure.tools_list_wire(s, first_call=c),
                )
                row["auto_enabled"] = (
                    _wire_summary(wire, count) if wire else {"na": "server failed, see errors"}
                )
        fastmcp = bench.fastmcp_server(vendor)
        if fastmcp is None:
            row["fastmcp"] = {"na": "FastMCP not installed"}
        else:
            wire = await guarded(
                bench, f"tools/list {fastmcp.label}", lambda s=fastmcp: measure.tools_list_wire(s)
            )
            row["fastmcp"] = _wire_summary(wire, count) if wire else {"na": "server failed, see errors"}
        out[vendor] = row
        print(f"  tools/list {vendor}: " + _brief(row), file=sys.stderr, flush=True)
    return out


def _wire_summary(wire: dict[str, Any], count: Callable[[str], int]) -> dict[str, Any]:
    return {
        "bytes": wire["bytes"],
        "tokens": count(wire["text"]),
        "tools": len(wire["tools"]),
        "pages": wire["pages"],
        "shares": measure.schema_shares(wire["tools"]),
    }


def _brief(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v.get('tokens', v.get('na'))}" for k, v in row.items())


async def cold_starts(bench: Bench, servers: list[Server]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {s.label: [] for s in servers}
    for i in range(bench.args.runs):
        for server in rotate(servers, i):
            result = await guarded(
                bench, f"cold start {server.label}", lambda s=server: measure.cold_start(s)
            )
            if result is not None:
                runs[server.label].append(result)
    for label, items in runs.items():
        times = [r["seconds"] for r in items]
        if times:
            print(f"  cold start {label}: median {median(times):.3f} s over {len(times)}", file=sys.stderr)
    return runs


async def call_rounds(bench: Bench, servers: list[Server], transport: str) -> dict[str, dict[str, Any]]:
    run = measure.stdio_latency if transport == "stdio" else measure.http_latency
    out: dict[str, dict[str, Any]] = {s.label: {"samples": [], "peak_rss": []} for s in servers}
    for i in range(bench.args.rounds):
        for server in rotate(servers, i):
            result = await guarded(
                bench,
                f"{transport} calls {server.label}",
                lambda s=server: run(s, bench.args.calls, bench.args.warmup, bench.stub_url),
            )
            if result is not None:
                out[server.label]["samples"] += result["samples"]
                out[server.label]["peak_rss"].append(result["peak_rss"])
    for label, data in out.items():
        if data["samples"]:
            data["stats"] = measure.stats_ms(data["samples"])
            print(f"  {transport} {label}: p50 {data['stats']['p50_ms']:.2f} ms", file=sys.stderr, flush=True)
    return out


def generation(bench: Bench) -> dict[str, Any]:
    """`ledgermcp generate fortnox --check` against `openapi-python-client generate` alone."""
    from ledgermcp.codegen.vendor_config import load_vendor_config

    spec = bench.spec_dir / load_vendor_config(ROOT, "fortnox").spec_file
    env = {
        **os.environ,
        "LEDGERMCP_SPEC_DIR": str(bench.spec_dir),
        "PATH": f"{bench.bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    opc = shutil.which("openapi-python-client", path=str(bench.bin)) or "openapi-python-client"
    log = bench.logs / "generate.log"
    out: dict[str, Any] = {"ledgermcp": [], "openapi_python_client": []}
    for i in range(bench.args.gen_runs):
        for which in rotate(["ledgermcp", "openapi_python_client"], i):
            with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp:
                if which == "ledgermcp":
                    argv = [bench.ledgermcp, "generate", "fortnox", "--check"]
                    cwd = str(ROOT)
                else:
                    argv = [
                        opc,
                        "generate",
                        "--path",
                        str(spec),
                        "--output-path",
                        f"{tmp}/out",
                        "--meta",
                        "none",
                    ]
                    cwd = tmp
                seconds, code = measure.timed_command(argv, cwd=cwd, env=env, log=log)
            # `--check` exits 1 when generated/ is out of date: the time is still the generator's.
            if code not in ((0, 1) if which == "ledgermcp" else (0,)):
                bench.errors.append(f"generation: {which} exited {code} (see {log})")
                continue
            out[which].append(seconds)
    for which, times in out.items():
        if times:
            print(f"  generate {which}: median {median(times):.2f} s", file=sys.stderr, flush=True)
    return out


# The `ledgermcp` entry point, writing the modules it imported when it exits.
IMPORT_LAUNCHER = """
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(k for k, v in sys.modules.items() if v))))
from ledgermcp.server.cli import main
sys.exit(main(sys.argv[2:]))
"""


async def import_profile(bench: Bench) -> dict[str, Any] | None:
    """`ledgermcp serve fortnox` under `-X importtime`, up to the answered tools/list.

    `-X importtime` does not see modules loaded with `importlib.import_module` (the CLI's verb
    modules, the vendor's tool table), so which packages were imported at all is read from
    `sys.modules` at exit instead."""
    log = bench.logs / "importtime.log"
    modules = bench.logs / "modules.json"
    log.unlink(missing_ok=True)
    mode_args = ["--mode", "full"] if bench.has_mode_flag else []
    server = Server(
        label="ledgermcp -X importtime",
        argv=[
            sys.executable,
            "-X",
            "importtime",
            "-c",
            IMPORT_LAUNCHER,
            str(modules),
            "serve",
            "fortnox",
            *mode_args,
        ],
        env=bench.ledgermcp_env("fortnox"),
        cwd=str(bench.work),
        log=log,
    )
    if await guarded(bench, "import profile", lambda: measure.tools_list_wire(server)) is None:
        return None
    try:
        imported = json.loads(modules.read_text())
    except (OSError, ValueError):
        imported = None
    return summarise_importtime(log.read_text(errors="replace"), imported)


WATCHED_IMPORTS = (
    "jsonschema",
    "rich",
    "pygments",
    "openapi_python_client",
    "yaml",
    "jinja2",
    "ledgermcp.codegen",
    "ledgermcp.generated.fortnox.client",
    "uvicorn",
    "starlette",
    "keyring",
)


def summarise_importtime(text: str, imported: list[str] | None = None) -> dict[str, Any]:
    """Module count, total self time, the heaviest top-level imports, and which watched packages
    were imported at all (from `imported`, the final `sys.modules`, when given)."""
    rows = []
    for line in text.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match[1]), int(match[2]), len(match[3]) // 2, match[4]))
    top = sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:12]
    names = set(imported) if imported is not None else {r[3] for r in rows}
    packages: dict[str, int] = {}
    for self_us, _cumulative, _depth, name in rows:
        packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0) + self_us
    return {
        "modules": len(imported) if imported is not None else len(rows),
        "self_total_ms": sum(r[0] for r in rows) / 1000,
        "top": [{"module": r[3], "cumulative_ms": r[1] / 1000} for r in top],
        "by_package": [
            {"package": name, "self_ms": us / 1000}
            for name, us in sorted(packages.items(), key=lambda kv: -kv[1])[:12]
        ],
        "watched": {w: any(n == w or n.startswith(w + ".") for n in names) for w in WATCHED_IMPORTS},
    }


# ------------------------------------------------------------------ record


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "os": f"{platform.system()} {platform.release()}",
    }


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def versions(bench: Bench) -> dict[str, Any]:
    me = sys.executable
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    out = {
        "python": measure.python_version(me),
        "ledgermcp": f"{measure.package_version(me, 'ledgermcp')} ({commit.strip()}{'+dirty' if dirty.strip() else ''})",
        "mcp": measure.package_version(me, "mcp"),
        "fastmcp": None,
        "fastmcp's mcp": None,
        "openapi-python-client": measure.package_version(me, "openapi-python-client"),
        "tiktoken": measure.package_version(me, "tiktoken"),
    }
    if bench.args.fastmcp_python:
        out["fastmcp"] = measure.package_version(bench.args.fastmcp_python, "fastmcp")
        out["fastmcp's mcp"] = measure.package_version(bench.args.fastmcp_python, "mcp")
    return out


def metrics(bench: Bench, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The table's rows from the raw measurements."""
    raw = bench.raw
    rows: list[dict[str, Any]] = []

    def row(
        metric_id: str, label: str, unit: str, values: dict[str, Any], na: dict[str, str] | None = None
    ) -> None:
        rows.append({"id": metric_id, "label": label, "unit": unit, "values": values, "na": na or {}})

    cold = raw.get("cold_start", {})
    row(
        "cold_start",
        "launch → tools/list answered",
        "s",
        {side: median([r["seconds"] for r in cold.get(label, [])]) for side, label in labels.items()},
    )
    tools = raw.get("tools_list", {})
    for vendor in VENDORS:
        vendor_rows = tools.get(vendor, {})
        fastmcp = vendor_rows.get("fastmcp", {})
        for mode in (*MODES, "auto_enabled"):
            mine = vendor_rows.get(mode, {})
            na = {k: v["na"] for k, v in (("ledgermcp", mine), ("fastmcp", fastmcp)) if "na" in v}
            if mode == "full":
                row(
                    f"{vendor}_full_bytes",
                    f"tools/list bytes, {vendor}, full",
                    "bytes",
                    {"ledgermcp": mine.get("bytes"), "fastmcp": fastmcp.get("bytes")},
                    na,
                )
            row(
                f"{vendor}_{mode}_tokens",
                f"tools/list tokens, {vendor}, "
                + (mode if mode != "auto_enabled" else f"auto + {', '.join(ENABLED_GROUPS[vendor])}"),
                "tokens",
                {"ledgermcp": mine.get("tokens"), "fastmcp": fastmcp.get("tokens")},
                na,
            )
    for transport in ("stdio", "http"):
        data = raw.get(transport)
        if data is None:
            continue
        for pct in ("p50", "p95"):
            values = {
                side: data[label]["stats"][f"{pct}_ms"]
                for side, label in labels.items()
                if "stats" in data.get(label, {})
            }
            if transport == "http" and raw.get("httpx_floor"):
                values["floor"] = raw["httpx_floor"][f"{pct}_ms"]  # the upstream GET alone
            name = "stdio" if transport == "stdio" else "Streamable HTTP"
            row(f"{transport}_{pct}", f"tools/call {pct} over {name}", "ms", values)
    stdio = raw.get("stdio", {})
    row(
        "peak_rss",
        "peak RSS of the server (stdio, after the calls)",
        "MiB",
        {
            side: median([x for x in stdio.get(label, {}).get("peak_rss", []) if x])
            for side, label in labels.items()
        },
    )
    gen = raw.get("generation")
    if gen is not None:
        row(
            "generation",
            "generation, Fortnox (FastMCP column: openapi-python-client alone)",
            "s",
            {
                "ledgermcp": median(gen.get("ledgermcp", [])),
                "fastmcp": median(gen.get("openapi_python_client", [])),
            },
        )
    return [_fill_na(r, bench) for r in rows]


def _fill_na(row: dict[str, Any], bench: Bench) -> dict[str, Any]:
    missing = row["values"].get("fastmcp") is None and "fastmcp" not in row["na"]
    if missing and not bench.args.fastmcp_python and row["id"] != "generation":
        row["na"]["fastmcp"] = "FastMCP not installed"
    return row


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    bench = Bench(args)
    shutil.rmtree(bench.logs, ignore_errors=True)
    bench.logs.mkdir(parents=True, exist_ok=True)
    bench.home.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    count, counter_name = measure.token_counter()
    print(f"bench: tokens counted with {counter_name}", file=sys.stderr, flush=True)

    stub = await start_stub(bench)
    try:
        bench.probe_ledgermcp()
        bench.normalise_specs()
        bench.raw["tools_list"] = await tools_list_rows(bench, count)

        ledger = bench.ledgermcp_server("fortnox", "full")
        fastmcp = bench.fastmcp_server("fortnox")
        floor = bench.floor_server()
        contenders = [s for s in (ledger, fastmcp, floor) if s is not None]
        labels = {"ledgermcp": ledger.label, "floor": floor.label}
        if fastmcp is not None:
            labels["fastmcp"] = fastmcp.label

        print(f"bench: {args.runs} cold starts each", file=sys.stderr, flush=True)
        bench.raw["cold_start"] = await cold_starts(bench, contenders)

        callers = [
            s for s in (bench.ledgermcp_server("fortnox", "full", for_calls=True), fastmcp, floor) if s
        ]
        labels["ledgermcp"] = callers[0].label
        print(f"bench: stdio calls ({args.rounds} x {args.calls})", file=sys.stderr, flush=True)
        bench.raw["stdio"] = await call_rounds(bench, callers, "stdio")
        if not args.no_http:
            print(f"bench: HTTP calls ({args.rounds} x {args.calls})", file=sys.stderr, flush=True)
            bench.raw["http"] = await call_rounds(bench, [s for s in callers if s.http_argv], "http")
            samples = await measure.httpx_floor(bench.stub_url, args.rounds * args.calls, args.warmup)
            bench.raw["httpx_floor"] = measure.stats_ms(samples)
        bench.raw["imports"] = await import_profile(bench)
    finally:
        stub.terminate()
        await stub.wait()
    if not args.no_generate:
        print(f"bench: generation ({args.gen_runs} each)", file=sys.stderr, flush=True)
        bench.raw["generation"] = generation(bench)

    now = dt.datetime.now(dt.UTC)
    machine = machine_info()
    machine.update(load_before=load_before, load_after=load_average())
    results: dict[str, Any] = {
        "date": now.isoformat(timespec="seconds"),
        "machine": machine,
        "versions": versions(bench),
        "settings": {
            "runs": args.runs,
            "rounds": args.rounds,
            "calls": args.calls,
            "warmup": args.warmup,
            "gen_runs": 0 if args.no_generate else args.gen_runs,
            "http": not args.no_http,
            "token_counter": counter_name,
            "client_mode": f"initialize, protocol {measure.HANDSHAKE_VERSION}",
            "modes_available": bench.modes,
            "rate_limit_env": bench.rate_limit_value,
        },
        "metrics": metrics(bench, labels),
        "notes": bench.notes,
        "errors": bench.errors,
        "raw": _without_samples(bench.raw),
    }
    fortnox_fastmcp = bench.raw.get("tools_list", {}).get("fortnox", {}).get("fastmcp", {})
    if "shares" in fortnox_fastmcp:
        results["fastmcp_tools_list_shares"] = fortnox_fastmcp["shares"]
    results["targets"] = verdicts(results)
    results["elapsed_s"] = time.perf_counter() - started
    return results


def _without_samples(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw record without per-call samples (their stats stay)."""
    out = json.loads(json.dumps(raw, default=str))
    for transport in ("stdio", "http"):
        for data in (out.get(transport) or {}).values():
            data.pop("samples", None)
    return out


async def start_stub(bench: Bench) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.stub",
        stdout=asyncio.subprocess.PIPE,
        stderr=(bench.logs / "stub.log").open("w"),
        cwd=str(ROOT),
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    if len(line) != 2 or line[0] != "READY":
        raise RuntimeError(f"the stub upstream did not start: {line}")
    bench.stub_url = f"http://127.0.0.1:{line[1]}"
    return proc


def write_results(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", results["machine"]["host"] or "host")
    record = out / f"{results['date'][:10]}-{host}.json"
    record.write_text(json.dumps(results, indent=1) + "\n")
    table = out / "latest.md"
    table.write_text(render_markdown(results))
    return record, table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    record, table = write_results(results, args.out)
    print(table.read_text())
    print(
        f"bench: wrote {record.relative_to(ROOT) if record.is_relative_to(ROOT) else record} and {table.name}"
    )
    return 0
