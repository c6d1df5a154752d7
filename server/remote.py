"""`ledgermcp serve VENDOR --transport http`: the MCP server over stateless Streamable HTTP.

Each POST to `/mcp` is answered on its own with a JSON body (no sessions, no SSE), so replicas
behind a load balancer need no sticky sessions. `GET /healthz` answers 200 with the vendor, the mode
and the number of reachable operations (no auth, no secrets).

Guards, in order, on every HTTP request (`Guard`, a plain ASGI middleware):
- `Origin`: absent (non-browser clients) or a loopback origin or one listed in `--allow-origin` /
  `LEDGERMCP_HTTP_ALLOWED_ORIGINS`; anything else gets 403;
- `Authorization: Bearer <LEDGERMCP_HTTP_TOKEN>` when a token is configured (every path but
  `/healthz`); missing or wrong gets 401 (compared in constant time);
- anything but POST on `/mcp` gets 405 (`Allow: POST`): a stateless server opens no event stream for
  a GET, which would otherwise stay open, and has no session for a DELETE to end;
- `X-Upstream-Authorization` (per-request vendor credentials) only with
  `--allow-upstream-credentials`; otherwise 400, so a client never believes its credentials were
  used when the server's own were. When allowed, its value is sent as the vendor request's
  `Authorization` header for that call only, and never logged.
On a loopback bind the SDK's Host-header check (DNS rebinding) is on as well. A non-loopback bind
without `LEDGERMCP_HTTP_TOKEN` is refused before anything listens, and so is a token shorter than 32
characters. A forwarded credential is redacted from the call's result like the server's own.

Every tool call writes one JSON line on stderr (`ledgermcp.server.logs`).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

TOKEN_ENV = "LEDGERMCP_HTTP_TOKEN"
ORIGINS_ENV = "LEDGERMCP_HTTP_ALLOWED_ORIGINS"
UPSTREAM_HEADER = "x-upstream-authorization"
MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_CREDENTIAL_LENGTH = 8192
MIN_TOKEN_LENGTH = 32
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class BindRefused(Exception):
    """The address is not loopback and no token protects the endpoint."""


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RemoteOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)
    allow_upstream_credentials: bool = False
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        allow_upstream_credentials: bool = False,
        origins: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> RemoteOptions:
        env = os.environ if environ is None else environ
        token = (env.get(TOKEN_ENV) or "").strip() or None
        listed = [o.strip() for o in (env.get(ORIGINS_ENV) or "").split(",") if o.strip()]
        extra = [o.strip() for group in origins for o in group.split(",") if o.strip()]
        return cls(host, port, token, allow_upstream_credentials, tuple(dict.fromkeys(listed + extra)))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"


def check_bind(options: RemoteOptions) -> None:
    """Raise BindRefused (with the message to show) for a token too short to stand guessing, or a
    non-loopback bind without a token."""
    if options.token is not None and len(options.token) < MIN_TOKEN_LENGTH:
        raise BindRefused(
            f"{TOKEN_ENV} is {len(options.token)} characters long; a bearer token must have at least "
            f"{MIN_TOKEN_LENGTH} random characters to resist guessing. Make one with {MAKE_TOKEN} "
            "and give clients the same value."
        )
    if is_loopback(options.host) or options.token:
        return
    raise BindRefused(
        f"refusing to listen on {options.host}: it is not a loopback address, and the MCP endpoint "
        f"would be open to anyone who can reach it. Set {TOKEN_ENV} to a long random secret ({MAKE_TOKEN}; "
        "clients then send 'Authorization: Bearer <token>'), or bind 127.0.0.1 (the default)."
    )


# --- the guard ----------------------------------------------------------------------------


def _origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if is_loopback(parts.hostname):
        return True
    for pattern in allowed:  # "https://app.example:*" allows any port of that origin
        if (
            pattern.endswith(":*")
            and origin.startswith(pattern[:-1])
            and origin[len(pattern) - 1 :].isdigit()
        ):
            return True
    return False


async def _reply(send: Any, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Origin, bearer-token and upstream-credential checks in front of the ASGI app."""

    def __init__(self, app: Any, options: RemoteOptions) -> None:
        self.app = app
        self.options = options
        self._token = options.token.encode() if options.token else None

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode(), self._token)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope.get("headers") or ():
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        origin = headers.get("origin")
        if origin is not None and not _origin_allowed(origin, self.options.allowed_origins):
            await _reply(send, 403, "origin not allowed")
            return
        if scope.get("path") != HEALTH_PATH:
            if not self._authorized(headers.get("authorization")):
                await _reply(
                    send,
                    401,
                    "missing or invalid bearer token",
                    [(b"www-authenticate", b'Bearer realm="ledgermcp"')],
                )
                return
            forwarded = headers.get(UPSTREAM_HEADER)
            if forwarded is not None:
                if not self.options.allow_upstream_credentials:
                    await _reply(
                        send,
                        400,
                        "this server does not accept per-request upstream credentials "
                        "(start it with --allow-upstream-credentials)",
                    )
                    return
                if not forwarded.strip() or len(forwarded) > MAX_CREDENTIAL_LENGTH:
                    await _reply(send, 400, "the upstream credentials header is empty or too long")
                    return
            if scope.get("path") == MCP_PATH and scope.get("method") != "POST":
                # stateless: no stream to open (GET) and no session to end (DELETE)
                await _reply(
                    send,
                    405,
                    "this server is stateless: send each JSON-RPC message as a POST; it opens no "
                    "event stream and keeps no session",
                    [(b"allow", b"POST")],
                )
                return
        await self.app(scope, receive, send)


