"""The per-vendor report: checked, passed, failed with Prism's message; corrections counted apart."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .described import Described
from .runner import Check, VendorRun

MAX_SHOWN = 200  # failing calls listed in the text report (the JSON has all of them)


def by_name(checks: list[Check]) -> dict[str, list[Check]]:
    grouped: dict[str, list[Check]] = defaultdict(list)
    for check in checks:
        grouped[check.name].append(check)
    return grouped


def summary(checks: list[Check]) -> tuple[int, int, list[str]]:
    """(checked, passed, failing names): a name passes when every one of its calls passes."""
    grouped = by_name(checks)
    failing = sorted(name for name, calls in grouped.items() if not all(c.ok for c in calls))
    return len(grouped), len(grouped) - len(failing), failing


def passed(run: VendorRun) -> bool:
    return run.canary_ok and not summary(run.tools)[2] and not summary(run.typed)[2]


def render(run: VendorRun, described: Described, prism_version: str, count: int) -> str:
    lines = [
        f"== {run.vendor}: requests checked by Prism {prism_version} against {described.path.name} "
        f"(vendor file sha256 {described.sha256[:12]}..., normalised and corrected as the generator reads it)",
        f"canary: {run.canary}",
    ]
    for label, checks in (("tools", run.tools), ("typed functions", run.typed)):
        checked, ok, failing = summary(checks)
        lines.append(
            f"{label}: {checked} checked, {ok} passed, {len(failing)} failed "
            f"({len(checks)} calls, {count} argument sets each)"
        )
    lines.append(f"corrections of the description (overlay): {len(described.corrections)}")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for fix in described.corrections:
        by_reason[fix["reason"]].append(f"{fix['operation']}: {fix['what']}")
    for reason, places in by_reason.items():
        lines.append(f"  {len(places)} x because {reason}")
        lines += [f"      {place}" for place in places]
    for note, times in sorted(run.notes.items()):
        lines.append(
            f"note: {times} typed calls: {note} (Prism's example answer; the request itself was checked)"
        )
    warnings = sorted({w for c in run.tools + run.typed for w in c.warnings})
    for warning in warnings[:20]:
        lines.append(f"prism warning: {warning}")
    shown = 0
    for label, checks in (("tool", run.tools), ("typed", run.typed)):
        for check in checks:
            if check.ok:
                continue
            shown += 1
            if shown > MAX_SHOWN:
                continue
            lines.append(f"FAILED {label} {check.name} [{check.variant}]: " + " | ".join(check.problems))
            if check.request:
                lines.append(f"    sent: {check.request}")
    if shown > MAX_SHOWN:
        lines.append(f"... and {shown - MAX_SHOWN} more failing calls (see the JSON report)")
    lines.append(f"took {run.seconds:.1f} s; result: {'PASS' if passed(run) else 'FAIL'}")
    return "\n".join(lines)


def write(run: VendorRun, described: Described, text: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    text_path = out_dir / f"{run.vendor}.txt"
    text_path.write_text(text + "\n", encoding="utf-8")
    data: dict[str, Any] = {
        "vendor": run.vendor,
        "passed": passed(run),
        "canary": {"rejected": run.canary_ok, "detail": run.canary},
        "corrections": described.corrections,
        "seconds": round(run.seconds, 1),
    }
    for label, checks in (("tools", run.tools), ("typed", run.typed)):
        checked, ok, failing = summary(checks)
        data[label] = {
            "checked": checked,
            "passed": ok,
            "failed": failing,
            "calls": len(checks),
            "failures": [
                {"name": c.name, "variant": c.variant, "problems": c.problems, "request": c.request}
                for c in checks
                if not c.ok
            ],
        }
    json_path = out_dir / f"{run.vendor}.json"
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return text_path, json_path
