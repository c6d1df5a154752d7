"""Parameters the server fills itself: credentials and the tenant, never tool arguments.

Descriptions often declare what the HTTP stack sends on every request as parameters of each
operation: Invoice Ninja's `X-API-TOKEN` header (its API key, on 302 operations), Xero's
`xero-tenant-id` (which organisation a call acts on, on every operation). Taken as they are,
they become required arguments: a secret the model would have to know and send, a tenant it could
pick at will. This module decides, once, which parameters are *bound*:

- **credential**: a header, query or cookie parameter that carries a secret. It is one when it is
  the parameter of one of the description's security schemes (an `apiKey` scheme's name and
  location; `Authorization` for an HTTP or OAuth2 scheme), or when its name says so (api key,
  token, authorization, secret, password; pagination and idempotency tokens are not secrets).
  Its `credential` is the configured value it takes (`api_key`, `access_token`, `password`,
  `api_secret`: `LEDGERMCP_<VENDOR>_<KIND>`). It is never listed as an argument.
- **tenant**: a header that names the tenant, organisation or account a call acts on: the
  overlay's `[vendor] tenant_header`, or a header named like `*-tenant-id`, `x-account-id`,
  `*-organisation-id`, `*-company-id`. Its value comes from `LEDGERMCP_<VENDOR>_TENANT_ID` (or
  the profile's stored tenant). It is not a required argument; with the overlay's
  `tenant_override = true` (a vendor whose login reaches several tenants) it stays an optional
  argument that overrides the configured tenant for one call.

The decision is recorded in the tool table (`binding.params[].bound`, `.credential`, and the
vendor's `bound` summary); the runtime (server/bound.py) reads it and derives nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CREDENTIAL = "credential"
TENANT = "tenant"

_SECRET_WORDS = ("apikey", "apitoken", "accesstoken", "authtoken", "token", "authorization",
                 "apisecret", "secret", "password", "passwd")  # fmt: skip
_NOT_SECRET = ("idempotency", "page", "next", "continuation", "cursor", "sync", "csrf", "xsrf",
               "captcha", "requestid", "tokentype", "nonce")  # fmt: skip
_QUERY_SECRETS = ("apikey", "apitoken", "accesstoken", "authtoken", "token", "apisecret")
_TENANT_WORDS = ("tenantid", "accountid", "organizationid", "organisationid", "companyid")


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _kind_by_name(plain: str) -> str:
    if "password" in plain or "passwd" in plain:
        return "password"
    if "secret" in plain:
        return "api_secret"
    if plain in ("authorization", "proxyauthorization"):
        return "access_token"
    return "api_key"


@dataclass(frozen=True)
class BoundRules:
    """What decides, for one vendor: its security schemes and the overlay's tenant settings."""

    schemes: Mapping[str, Any]
    tenant_header: str | None = None
    tenant_override: bool = False

    @classmethod
    def of(cls, spec: Mapping[str, Any], settings: Mapping[str, Any]) -> BoundRules:
        schemes = (spec.get("components") or {}).get("securitySchemes") or {}
        header = settings.get("tenant_header")
        return cls(
            schemes={k: v for k, v in schemes.items() if isinstance(v, dict)},
            tenant_header=str(header) if header else None,
            tenant_override=bool(settings.get("tenant_override", False)),
        )

    def scheme_credential(self, name: str, location: str) -> str | None:
        """The credential kind of the security scheme this parameter is, if it is one."""
        for scheme in self.schemes.values():
            kind = scheme.get("type")
            if kind == "apiKey" and scheme.get("in") == location:
                declared = str(scheme.get("name") or "")
                same = declared.lower() == name.lower() if location == "header" else declared == name
                if same:
                    return "api_key"
            if location == "header" and name.lower() == "authorization":
                if kind in ("oauth2", "openIdConnect") or (
                    kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
                ):
                    return "access_token"
                if kind == "http":  # basic and other HTTP schemes: the auth layer writes the header
                    return "authorization"
        return None

    def decide(self, name: str, location: str) -> tuple[str, str | None] | None:
        """(bound, credential kind) for a parameter the server fills, else None."""
        if location not in ("header", "query", "cookie"):
            return None
        by_scheme = self.scheme_credential(name, location)
        if by_scheme:
            return CREDENTIAL, by_scheme
        plain = _plain(name)
        if location == "header" and (
            (self.tenant_header and name.lower() == self.tenant_header.lower())
            or any(plain.endswith(w) for w in _TENANT_WORDS)
        ):
            return TENANT, None
        if any(w in plain for w in _NOT_SECRET):
            return None
        if location == "query":
            return (CREDENTIAL, _kind_by_name(plain)) if plain in _QUERY_SECRETS else None
        if any(w in plain for w in _SECRET_WORDS):
            return CREDENTIAL, _kind_by_name(plain)
        return None


def vendor_summary(tools: list[Any], rules: BoundRules) -> dict[str, Any] | None:
    """The vendor table's `bound`: which credential kinds the tools' parameters take, the tenant
    header and whether a call may override it; None when no parameter is bound."""
    kinds: list[str] = []
    tenant: str | None = None
    for tool in tools:
        for param in tool.binding.params:
            if param.bound == CREDENTIAL and param.credential not in kinds:
                kinds.append(param.credential)
            elif param.bound == TENANT and tenant is None:
                tenant = param.name
    if not kinds and tenant is None:
        return None
    out: dict[str, Any] = {"credentials": sorted(kinds)}
    if tenant is not None:
        out["tenant_header"] = tenant
        out["tenant_override"] = rules.tenant_override
    return out
