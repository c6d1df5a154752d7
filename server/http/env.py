"""Per-vendor settings from the environment: `LEDGERMCP_<VENDOR>_<KIND>` plus vendor-familiar aliases.

`VENDOR["env_prefix"]` gives the prefix (`LEDGERMCP_FORTNOX`); `VENDOR["env_aliases"]` maps a kind
(`"access_token"`) to further names (`["FORTNOX_ACCESS_TOKEN"]`). The project's own name wins over
an alias; an empty value counts as unset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def env_prefix(vendor_info: Mapping[str, Any]) -> str:
    prefix = vendor_info.get("env_prefix")
    if prefix:
        return str(prefix)
    return "LEDGERMCP_" + re.sub(r"[^A-Za-z0-9]", "_", str(vendor_info["name"])).upper()


def env_names(vendor_info: Mapping[str, Any], kind: str) -> list[str]:
    """Every variable that sets `kind` (e.g. "api_key"), in precedence order."""
    names = [f"{env_prefix(vendor_info)}_{kind.upper()}"]
    aliases = (vendor_info.get("env_aliases") or {}).get(kind) or []
    names.extend(a for a in aliases if a not in names)
    return names


def env_value(vendor_info: Mapping[str, Any], kind: str, env: Mapping[str, str]) -> str | None:
    for name in env_names(vendor_info, kind):
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None
