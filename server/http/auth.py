"""Authentication from a vendor's security schemes plus the environment, as `httpx.Auth` flows.

`auth_from_vendor` picks the first scheme the environment can satisfy, in this order:

1. an access token (`_ACCESS_TOKEN`) for an HTTP bearer, OAuth2 or OpenID Connect scheme;
2. client id and secret (`_CLIENT_ID`, `_CLIENT_SECRET`) for an OAuth2 client-credentials flow;
3. an API key (`_API_KEY`) for an `apiKey` scheme (header, query or cookie);
4. user name and password (`_USERNAME`, `_PASSWORD`) for HTTP basic.

Refresh-token rotation is not done here: a client builder accepts any `httpx.Auth`, so an
OAuth2 flow with rotation is passed in from outside. Every credential read is registered with
`redact`, and no `repr` here shows one.

The overlay (`VENDOR["auth"]`) may set `token_url`, `scopes` (list), `token_request` ("form", the
OAuth2 default, or "json") and `client_auth` ("body" or "basic") for the client-credentials flow.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from ledgermcp.server.http.env import env_names, env_value
from ledgermcp.server.http.errors import TokenRequestError
from ledgermcp.server.http.redact import install_log_redaction, register_secrets

logger = logging.getLogger("ledgermcp.http.auth")

SECRET_KINDS = ("api_key", "access_token", "client_secret", "password")


# ---------------------------------------------------------------------------- simple schemes


class ApiKeyAuth(httpx.Auth):
    """Sends a fixed key in a header, a query parameter or a cookie."""

    def __init__(self, name: str, value: str, *, location: str = "header") -> None:
        if location not in ("header", "query", "cookie"):
            raise ValueError(f"unsupported apiKey location {location!r}")
        self.name = name
        self.location = location
        self._value = value
        register_secrets([value])

    def __repr__(self) -> str:
        return f"ApiKeyAuth(name={self.name!r}, location={self.location!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.location == "header":
            request.headers[self.name] = self._value
        elif self.location == "query":
            request.url = request.url.copy_merge_params({self.name: self._value})
        else:
            cookie = f"{self.name}={self._value}"
            existing = request.headers.get("Cookie")
            request.headers["Cookie"] = f"{existing}; {cookie}" if existing else cookie
        yield request


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>` with a fixed token."""

    def __init__(self, token: str) -> None:
        self._token = token
        register_secrets([token])

    def __repr__(self) -> str:
        return "BearerAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class BasicAuth(httpx.Auth):
    """HTTP basic; unlike `httpx.BasicAuth` it registers the password for redaction."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        raw = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")
        register_secrets([password, self._header[len("Basic ") :]])

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


# ---------------------------------------------------------------------------- client credentials


@dataclass
class _Token:
    value: str
    refresh_at: float | None  # monotonic time after which we fetch a new one; None: until a 401


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client-credentials grant; the token is cached until shortly before it expires.

    Concurrent requests that find no valid token wait on one lock, and only the first fetches
    one: twenty calls racing at start-up cause one token request. The token request is yielded
    from the auth flow, so it travels through the client's own transport stack. A 401 on a
    cached token drops it, fetches a new one and sends the request once more.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: Sequence[str] = (),
        token_body: str = "form",
        client_auth: str = "body",
        leeway: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if token_body not in ("form", "json"):
            raise ValueError("token_body must be 'form' or 'json'")
        if client_auth not in ("body", "basic"):
            raise ValueError("client_auth must be 'body' or 'basic'")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = tuple(scopes)
        self.token_body = token_body
        self.client_auth = client_auth
        self.leeway = leeway
        self._clock = clock
        self._token: _Token | None = None
        self._sync_lock = threading.Lock()
        self._async_lock = anyio.Lock()
        register_secrets([client_secret])

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_url={self.token_url!r}, client_id={self.client_id!r})"

    # -- token cache

    def _valid(self) -> str | None:
        token = self._token
        if token is None:
            return None
        if token.refresh_at is not None and self._clock() >= token.refresh_at:
            return None
        return token.value

    def _drop(self, value: str) -> None:
        if self._token is not None and self._token.value == value:
            self._token = None

    def _token_request(self) -> httpx.Request:
        fields: dict[str, str] = {"grant_type": "client_credentials"}
        if self.scopes:
            fields["scope"] = " ".join(self.scopes)
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            raw = f"{self.client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
            register_secrets([headers["Authorization"][len("Basic ") :]])
        else:
            fields["client_id"] = self.client_id
            fields["client_secret"] = self._client_secret
        if self.token_body == "json":
            return httpx.Request("POST", self.token_url, json=fields, headers=headers)
        return httpx.Request("POST", self.token_url, data=fields, headers=headers)

    def _store(self, response: httpx.Response) -> str:
        where = f"{response.request.url.host}{response.request.url.path}"
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            reason = ""
            if isinstance(payload, dict) and isinstance(payload.get("error"), str):
                reason = f" ({payload['error']})"
            raise TokenRequestError(
                f"token request to {where} failed: HTTP {response.status_code}{reason}",
                hint="Check the client id and secret (and their scopes) for this vendor.",
            )
        value = payload.get("access_token")
        if not isinstance(value, str) or not value:
            raise TokenRequestError(f"token response from {where} has no access_token")
        register_secrets([value])
        refresh_at: float | None = None
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, int | float) or (isinstance(expires_in, str) and expires_in.isdigit()):
            lifetime = float(expires_in)
            refresh_at = self._clock() + lifetime - min(self.leeway, lifetime / 10)
        self._token = _Token(value, refresh_at)
        logger.debug("fetched an access token from %s", where)
        return value

    # -- flows

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token, fresh = self._valid(), False
        if token is None:
            with self._sync_lock:
                token = self._valid()
                if token is None:
                    response = yield self._token_request()
                    response.read()
                    token, fresh = self._store(response), True
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401 or fresh or not isinstance(request.stream, httpx.ByteStream):
            return
        with self._sync_lock:
            self._drop(token)
            token = self._valid()
            if token is None:
                token_response = yield self._token_request()
                token_response.read()
                token = self._store(token_response)
        response.close()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token, fresh = self._valid(), False
        if token is None:
            async with self._async_lock:
                token = self._valid()
                if token is None:
                    response = yield self._token_request()
                    await response.aread()
                    token, fresh = self._store(response), True
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401 or fresh or not isinstance(request.stream, httpx.ByteStream):
            return
        async with self._async_lock:
            self._drop(token)
            token = self._valid()
            if token is None:
                token_response = yield self._token_request()
                await token_response.aread()
                token = self._store(token_response)
        await response.aclose()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


# ---------------------------------------------------------------------------- from the vendor


@dataclass(frozen=True)
class EnvVar:
    """A variable a vendor accepts (for `ledgermcp tools --env` and error hints)."""

    name: str
    kind: str
    secret: bool
    description: str
    aliases: tuple[str, ...] = ()


def _schemes(vendor_info: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in (vendor_info.get("security_schemes") or {}).items() if isinstance(v, dict)]


def _is_bearer_like(scheme: Mapping[str, Any]) -> bool:
    kind = scheme.get("type")
    if kind == "http":
        return str(scheme.get("scheme", "")).lower() == "bearer"
    return kind in ("oauth2", "openIdConnect")


def _client_credentials_flow(scheme: Mapping[str, Any]) -> dict[str, Any] | None:
    if scheme.get("type") != "oauth2":
        return None
    flow = (scheme.get("flows") or {}).get("clientCredentials")
    return flow if isinstance(flow, dict) else None


def _is_basic(scheme: Mapping[str, Any]) -> bool:
    return scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "basic"


_DESCRIPTIONS = {
    "access_token": "access token sent as 'Authorization: Bearer'",
    "client_id": "OAuth2 client id (client-credentials grant)",
    "client_secret": "OAuth2 client secret (client-credentials grant)",
    "scopes": "space-separated OAuth2 scopes to request (default: all the flow declares)",
    "username": "HTTP basic user name",
    "password": "HTTP basic password",
    "base_url": "vendor API base URL (default: {base_url})",
    "timeout_ms": "request timeout in milliseconds (default: 30000)",
}


def accepted_env_vars(vendor_info: Mapping[str, Any]) -> list[EnvVar]:
    """The variables this vendor's HTTP stack reads, credentials first."""
    kinds: dict[str, str] = {}
    for _, scheme in _schemes(vendor_info):
        if _is_bearer_like(scheme):
            kinds.setdefault("access_token", _DESCRIPTIONS["access_token"])
        if _client_credentials_flow(scheme) is not None:
            for kind in ("client_id", "client_secret", "scopes"):
                kinds.setdefault(kind, _DESCRIPTIONS[kind])
        if scheme.get("type") == "apiKey":
            where = f"{scheme.get('in', 'header')} {scheme.get('name', '')!r}"
            kinds.setdefault("api_key", f"API key sent as {where}")
        if _is_basic(scheme):
            kinds.setdefault("username", _DESCRIPTIONS["username"])
            kinds.setdefault("password", _DESCRIPTIONS["password"])
    kinds["base_url"] = _DESCRIPTIONS["base_url"].format(
        base_url=vendor_info.get("base_url", "from the spec")
    )
    kinds["timeout_ms"] = _DESCRIPTIONS["timeout_ms"]
    result = []
    for kind, description in kinds.items():
        primary, *aliases = env_names(vendor_info, kind)
        result.append(EnvVar(primary, kind, kind in SECRET_KINDS, description, tuple(aliases)))
    return result


