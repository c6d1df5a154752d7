"""`ledgermcp login`: get a first token pair and store it.

Authorization code with PKCE (S256) and a fresh `state` per run; the browser is sent to the
vendor's authorize URL and comes back to a one-shot HTTP listener on 127.0.0.1 (the port must match
the redirect URI registered with the vendor). A callback whose `state` differs from this run's is
refused and nothing is exchanged. Also the client-credentials flows (Fortnox service accounts with
a tenant id header, smallinvoice API clients).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx

from ledgermcp.server.oauth.config import OAuthSettings
from ledgermcp.server.oauth.endpoint import build_token_request, read_token_response
from ledgermcp.server.oauth.errors import LoginError
from ledgermcp.server.oauth.stores import TokenStore
from ledgermcp.server.oauth.tokens import TokenRecord, fingerprint

CALLBACK_PATH = "/callback"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


class _Callback(HTTPServer):
    allow_reuse_address = True

    def __init__(self, port: int, state: str) -> None:
        self.expected_state = state
        self.results: queue.Queue[dict[str, str]] = queue.Queue()
        super().__init__(("127.0.0.1", port), _CallbackHandler)


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _Callback

    def log_message(self, *args: Any) -> None:  # never log the query string (it holds the code)
        pass

    def _page(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>ledgermcp</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != CALLBACK_PATH:
            self._page(404, "Not found.")
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if not secrets.compare_digest(query.get("state", ""), self.server.expected_state):
            self._page(400, "Login refused: the state parameter does not match this login. Start again.")
            self.server.results.put({"outcome": "bad_state"})
        elif "error" in query:
            self._page(400, "The vendor refused the authorization. You can close this window.")
            self.server.results.put({"outcome": "error", "error": query["error"][:100]})
        elif not query.get("code"):
            self._page(400, "No authorization code in the callback.")
            self.server.results.put({"outcome": "error", "error": "no_code"})
        else:
            self._page(200, "Logged in. You can close this window and return to the terminal.")
            self.server.results.put({"outcome": "code", "code": query["code"]})


def _client_pair(settings: OAuthSettings) -> tuple[str, str]:
    if not settings.client_id or not settings.client_secret:
        raise LoginError(
            f"no OAuth client id/secret for {settings.vendor}",
            hint=f"set {settings.env_prefix}_CLIENT_ID and {settings.env_prefix}_CLIENT_SECRET (from the app you "
            "registered with the vendor)",
        )
    return settings.client_id, settings.client_secret


def _exchange(
    settings: OAuthSettings, grant: dict[str, str], http: httpx.Client, tenant_id: str | None
) -> dict[str, Any]:
    client_id, client_secret = _client_pair(settings)
    request = build_token_request(
        settings, grant, client_id=client_id, client_secret=client_secret, tenant_id=tenant_id
    )
    try:
        response = http.send(request)
    except httpx.HTTPError as exc:
        raise LoginError(
            f"cannot reach the token endpoint {settings.token_url}: {type(exc).__name__}"
        ) from None
    answer = read_token_response(response, [client_secret, grant.get("code"), grant.get("code_verifier")])
    if answer.tokens is None:
        detail = answer.error + (f": {answer.description}" if answer.description else "")
        raise LoginError(
            settings.tag(f"the {settings.vendor} token endpoint refused the login ({detail})"),
            hint="check the client id/secret and the redirect URI registered with the vendor",
        )
    return answer.tokens


def store_login(
    settings: OAuthSettings, store: TokenStore, record: TokenRecord, env: Any = None
) -> TokenRecord:
    """Write a fresh record, replacing whatever was there (under the rotation lock)."""
    from ledgermcp.server.oauth.profiles import remember

    with store.locked(settings.store_key) as lease:
        current = store.load(settings.store_key)
        saved = store.save(
            settings.store_key, record.evolve(generation=current.generation if current else 0), lease
        )
    with contextlib.suppress(OSError):  # the index only helps `profile list`
        remember(settings.vendor, settings.profile, env)
    return saved


def login_authorization_code(
    settings: OAuthSettings,
    store: TokenStore,
    *,
    port: int | None = None,
    opener: Callable[[str], Any] | None = None,
    out: IO[str] | None = None,
    timeout: float = 300.0,
    scopes: list[str] | None = None,
    http: httpx.Client | None = None,
    env: Any = None,
) -> TokenRecord:
    """Run the browser flow and store the tokens. `opener(url)` sends the user there (the CLI passes
    `webbrowser.open`, or nothing with --no-browser); the URL is printed either way."""
    out = out or sys.stderr
    if not settings.authorize_url:
        raise LoginError(
            f"{settings.vendor} has no authorize URL", hint=f"set {settings.env_prefix}_AUTHORIZE_URL"
        )
    client_id, _ = _client_pair(settings)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    try:
        callback = _Callback(settings.redirect_port if port is None else port, state)
    except OSError as exc:
        raise LoginError(
            f"cannot listen on 127.0.0.1:{settings.redirect_port if port is None else port} ({exc.strerror})",
            hint="close whatever uses that port, or pass --port matching the redirect URI you registered",
        ) from None
    redirect_uri = f"http://127.0.0.1:{callback.server_address[1]}{CALLBACK_PATH}"
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    wanted = scopes if scopes is not None else list(settings.scopes)
    if wanted:
        query["scope"] = " ".join(wanted)
    for name, value in settings.authorize_params:
        query.setdefault(name, value)
    sep = "&" if "?" in settings.authorize_url else "?"
    url = settings.authorize_url + sep + urlencode(query)
    thread = threading.Thread(target=callback.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        print(
            settings.tag(f"Open this URL to authorise ledgermcp for {settings.vendor}:\n  {url}"),
            file=out,
            flush=True,
        )
        print(f"Waiting for the redirect to {redirect_uri} ...", file=out, flush=True)
        if opener is not None:
            opener(url)
        try:
            result = callback.results.get(timeout=timeout)
        except queue.Empty:
            raise LoginError(
                f"no redirect to {redirect_uri} within {timeout:.0f}s", hint="run the login again"
            ) from None
    finally:
        callback.shutdown()
        callback.server_close()
    if result["outcome"] == "bad_state":
        raise LoginError(
            "login refused: the callback's state does not match this login (a forged or stale redirect)",
            hint="start the login again from this terminal",
        )
    if result["outcome"] != "code":
        raise LoginError(
            f"the vendor refused the authorization ({result.get('error')})", hint="run the login again"
        )
    grant = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    owns = http is None
    http = http or httpx.Client(timeout=30)
    try:
        tokens = _exchange(settings, grant, http, None)
    finally:
        if owns:
            http.close()
    record = TokenRecord(
        **tokens,
        origin="authorization_code",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        env_seed=fingerprint(settings.env_refresh_token),
    )
    return store_login(settings, store, record, env)


def login_client_credentials(
    settings: OAuthSettings,
    store: TokenStore,
    *,
    tenant_id: str | None = None,
    scopes: list[str] | None = None,
    http: httpx.Client | None = None,
    env: Any = None,
) -> TokenRecord:
    """Service-account / API-client login: no browser, no refresh token; the runtime asks for a new
    access token with the same grant when the old one expires."""
    tenant_id = tenant_id or settings.tenant_id
    if settings.tenant_header and settings.vendor == "fortnox" and not tenant_id:
        raise LoginError(
            "Fortnox service accounts need the tenant id",
            hint=f"pass --tenant-id or set {settings.env_prefix}_TENANT_ID",
        )
    grant = {"grant_type": "client_credentials"}
    wanted = scopes if scopes is not None else list(settings.scopes)
    if wanted and settings.token_request == "json":
        grant["scope"] = " ".join(wanted)
    owns = http is None
    http = http or httpx.Client(timeout=30)
    try:
        tokens = _exchange(settings, grant, http, tenant_id)
    finally:
        if owns:
            http.close()
    tokens["refresh_token"] = None
    record = TokenRecord(
        **tokens,
        origin="client_credentials",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        tenant_id=tenant_id,
        env_seed=fingerprint(settings.env_refresh_token),
    )
    return store_login(settings, store, record, env)