# --- per-request upstream credentials ------------------------------------------------------


class ForwardedAuth(httpx.Auth):
    """Sets the vendor request's `Authorization` to the value the MCP client sent."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "ForwardedAuth([redacted])"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._value
        yield request


def _forwarded_value(call: Any) -> str | None:
    request = getattr(call.context, "request", None)
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    value = headers.get(UPSTREAM_HEADER)
    return value.strip() if value and value.strip() else None


# --- the ASGI app -------------------------------------------------------------------------


def build_asgi(
    app: Any, options: RemoteOptions, *, sandbox: bool = False, log_stream: IO[str] | None = None
) -> Any:
    """The ASGI application serving `app` (a `ledgermcp.server.app.App`); closes it on shutdown."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ledgermcp import __version__
    from ledgermcp.server import logs
    from ledgermcp.server.calls import SECRETS_KEY

    forwarding = options.allow_upstream_credentials

    def auth_for(call: Any) -> httpx.Auth | None:
        value = _forwarded_value(call) if forwarding else None
        return ForwardedAuth(value) if value else None

    def on_call(call: Any) -> None:
        value = _forwarded_value(call) if forwarding else None
        if value:
            call.extras[logs.CREDENTIALS_KEY] = "forwarded"
            # redacted from this call's result like the server's own credentials: whole, and
            # without its scheme ("Bearer abc" and "abc"), as a vendor may echo either
            _, _, bare = value.partition(" ")
            call.extras[SECRETS_KEY] = [v for v in (value, bare.strip()) if v]

    logs.install(app.pipeline, stream=log_stream, auth_for=auth_for, on_call=on_call)

    if is_loopback(options.host):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"],
            allowed_origins=[
                f"{scheme}://{host}{port}"
                for scheme in ("http", "https")
                for host in ("127.0.0.1", "localhost", "[::1]")
                for port in ("", ":*")
            ]
            + list(options.allowed_origins),
        )
    else:  # Origin is checked by the Guard; the Host a proxy forwards is not known in advance
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    manager = StreamableHTTPSessionManager(
        app=app.server, json_response=True, stateless=True, security_settings=security
    )
    # operations, not tools: a mode decides how many tools list them (server/modes)
    operations = len(app.pipeline.allowed) if app.pipeline.allowed is not None else len(app.vendor.tools)
    health_body = {
        "status": "ok",
        "vendor": app.vendor.name,
        "mode": app.surface.mode if app.surface is not None else "full",
        "operations": operations,
        "version": __version__,
        "sandbox": sandbox,
        "transport": "streamable-http",
        "stateless": True,
    }

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(health_body, headers={"Cache-Control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with manager.run():
            try:
                yield
            finally:
                await app.aclose()

    starlette = Starlette(
        routes=[
            Route(MCP_PATH, endpoint=StreamableHTTPASGIApp(manager)),
            Route(HEALTH_PATH, endpoint=health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return Guard(starlette, options)


def serve_http(app: Any, options: RemoteOptions, *, sandbox: bool = False) -> int:
    """Run uvicorn until interrupted (blocking)."""
    import uvicorn

    asgi = build_asgi(app, options, sandbox=sandbox)
    config = uvicorn.Config(
        asgi,
        host=options.host,
        port=options.port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    notes = [("token required" if options.token else "no token: loopback only")]
    if options.allow_upstream_credentials:
        notes.append("per-request upstream credentials allowed")
    print(
        f"ledgermcp: serving {app.vendor.name} over Streamable HTTP at {options.url} "
        f"(stateless, JSON responses; {'; '.join(notes)}); health at {HEALTH_PATH}",
        file=sys.stderr,
        flush=True,
    )
    server.run()
    return 0 if server.started else 1


def apply_timeout(info: Mapping[str, Any], seconds: float | None, environ: Any = None) -> None:
    """`--timeout SECONDS` as `LEDGERMCP_<VENDOR>_TIMEOUT_MS` in the process environment (the flag
    wins over the variable); the vendor HTTP stack reads it when it builds the client."""
    from ledgermcp.server.http.env import env_names

    if seconds is not None:
        env = os.environ if environ is None else environ
        env[env_names(info, "timeout_ms")[0]] = str(max(1, round(seconds * 1000)))


def prepare_http(args: Any, stream: IO[str] | None = None) -> RemoteOptions | None:
    """Options for `serve --transport http` from the parsed flags and the environment; None (after
    saying why on stderr) when the bind must be refused."""
    options = RemoteOptions.from_env(
        host=getattr(args, "host", DEFAULT_HOST),
        port=getattr(args, "port", DEFAULT_PORT),
        allow_upstream_credentials=bool(getattr(args, "allow_upstream_credentials", False)),
        origins=getattr(args, "allow_origin", None) or (),
    )
    try:
        check_bind(options)
    except BindRefused as exc:
        print(f"ledgermcp: {exc}", file=stream or sys.stderr)
        return None
    return options
