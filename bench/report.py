"""Turn a results record into ratios, target verdicts and the markdown table (pure functions).

A results record (what `bench/results/<date>-<host>.json` holds) has, among raw samples:

    "metrics": [{"id", "label", "unit", "values": {"ledgermcp"|"fastmcp"|"floor": number|None},
                 "na": {side: reason}}, ...]

Targets compare ledgermcp either with FastMCP measured in the same run (`ratio`) or with a fixed
number (`max`). A target whose inputs are missing is reported as n/a with the reason, never as met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIDES = ("ledgermcp", "fastmcp", "floor")
TIMES = "\u00d7"  # the multiplication sign after a ratio


@dataclass(frozen=True)
class Target:
    metric: str
    kind: str  # "ratio": ledgermcp / fastmcp <= limit; "max": ledgermcp <= limit
    limit: float

    def describe(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"≤ {self.limit:g}{TIMES}"
        return f"≤ {format_value(self.limit, unit)}"


# From the issue: Fortnox, full mode unless the metric says otherwise.
TARGETS: tuple[Target, ...] = (
    Target("cold_start", "ratio", 0.5),
    Target("fortnox_full_tokens", "ratio", 0.25),
    Target("fortnox_consolidated_tokens", "ratio", 0.08),
    Target("fortnox_discovery_tokens", "max", 3000),
    Target("smallinvoice_discovery_tokens", "max", 3000),
    Target("stdio_p50", "ratio", 0.85),
    Target("peak_rss", "ratio", 0.6),
)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "bytes":
        return f"{value / 1000:,.0f} kB"
    if unit == "MiB":
        return f"{value / 2**20:.0f} MiB"
    if unit == "tokens":
        return f"{value:,.0f}"
    return f"{value:g}"


def metric_by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in results.get("metrics", [])}


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per target: the value compared, the limit, and met / not met / n/a (why)."""
    metrics = metric_by_id(results)
    out = []
    for target in TARGETS:
        metric = metrics.get(target.metric)
        verdict: dict[str, Any] = {"metric": target.metric, "kind": target.kind, "limit": target.limit}
        if metric is None:
            verdict.update(value=None, met=None, why="not measured")
            out.append(verdict)
            continue
        values, na = metric["values"], metric.get("na", {})
        mine = values.get("ledgermcp")
        if target.kind == "ratio":
            theirs = values.get("fastmcp")
            value = ratio(mine, theirs)
            missing = "ledgermcp" if mine is None else "fastmcp" if theirs is None else None
        else:
            value = mine
            missing = "ledgermcp" if mine is None else None
        if value is None:
            why = na.get(missing or "ledgermcp") or f"{missing} not measured"
            verdict.update(value=None, met=None, why=why)
        else:
            verdict.update(value=value, met=value <= target.limit, why="")
        out.append(verdict)
    return out


def _cell(metric: dict[str, Any], side: str) -> str:
    value = metric["values"].get(side)
    if value is None:
        reason = metric.get("na", {}).get(side)
        return f"n/a ({reason})" if reason else ""
    return format_value(value, metric["unit"])


def render_markdown(results: dict[str, Any]) -> str:
    """The table the README shows, with the machine, versions and settings under it."""
    by_target = {v["metric"]: v for v in verdicts(results)}
    targets = {t.metric: t for t in TARGETS}
    versions = results.get("versions", {})
    fastmcp_name = f"FastMCP {versions.get('fastmcp') or ''}".strip()
    lines = [
        f"### Benchmark: ledgermcp vs {fastmcp_name} `from_openapi` ({results.get('date', '')[:10]})",
        "",
        "Fortnox unless the row says otherwise; medians; ratio = ledgermcp / FastMCP in the same run.",
        "",
        f"| measure | ledgermcp | {fastmcp_name} | ratio | target | met | floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for metric in results.get("metrics", []):
        values = metric["values"]
        r = ratio(values.get("ledgermcp"), values.get("fastmcp"))
        target = targets.get(metric["id"])
        verdict = by_target.get(metric["id"])
        target_text = target.describe(metric["unit"]) if target else ""
        if verdict is None:
            met = ""
        elif verdict["met"] is None:
            met = f"n/a ({verdict['why']})"
        else:
            met = "**yes**" if verdict["met"] else "no"
        lines.append(
            f"| {metric['label']} | {_cell(metric, 'ledgermcp')} | {_cell(metric, 'fastmcp')} | "
            f"{'' if r is None else f'{r:.2f}{TIMES}'} | {target_text} | {met} | {_cell(metric, 'floor')} |"
        )
    lines += ["", *_notes(results)]
    return "\n".join(lines) + "\n"


def _notes(results: dict[str, Any]) -> list[str]:
    out = []
    settings = results.get("settings", {})
    machine = results.get("machine", {})
    versions = results.get("versions", {})
    out.append(
        "Floor: a bare `mcp` low-level server with one tool (start, call) and one keep-alive httpx "
        "GET to the same stub (call rows)."
    )
    shares = results.get("fastmcp_tools_list_shares")
    if shares:
        out.append(
            f"FastMCP's Fortnox tools/list: {shares['output_schemas']:.0%} output schemas, "
            f"{shares['input_schemas']:.0%} input schemas."
        )
    imports = (results.get("raw") or {}).get("imports")
    if imports:
        top = ", ".join(f"{t['package']} {t['self_ms']:.0f} ms" for t in imports.get("by_package", [])[:6])
        watched = imports.get("watched", {})
        absent = ", ".join(name for name, seen in watched.items() if not seen)
        present = ", ".join(name for name, seen in watched.items() if seen)
        out.append(
            f"Start-up imports (`ledgermcp serve fortnox` until tools/list, `-X importtime`): "
            f"{imports['modules']} modules; import time by package: {top}. Not imported: {absent or 'none'}; "
            f"imported: {present or 'none'}."
        )
    for note in results.get("notes", []):
        out.append(note)
    out.append("")
    out.append(
        f"Settings: {settings.get('runs')} alternating cold starts per server; "
        f"{settings.get('rounds')} alternating sessions of {settings.get('calls')} calls "
        f"(after {settings.get('warmup')} warm-up calls) per transport; "
        f"{settings.get('gen_runs')} generation runs each; tokens: {settings.get('token_counter')}; "
        f"client: official `mcp` {versions.get('mcp', '?')} ({settings.get('client_mode')} handshake)."
    )
    out.append(
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('memory_gib', '?')} GiB, {machine.get('os', '?')}, Python {versions.get('python', '?')}; "
        f"load average {machine.get('load_before', '?')} before, {machine.get('load_after', '?')} after."
    )
    out.append(
        "Versions: "
        + ", ".join(f"{name} {value}" for name, value in versions.items() if value and name != "python")
        + "."
    )
    if results.get("elapsed_s") is not None:
        out.append(f"The whole run took {results['elapsed_s'] / 60:.1f} min.")
    errors = results.get("errors") or []
    if errors:
        out.append("")
        out.append("Problems during the run:")
        out += [f"- {e.splitlines()[0]}" for e in errors]
    return out
