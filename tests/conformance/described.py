"""The description Prism serves: exactly what the generator reads (found, checked, normalised and
corrected by the overlay, `codegen.emit.described_spec`), written out as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgermcp.codegen.corrections import corrected_operations
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
    spec, sha, _ = described_spec(config, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{vendor}.openapi.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return Described(vendor, path, sha, corrections_of(config.overlay))


def corrections_of(overlay: dict[str, Any]) -> list[dict[str, str]]:
    """The overlay's [[corrections]], one entry per operation (or document place) corrected."""
    out = []
    for entry in overlay.get("corrections", []):
        what = (
            "request body: fields optional (partial update)"
            if entry.get("partial_body")
            else str(entry["at"])
        )
        for operation in corrected_operations(entry) or ["(document)"]:
            out.append({"operation": operation, "what": what, "reason": str(entry["reason"])})
    return out
