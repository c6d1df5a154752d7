"""The description Prism serves: exactly what the generator reads (found, checked, normalised and
corrected by the overlay, `codegen.emit.described_spec`), written out as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ledgermcp.codegen.corrections import Correction
from ledgermcp.codegen.emit import described_spec
from ledgermcp.codegen.vendor_config import load_vendor_config, project_root


@dataclass(frozen=True)
class Described:
    vendor: str
    path: Path  # the JSON file Prism loads
    sha256: str  # of the vendor's own file
    corrections: list[dict[str, str]]  # one per corrected place: operation, what, reason


def write_for_prism(vendor: str, out_dir: Path) -> Described:
    root = project_root()
    config = load_vendor_config(root, vendor)
    spec, sha, _, fixes = described_spec(config, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{vendor}.openapi.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return Described(vendor, path, sha, corrections_of(fixes))


def corrections_of(fixes: list[Correction]) -> list[dict[str, str]]:
    """The corrections the generator applied, one entry per operation (or document place)."""
    return [
        {"operation": fix.operation or "(document)", "what": fix.what, "reason": fix.reason} for fix in fixes
    ]
