"""Per-vendor run-time configuration read from the environment (no `mcp`, no network).

The names come from the vendor HTTP stack (`ledgermcp.server.http.auth.accepted_env_vars`):
`LEDGERMCP_<VENDOR>_BASE_URL` overrides the base URL; credentials come from
`LEDGERMCP_<VENDOR>_ACCESS_TOKEN` / `_API_KEY` / ... or the vendor-familiar aliases listed in
`VENDOR["env_aliases"]`. The project's own name wins over an alias. `LEDGERMCP_<VENDOR>_RATE_LIMIT`
(read by `ledgermcp.server.http.client.resolve_rate_limit`) is listed here too, and so are the
server-wide `LEDGERMCP_APPROVAL_KEY` and `LEDGERMCP_REDIS_URL` that replicas share (read by
`ledgermcp.server.safety.options_from_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.server.http.auth import accepted_env_vars
from ledgermcp.server.http.env import env_names, env_value
from ledgermcp.server.http.ratelimit import RATE_LIMIT_OFF, RateLimit

CREDENTIAL_KINDS = ("access_token", "api_key", "client_id", "client_secret", "username", "password")


@dataclass(frozen=True)
class VendorSettings:
    vendor: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict, repr=False)

    def secret_values(self) -> list[str]:
        """Every credential value, for redaction."""
        return [v for v in self.credentials.values() if v]


def env_table(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The variables the vendor accepts, one row per name (aliases included)."""
    rows = []
    for var in accepted_env_vars(info):
        rows.append(
            {
                "name": var.name,
                "kind": var.kind,
                "secret": var.secret,
                "purpose": var.description,
                "alias_of": None,
            }
        )
        for alias in var.aliases:
            rows.append(
                {
                    "name": alias,
                    "kind": var.kind,
                    "secret": var.secret,
                    "purpose": var.description,
                    "alias_of": var.name,
                }
            )
    rows.append(_rate_limit_row(info))
    rows += _approval_rows()
    return rows


def _approval_rows() -> list[dict[str, Any]]:
    """Server-wide variables of write safety (server/safety/keys.py, used.py) that replicas share."""
    return [
        {
            "name": "LEDGERMCP_APPROVAL_KEY",
            "kind": "approval_key",
            "secret": True,
            "purpose": "key signing approval tokens, the same on every replica (base64 or hex, at least "
            "32 bytes; default: approval.key in the user data directory)",
            "alias_of": None,
        },
        {
            "name": "LEDGERMCP_REDIS_URL",
            "kind": "redis_url",
            "secret": True,
            "purpose": "Redis shared by replicas: records used approval tokens (default: per process), "
            "and holds OAuth tokens with LEDGERMCP_TOKEN_STORE=redis",
            "alias_of": None,
        },
    ]


def _rate_limit_row(info: Mapping[str, Any]) -> dict[str, Any]:
    limit = RateLimit.from_vendor(info)
    default = f"{limit.requests}/{limit.per_seconds:g}, the vendor's" if limit else RATE_LIMIT_OFF
    return {
        "name": env_names(info, "rate_limit")[0],
        "kind": "rate_limit",
        "secret": False,
        "purpose": f"client-side rate limit, N/S (N requests per S seconds, e.g. 100/1) or "
        f"{RATE_LIMIT_OFF} (default: {default})",
        "alias_of": None,
    }


def credential_env_names(info: Mapping[str, Any]) -> list[str]:
    """Names that provide credentials for this vendor, for the UNAUTHORIZED hint."""
    names = [r["name"] for r in env_table(info) if r["secret"] and r["kind"] in CREDENTIAL_KINDS]
    return names or env_names(info, "access_token")


def load_settings(info: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> VendorSettings:
    env = os.environ if environ is None else environ
    base_url = env_value(info, "base_url", env) or str(info.get("base_url") or "")
    credentials = {k: v for k in CREDENTIAL_KINDS if (v := env_value(info, k, env))}
    return VendorSettings(str(info["name"]), base_url.rstrip("/"), credentials)
