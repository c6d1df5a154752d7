"""Per-vendor run-time configuration read from the environment (no `mcp`, no network).

`LEDGERMCP_<VENDOR>_BASE_URL` overrides the vendor's base URL; credentials come from
`LEDGERMCP_<VENDOR>_ACCESS_TOKEN` / `LEDGERMCP_<VENDOR>_API_KEY` or the vendor-familiar aliases
listed in `VENDOR["env_aliases"]`. The first variable that is set wins, prefixed names first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# credential kinds every vendor accepts under its own prefix, with what they are for
CREDENTIAL_KINDS: dict[str, str] = {
    "access_token": "OAuth access token / bearer token sent as `Authorization: Bearer ...`",
    "api_key": "API key",
}


@dataclass(frozen=True)
class EnvVar:
    name: str
    kind: str  # base_url, access_token, api_key, or an alias key from VENDOR["env_aliases"]
    purpose: str
    alias_of: str | None = None  # the prefixed variable this one stands in for


@dataclass(frozen=True)
class VendorSettings:
    vendor: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    credential_sources: dict[str, str] = field(default_factory=dict)  # kind -> env var that set it

    def secret_values(self) -> list[str]:
        """Every credential value, for redaction."""
        return [v for v in self.credentials.values() if v]


def _resolve_server_variables(url: str) -> str:
    # a URL template left with `{server}`-style variables has no usable default here
    return re.sub(r"\{[^}]*\}", "", url) if "{" in url else url


def env_vars(info: Mapping[str, Any]) -> list[EnvVar]:
    """The environment variables a vendor accepts, in the order they are looked up."""
    prefix = str(info["env_prefix"])
    out = [EnvVar(f"{prefix}_BASE_URL", "base_url", f"override the base URL (default {info.get('base_url')})")]
    aliases: Mapping[str, list[str]] = info.get("env_aliases") or {}
    kinds = list(CREDENTIAL_KINDS) + [k for k in aliases if k not in CREDENTIAL_KINDS]
    for kind in kinds:
        purpose = CREDENTIAL_KINDS.get(kind, kind.replace("_", " "))
        prefixed = f"{prefix}_{kind.upper()}"
        out.append(EnvVar(prefixed, kind, purpose))
        for alias in aliases.get(kind, []):
            out.append(EnvVar(alias, kind, purpose, alias_of=prefixed))
    return out


def credential_env_names(info: Mapping[str, Any], kind: str | None = None) -> list[str]:
    return [v.name for v in env_vars(info) if v.kind != "base_url" and (kind is None or v.kind == kind)]


def load_settings(info: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> VendorSettings:
    env = os.environ if environ is None else environ
    prefix = str(info["env_prefix"])
    base_url = env.get(f"{prefix}_BASE_URL") or _resolve_server_variables(str(info.get("base_url") or ""))
    credentials: dict[str, str] = {}
    sources: dict[str, str] = {}
    for var in env_vars(info):
        if var.kind == "base_url" or var.kind in credentials:
            continue
        value = env.get(var.name)
        if value:
            credentials[var.kind] = value
            sources[var.kind] = var.name
    return VendorSettings(str(info["name"]), base_url.rstrip("/"), credentials, sources)
