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

CREDENTIAL_KINDS = (
    "access_token", "api_key", "client_id", "client_secret", "username", "password", "api_secret",
)  # fmt: skip


@dataclass(frozen=True)
class VendorSettings:
    vendor: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    tenant_id: str | None = None  # LEDGERMCP_<VENDOR>_TENANT_ID: the tenant bound parameters name

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
    rows += _bound_rows(info, {r["kind"] for r in rows})
    rows += _oauth_rows(info, {r["kind"] for r in rows})
    rows.append(_rate_limit_row(info))
    rows += _approval_rows()
    rows += [_row(name, kind, secret, purpose) for name, kind, secret, purpose in SERVER_VARIABLES]
    from ledgermcp.server.limits import PURPOSES, setting

    rows += [_row(setting(field), "limit", False, purpose) for field, purpose in PURPOSES.items()]
    return rows


def _row(name: str, kind: str, secret: bool, purpose: str, alias_of: str | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "secret": secret, "purpose": purpose, "alias_of": alias_of}


# What the OAuth2 layer (server/oauth/config.py) reads per vendor, beyond the HTTP stack's kinds.
OAUTH_KINDS = (
    ("client_id", False, "OAuth2 client id (login, and renewing a refresh token)"),
    ("client_secret", True, "OAuth2 client secret (login, and renewing a refresh token)"),
    (
        "refresh_token",
        True,
        "OAuth2 refresh token to start a rotation chain from (stored tokens win after the first rotation)",
    ),
    ("access_token", True, "access token sent as 'Authorization: Bearer' (used as is; not renewed)"),
    ("token_url", False, "OAuth2 token endpoint (default: the vendor's)"),
    ("authorize_url", False, "OAuth2 authorization endpoint for `ledgermcp login` (default: the vendor's)"),
    (
        "redirect_port",
        False,
        "port of the login callback on 127.0.0.1 (must match the registered redirect URI)",
    ),
    ("tenant_id", False, "tenant id for a client-credentials login (service accounts)"),
)

# Server-wide variables (not per vendor), with the module that reads each.
SERVER_VARIABLES = (
    (
        "LEDGERMCP_MODE",
        "mode",
        False,
        "how tools are offered: auto, full, consolidated or discovery (--mode)",
    ),
    (
        "LEDGERMCP_MAX_TOOLS",
        "max_tools",
        False,
        "auto mode: list every tool up to this many, else start with discovery (--max-tools; default 40)",
    ),
    (
        "LEDGERMCP_DRY_RUN",
        "dry_run",
        False,
        "1: tools that write return their plan and send nothing (--dry-run)",
    ),
    (
        "LEDGERMCP_APPROVE",
        "approve",
        False,
        "destructive, writes or never: which tools need approval (--approve)",
    ),
    (
        "LEDGERMCP_SNAPSHOT_DIR",
        "snapshot_dir",
        False,
        "where the state before each write is kept (--snapshot-dir)",
    ),
    ("LEDGERMCP_NO_SNAPSHOT", "no_snapshot", False, "1: do not keep the state before writes (--no-snapshot)"),
    (
        "LEDGERMCP_SNAPSHOT_FAIL_OPEN",
        "snapshot_fail_open",
        False,
        "1: write even when the snapshot read fails (--snapshot-fail-open)",
    ),
    (
        "LEDGERMCP_AUDIT_LOG",
        "audit_log",
        False,
        "JSONL audit log of write attempts, '-' for none (--audit-log)",
    ),
    ("LEDGERMCP_PROFILE", "profile", False, "tenant profile whose stored tokens to use (--profile)"),
    (
        "LEDGERMCP_TOKEN_STORE",
        "token_store",
        False,
        "where OAuth tokens are stored: file (default), keyring or redis",
    ),
    (
        "LEDGERMCP_REDIS_LOCK_TTL",
        "redis_lock_ttl",
        False,
        "seconds a Redis token-refresh lock is held at most (default 30)",
    ),
    (
        "LEDGERMCP_DATA_DIR",
        "data_dir",
        False,
        "data folder: token files, snapshots, audit log, approval key (default: the user data directory)",
    ),
    (
        "LEDGERMCP_CACHE_DIR",
        "cache_dir",
        False,
        "cache folder: tool tables built from --spec descriptions, downloaded descriptions "
        "(default: the user cache directory)",
    ),
    (
        "LEDGERMCP_CONFIG_DIR",
        "config_dir",
        False,
        "config folder: the active-profile pointer (default: the user config directory)",
    ),
    (
        "LEDGERMCP_HTTP_TOKEN",
        "http_token",
        True,
        "--transport http: bearer token every request must carry (required off loopback)",
    ),
    (
        "LEDGERMCP_HTTP_ALLOWED_ORIGINS",
        "http_allowed_origins",
        False,
        "--transport http: browser origins allowed besides loopback (--allow-origin)",
    ),
    (
        "LEDGERMCP_SANDBOX_JOURNAL",
        "sandbox_journal",
        False,
        "--sandbox: append each simulated request to this JSONL file",
    ),
)


# Credentials that parameters of the tool table take (`VENDOR["bound"]`, server/bound.py).
BOUND_KINDS = {
    "api_key": (True, "API key sent in the parameters the description declares for it"),
    "access_token": (True, "access token sent in the parameters the description declares for it"),
    "password": (True, "password sent in the parameters the description declares for it (e.g. X-API-PASSWORD)"),
    "api_secret": (True, "API secret sent in the parameters the description declares for it (e.g. X-API-SECRET)"),
}  # fmt: skip


def _bound_rows(info: Mapping[str, Any], listed: set[str]) -> list[dict[str, Any]]:
    """Variables that bound parameters read: their credential kinds and the tenant."""
    bound = info.get("bound") or {}
    rows = []
    for kind in bound.get("credentials") or []:
        if kind in listed or kind not in BOUND_KINDS:
            continue
        secret, purpose = BOUND_KINDS[kind]
        primary, *aliases = env_names(info, kind)
        rows.append(_row(primary, kind, secret, purpose))
        rows += [_row(alias, kind, secret, purpose, primary) for alias in aliases]
    if bound.get("tenant_header"):
        primary, *aliases = env_names(info, "tenant_id")
        purpose = (
            f"tenant sent as the {bound['tenant_header']!r} header on every request "
            "(default: the tenant the profile's login stored)"
        )
        rows.append(_row(primary, "tenant_id", False, purpose))
        rows += [_row(alias, "tenant_id", False, purpose, primary) for alias in aliases]
    return rows


def _oauth_rows(info: Mapping[str, Any], listed: set[str] | None = None) -> list[dict[str, Any]]:
    """The OAuth2 variables, for vendors with an OAuth2 token endpoint; kinds already listed are
    not repeated."""
    from ledgermcp.server.oauth.config import is_oauth_vendor

    if not is_oauth_vendor(info):
        return []
    listed = set(listed) if listed is not None else {var.kind for var in accepted_env_vars(info)}
    rows = []
    for kind, secret, purpose in OAUTH_KINDS:
        if kind in listed:
            continue
        primary, *aliases = env_names(info, kind)
        rows.append(_row(primary, kind, secret, purpose))
        rows += [_row(alias, kind, secret, purpose, primary) for alias in aliases]
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
    tenant = env_value(info, "tenant_id", env)
    return VendorSettings(str(info["name"]), base_url.rstrip("/"), credentials, tenant)
