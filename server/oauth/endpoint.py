"""Talking to a vendor's token endpoint: build the request for a grant, read the answer.

Fortnox wants form bodies with HTTP basic client authentication; smallinvoice wants a JSON body
carrying client_id and client_secret. `OAuthSettings.token_request` and `.client_auth` say which.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ledgermcp.server.oauth.config import OAuthSettings
from ledgermcp.server.oauth.tokens import parse_scope

REJECTED_GRANT_ERRORS = {"invalid_grant", "invalid_token", "expired_token"}


def redact(text: str, secrets: list[str | None]) -> str:
    """Replace every occurrence of a secret (4+ characters) by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def build_token_request(
    settings: OAuthSettings,
    grant: dict[str, str],
    *,
    client_id: str | None,
    client_secret: str | None,
    tenant_id: str | None = None,
) -> httpx.Request:
    headers = {"Accept": "application/json"}
    body = dict(grant)
    if settings.client_auth == "basic" and client_id:
        pair = f"{quote(client_id, safe='')}:{quote(client_secret or '', safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        if client_id:
            body["client_id"] = client_id
        if client_secret:
            body["client_secret"] = client_secret
    if tenant_id and settings.tenant_header:
        headers[settings.tenant_header] = tenant_id
    if settings.token_request == "json":
        return httpx.Request("POST", settings.token_url, headers=headers, json=body)
    return httpx.Request("POST", settings.token_url, headers=headers, data=body)


@dataclass(frozen=True)
class TokenAnswer:
    """What the token endpoint said. `tokens` is set on success; otherwise `error` (the OAuth
    error code, or `http_<status>`), `description` (already redacted) and `rejected` (the grant
    itself was refused: the refresh token or code is dead)."""

    status: int
    tokens: dict[str, Any] | None = None
    error: str | None = None
    description: str | None = None
    rejected: bool = False
    bad_client: bool = False


def read_token_response(
    response: httpx.Response, secrets: list[str | None], now: float | None = None
) -> TokenAnswer:
    now = time.time() if now is None else now
    try:
        data = response.json()
    except (ValueError, json.JSONDecodeError):
        data = None
    if response.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
        expires_in = data.get("expires_in")
        try:
            expires_at = now + float(expires_in) if expires_in is not None else None
        except (TypeError, ValueError):
            expires_at = None
        return TokenAnswer(
            status=200,
            tokens={
                "access_token": str(data["access_token"]),
                "refresh_token": str(data["refresh_token"]) if data.get("refresh_token") else None,
                "token_type": str(data.get("token_type") or "Bearer"),
                "expires_at": expires_at,
                "obtained_at": now,
                "scope": parse_scope(data.get("scope")),
            },
        )
    error = description = None
    if isinstance(data, dict):
        error = data.get("error")
        description = data.get("error_description") or data.get("message")
        if isinstance(error, dict):  # some APIs nest it
            description = description or error.get("message")
            error = error.get("code")
    error = str(error) if error else f"http_{response.status_code}"
    if description is not None:
        description = redact(str(description), secrets)[:200]
    bad_client = error == "invalid_client"
    rejected = not bad_client and (
        error in REJECTED_GRANT_ERRORS or (response.status_code in (400, 401) and error.startswith("http_"))
    )
    return TokenAnswer(
        status=response.status_code,
        error=error,
        description=description,
        rejected=rejected,
        bad_client=bad_client,
    )
