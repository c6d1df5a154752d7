"""Size limits of the runtime, each with its setting: one place for every bound (no `mcp` import).

    LEDGERMCP_MAX_URL_CHARS          8000      path + query of a vendor request
    LEDGERMCP_MAX_BODY_BYTES         10 MiB    body of a vendor request (JSON, form, files)
    LEDGERMCP_MAX_RESULT_BYTES       256 KiB   JSON of one tool result; larger answers are cut with a note
    LEDGERMCP_MAX_INLINE_BYTES       4 MiB     a download (PDF, image, CSV) inlined in a result; larger
                                               ones are saved to a 0600 file and linked
    LEDGERMCP_SANDBOX_MAX_ENTITIES   1000      entities the sandbox keeps per collection
    LEDGERMCP_SANDBOX_MAX_ENTITY_BYTES 64 KiB  size of one sandbox entity
    LEDGERMCP_SANDBOX_MAX_HISTORY    1000      requests the sandbox remembers

Sizes take a plain number of bytes or a suffix (`512k`, `10m`, `1g`, binary multiples).
`Limits.from_env` raises `LimitError` (a configuration error `serve` reports with exit status 2)
for a value that is not a positive size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ledgermcp.server.http.errors import StackError

KiB = 1024
MiB = 1024 * KiB


class LimitError(StackError):
    """A limit setting that is not a positive size."""


# What each limit bounds, as `ledgermcp tools VENDOR --env` says it.
PURPOSES = {
    "max_url_chars": "longest path + query a vendor request may have (default 8000)",
    "max_body_bytes": "largest vendor request body (default 10m)",
    "max_result_bytes": "largest JSON of one tool result; larger answers are cut with a note (default 256k)",
    "max_inline_bytes": "largest download inlined in a result; larger ones are saved and linked (default 4m)",
    "sandbox_max_entities": "entities the sandbox keeps per collection (default 1000)",
    "sandbox_max_entity_bytes": "size of one sandbox entity (default 64k)",
    "sandbox_max_history": "requests the sandbox remembers (default 1000)",
}


@dataclass(frozen=True)
class Limits:
    max_url_chars: int = 8000
    max_body_bytes: int = 10 * MiB
    max_result_bytes: int = 256 * KiB
    max_inline_bytes: int = 4 * MiB
    sandbox_max_entities: int = 1000
    sandbox_max_entity_bytes: int = 64 * KiB
    sandbox_max_history: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in fields(cls):
            name = setting(f.name)
            raw = (env.get(name) or "").strip()
            if raw:
                values[f.name] = parse_size(raw, name)
        return cls(**values)


def setting(field_name: str) -> str:
    """The environment variable of a limit: `max_body_bytes` -> `LEDGERMCP_MAX_BODY_BYTES`."""
    return f"LEDGERMCP_{field_name.upper()}"


_SIZE = re.compile(r"^([0-9]+)\s*([kmg]?)(?:i?b)?$", re.IGNORECASE)


def parse_size(text: str, name: str) -> int:
    m = _SIZE.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise LimitError(
            f"{name}={text!r} is not a positive size",
            hint=f"set {name} to a number, optionally with k, m or g (e.g. 10m), or unset it for the default",
        )
    return int(m.group(1)) * {"": 1, "k": KiB, "m": MiB, "g": 1024 * MiB}[m.group(2).lower()]


def size_text(n: int) -> str:
    """1048576 -> '1 MiB', 262144 -> '256 KiB', 1000 -> '1000 bytes'."""
    for unit, size in (("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
