"""Resolve one vendor's OAuth settings from its `VENDOR` dict and the environment.

Precedence for every URL: environment (`LEDGERMCP_<VENDOR>_TOKEN_URL`, `_AUTHORIZE_URL`) >
`VENDOR["auth"]` (the overlay) > facts known for the vendor > the spec's `securitySchemes`.

Keys read from `VENDOR["auth"]` (all optional): `token_url`, `authorize_url`,
`rotating_refresh_token`, `token_request` ("form" | "json"), `client_auth` ("basic" | "body"),
`tenant_header`, `redirect_port`, `scopes` (requested at login; default: every scope the tools
need, else the spec's), `authorize_params` (extra query parameters for the authorize URL),
`access_token_lifetime_seconds` (when token answers carry no expires_in), `probe_path` (a cheap
GET for `doctor`), `refresh_margin` (seconds before expiry to refresh).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

# Facts about vendors' token endpoints that their published descriptions get wrong or leave out.
KNOWN_AUTH: dict[str, dict[str, Any]] = {
    "fortnox": {
        "authorize_url": "https://apps.fortnox.se/oauth-v1/auth",
        "token_url": "https://apps.fortnox.se/oauth-v1/token",
        "token_request": "form",
        "client_auth": "basic",
        "rotating_refresh_token": True,
        "tenant_header": "TenantId",
        "redirect_port": 9876,
        "probe_path": "/3/companyinformation",
    },
    "smallinvoice": {
        "authorize_url": "https://api.smallinvoice.com/v2/auth/authorize",
        "token_url": "https://api.smallinvoice.com/v2/auth/access-tokens",
        "token_request": "json",
        "client_auth": "body",
        "rotating_refresh_token": True,
        "redirect_port": 8765,
    },
}

DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class OAuthSettings:
    vendor: str
    profile: str
    env_prefix: str
    token_url: str
    authorize_url: str | None = None
    base_url: str | None = None
    token_request: str = "form"  # "form" (application/x-www-form-urlencoded) or "json"
    client_auth: str = "basic"  # "basic" (HTTP basic) or "body" (client_id/secret in the body)
    rotating: bool = True
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    env_refresh_token: str | None = field(default=None, repr=False)
    env_access_token: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    tenant_header: str | None = None
    redirect_port: int = 8765
    probe_path: str | None = None
    refresh_margin: float = 60.0
    authorize_params: tuple[tuple[str, str], ...] = ()
    access_lifetime: float | None = None

    @property
    def store_key(self) -> str:
        return f"{self.vendor}/{self.profile}"

    @property
    def login_command(self) -> str:
        cmd = f"ledgermcp login {self.vendor}"
        if self.profile != DEFAULT_PROFILE:
            cmd += f" --profile {self.profile}"
        return cmd

    def tag(self, message: str) -> str:
        """Prefix a message with the profile when it is not the default one."""
        if self.profile != DEFAULT_PROFILE:
            return f"[profile: {self.profile}] {message}"
        return message

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.env_refresh_token, self.env_access_token) if s]


def _env(env: Mapping[str, str], names: list[str]) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _spec_flows(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    for scheme in (info.get("security_schemes") or {}).values():
        if isinstance(scheme, dict) and scheme.get("type") == "oauth2":
            for name in ("authorizationCode", "clientCredentials", "password", "implicit"):
                flow = (scheme.get("flows") or {}).get(name)
                if isinstance(flow, dict):
                    flows.append(flow)
    return flows


def is_oauth_vendor(info: Mapping[str, Any]) -> bool:
    auth = info.get("auth") or {}
    return bool(auth.get("token_url") or _spec_flows(info) or info.get("name") in KNOWN_AUTH)


def settings_from_vendor(
    info: Mapping[str, Any],
    profile: str = DEFAULT_PROFILE,
    env: Mapping[str, str] | None = None,
    tools: list[Mapping[str, Any]] | None = None,
) -> OAuthSettings:
    """Build the settings; raises `ValueError` when no token URL can be found."""
    env = os.environ if env is None else env
    name = str(info["name"])
    prefix = str(info.get("env_prefix") or f"LEDGERMCP_{name.upper()}")
    overlay: dict[str, Any] = dict(KNOWN_AUTH.get(name, {}))
    overlay.update({k: v for k, v in (info.get("auth") or {}).items() if v is not None})
    aliases: Mapping[str, list[str]] = info.get("env_aliases") or {}
    flows = _spec_flows(info)

    def var(key: str) -> str | None:
        return _env(env, [f"{prefix}_{key.upper()}", *aliases.get(key, [])])

    base_url = var("base_url") or info.get("base_url")

    def url(value: str | None) -> str | None:
        if value and base_url and not value.startswith(("http://", "https://")):
            return urljoin(base_url, value)
        return value

    token_url = var("token_url") or overlay.get("token_url")
    authorize_url = var("authorize_url") or overlay.get("authorize_url")
    for flow in flows:
        token_url = token_url or flow.get("tokenUrl")
        authorize_url = authorize_url or flow.get("authorizationUrl")
    token_url = url(token_url)
    if not token_url:
        raise ValueError(f"vendor {name!r} declares no OAuth2 token URL; set {prefix}_TOKEN_URL")

    scopes = overlay.get("scopes")
    if scopes is None and tools:
        scopes = sorted({str(sc) for tool in tools for sc in tool.get("scopes") or []}) or None
    if scopes is None:
        scopes = []
        for flow in flows:
            scopes.extend(s for s in (flow.get("scopes") or {}) if s not in scopes)
    port = var("redirect_port") or overlay.get("redirect_port") or 8765
    return OAuthSettings(
        vendor=name,
        profile=profile,
        env_prefix=prefix,
        token_url=token_url,
        authorize_url=url(authorize_url),
        base_url=base_url,
        token_request=str(overlay.get("token_request") or "form"),
        client_auth=str(overlay.get("client_auth") or "basic"),
        rotating=bool(overlay.get("rotating_refresh_token", True)),
        scopes=tuple(scopes),
        client_id=var("client_id"),
        client_secret=var("client_secret"),
        env_refresh_token=var("refresh_token"),
        env_access_token=var("access_token"),
        tenant_id=var("tenant_id"),
        tenant_header=overlay.get("tenant_header"),
        redirect_port=int(port),
        probe_path=overlay.get("probe_path"),
        refresh_margin=float(overlay.get("refresh_margin", 60.0)),
        authorize_params=tuple((str(k), str(v)) for k, v in (overlay.get("authorize_params") or {}).items()),
        access_lifetime=(
            float(overlay["access_token_lifetime_seconds"])
            if overlay.get("access_token_lifetime_seconds")
            else None
        ),
    )