def auth_from_vendor(
    vendor_info: Mapping[str, Any],
    *,
    env: Mapping[str, str] = os.environ,
    clock: Callable[[], float] = time.monotonic,
) -> httpx.Auth | None:
    """The `httpx.Auth` for the first scheme the environment satisfies, or None."""
    install_log_redaction()
    schemes = _schemes(vendor_info)
    overlay: Mapping[str, Any] = vendor_info.get("auth") or {}

    def get(kind: str) -> str | None:
        value = env_value(vendor_info, kind, env)
        if value is not None and kind in SECRET_KINDS:
            register_secrets([value])
        return value

    # read every credential first so that all of them are masked, whichever is used
    creds = {
        kind: get(kind)
        for kind in ("access_token", "client_id", "client_secret", "api_key", "username", "password")
    }

    if creds["access_token"] and any(_is_bearer_like(s) for _, s in schemes):
        return BearerAuth(creds["access_token"])

    if creds["client_id"] and creds["client_secret"]:
        for _, scheme in schemes:
            flow = _client_credentials_flow(scheme)
            if flow is None:
                continue
            token_url = overlay.get("token_url") or flow.get("tokenUrl")
            if not token_url:
                continue
            scopes_env = get("scopes")
            if scopes_env is not None:
                scopes: Sequence[str] = scopes_env.replace(",", " ").split()
            elif overlay.get("scopes") is not None:
                scopes = list(overlay["scopes"])
            else:
                scopes = list((flow.get("scopes") or {}).keys())
            return ClientCredentialsAuth(
                str(token_url),
                creds["client_id"],
                creds["client_secret"],
                scopes=scopes,
                token_body=str(overlay.get("token_request", "form")),
                client_auth=str(overlay.get("client_auth", "body")),
                clock=clock,
            )

    if creds["api_key"]:
        for _, scheme in schemes:
            if scheme.get("type") == "apiKey" and scheme.get("name"):
                return ApiKeyAuth(
                    str(scheme["name"]), creds["api_key"], location=str(scheme.get("in", "header"))
                )

    if creds["username"] and creds["password"] and any(_is_basic(s) for _, s in schemes):
        return BasicAuth(creds["username"], creds["password"])

    return None
