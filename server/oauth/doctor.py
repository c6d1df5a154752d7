"""`ledgermcp doctor VENDOR`: one line per check, each failing line with its fix.

Checks: profile resolution, the token store, credentials present, the rotation state (an
interrupted rotation or a rejected refresh token), the token (valid, or renewed now through the
normal locked protocol), the API reachable with it, and the scopes granted against the scopes the
vendor's tools need.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ledgermcp.server.oauth.errors import OAuthError


@dataclass
class Check:
    name: str
    status: str  # "ok", "FAIL", "warn", "skip"
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"[{self.status:<4}] {self.name}: {self.detail}"
        if self.fix and self.status in ("FAIL", "warn"):
            text += f" — fix: {self.fix}"
        return text


def _probe_path(settings: Any, tools: Sequence[Mapping[str, Any]]) -> str | None:
    if settings.probe_path:
        return str(settings.probe_path)
    for tool in tools:
        ann = tool.get("annotations") or {}
        binding = tool.get("binding") or {}
        required = (tool.get("input_schema") or {}).get("required") or []
        path = binding.get("path") or ""
        if ann.get("readOnlyHint") and binding.get("method") == "GET" and not required and "{" not in path:
            return str(path)
    return None


def needed_scopes(tools: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """scope -> names of the tools that need it."""
    out: dict[str, list[str]] = {}
    for tool in tools:
        for scope in tool.get("scopes") or []:
            out.setdefault(str(scope), []).append(str(tool.get("name")))
    return out


@dataclass
class Kind:
    """One kind of credential found, judged on its own."""

    status: str
    detail: str
    fix: str | None = None
    rotating: bool = False  # renewed through the token endpoint (stored or environment refresh token)


def credential_kinds(settings: Any, record: Any) -> list[Kind]:
    """Every kind of credential configured for this vendor and profile: stored tokens (login), a
    refresh token in the environment, an access token in the environment. A refresh token needs the
    OAuth client id and secret to be renewed; an access token is used as it is."""
    prefix = settings.env_prefix
    client_id = settings.client_id or (record.client_id if record else None)
    client_secret = settings.client_secret or (record.client_secret if record else None)
    client_fix = f"set {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET, or run `{settings.login_command}`"
    kinds: list[Kind] = []
    for present, what in (
        (record is not None, "stored tokens (ledgermcp login)"),
        (record is None and bool(settings.env_refresh_token), f"refresh token from {prefix}_REFRESH_TOKEN"),
    ):
        if not present:
            continue
        if client_id and client_secret:
            kinds.append(Kind("ok", f"{what}; client id/secret present", rotating=True))
        else:
            missing = " and ".join(
                n for n, v in (("_CLIENT_ID", client_id), ("_CLIENT_SECRET", client_secret)) if not v
            )
            kinds.append(
                Kind("FAIL", f"{what}, but no {prefix}{missing}: they cannot be renewed", client_fix, True)
            )
    if settings.env_access_token and not any(k.rotating for k in kinds):
        kinds.append(Kind("ok", f"access token from {prefix}_ACCESS_TOKEN (not renewed by ledgermcp)"))
    elif settings.env_access_token:
        kinds.append(Kind("ok", f"access token from {prefix}_ACCESS_TOKEN, used until it expires"))
    return kinds


def _redact(auth: Any, message: str) -> str:
    return auth.redact(message) if auth is not None else message


def _probe(
    settings: Any,
    tools: Sequence[Mapping[str, Any]],
    http: httpx.Client,
    auth: httpx.Auth,
    got: str,
    login: str,
    redact: Any,
) -> list[Check]:
    """The `token` and `api` lines: the token is called valid only when an authenticated read
    answered 2xx; an unreachable API leaves it unverified."""
    path = _probe_path(settings, tools)
    if not settings.base_url or not path:
        return [
            Check(
                "token", "warn", f"{got}; not verified", "no read-only probe: call a read tool to check it"
            ),
            Check("api", "skip", "no read-only probe available for this vendor"),
        ]
    url = settings.base_url.rstrip("/") + "/" + path.lstrip("/")
    try:
        response = http.get(url, auth=auth)
    except OAuthError as exc:
        return [
            Check("token", "FAIL", redact(exc.message), exc.hint),
            Check("api", "skip", "no usable token"),
        ]
    except httpx.HTTPError as exc:
        return [
            Check("token", "warn", f"{got}; not verified: the API could not be reached"),
            Check(
                "api",
                "FAIL",
                f"cannot reach {settings.base_url} ({type(exc).__name__})",
                f"check the network, or {settings.env_prefix}_BASE_URL",
            ),
        ]
    if response.is_success:
        return [
            Check("token", "ok", f"token valid: {got}"),
            Check("api", "ok", f"GET {path} answered {response.status_code}"),
        ]
    if response.status_code == 401:
        return [
            Check("token", "FAIL", f"{got}; the API rejected it (401)", f"run `{login}`"),
            Check("api", "FAIL", f"GET {path}: the API rejected the token (401)", f"run `{login}`"),
        ]
    if response.status_code == 403:
        return [
            Check("token", "ok", f"token valid (the API knows it): {got}"),
            Check(
                "api",
                "FAIL",
                f"GET {path}: forbidden (403)",
                f"grant the app the missing scope, then run `{login}`",
            ),
        ]
    return [
        Check("token", "warn", f"{got}; not verified: GET {path} answered {response.status_code}"),
        Check("api", "warn", f"GET {path} answered {response.status_code}"),
    ]


def run_doctor(
    info: Mapping[str, Any],
    tools: Sequence[Mapping[str, Any]],
    *,
    profile: str | None = None,
    store_kind: str | None = None,
    redis_url: str | None = None,
    env: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
) -> list[Check]:
    from ledgermcp.server.oauth.auth import RotatingTokenAuth, interrupted_explanation
    from ledgermcp.server.oauth.config import settings_from_vendor
    from ledgermcp.server.oauth.profiles import resolve_profile
    from ledgermcp.server.oauth.stores import FileStore, open_store
    from ledgermcp.server.oauth.tokens import fingerprint

    env = os.environ if env is None else env
    checks: list[Check] = []
    vendor = str(info["name"])

    choice = resolve_profile(profile, env, strict=False)
    if choice.pointer_error:
        checks.append(
            Check(
                "profile",
                "FAIL",
                f"{choice.pointer_error}; `serve` will refuse to start",
                "run `ledgermcp profile use NAME` to repair the pointer",
            )
        )
    else:
        checks.append(Check("profile", "ok", f"{choice.name} (from {choice.source})"))

    settings = settings_from_vendor(info, choice.name, env)
    login = settings.login_command
    try:
        store = open_store(store_kind, redis_url=redis_url, env=env)
        record = store.load(settings.store_key)
    except OAuthError as exc:
        checks.append(Check("store", "FAIL", exc.message, exc.hint))
        return checks
    where = store.location(settings.store_key)
    if isinstance(store, FileStore) and record is not None:
        mode = stat.S_IMODE(os.stat(store.path(settings.store_key)).st_mode)
        if mode & 0o077:
            checks.append(
                Check("store", "FAIL", f"{where} is readable by others (mode {mode:o})", f"chmod 600 {where}")
            )
        else:
            checks.append(Check("store", "ok", f"{where} (mode {mode:o})"))
    else:
        checks.append(Check("store", "ok", where))

    # credentials: each kind on its own; the run goes on when one of them can authenticate
    kinds = credential_kinds(settings, record)
    if not kinds:
        checks.append(
            Check(
                "credentials",
                "FAIL",
                f"no tokens for {vendor} (profile {choice.name})",
                f"run `{login}`, or set {settings.env_prefix}_ACCESS_TOKEN",
            )
        )
        return checks
    for kind in kinds:
        checks.append(Check("credentials", kind.status, kind.detail, kind.fix))
    rotating = any(k.rotating for k in kinds)
    if not any(k.status == "ok" for k in kinds):
        return checks

    # rotation state as found, before anything is attempted
    pending = record.pending if record else None
    if record is not None and record.broken:
        broken = record.broken
        detail = f"the vendor rejected the stored refresh token ({broken.get('error')})"
        if broken.get("interrupted"):
            detail += f": {interrupted_explanation(broken['interrupted'])}"
        checks.append(Check("rotation", "FAIL", detail, f"run `{login}`"))
        return checks
    if pending:
        if store.lock_held(settings.store_key):
            checks.append(Check("rotation", "ok", "a refresh is in progress in another process"))
            pending = None
        elif pending.get("refresh") != fingerprint(record.refresh_token if record else None):
            checks.append(
                Check(
                    "rotation",
                    "warn",
                    "a stale rotation marker does not match the stored token",
                    "it is cleared by the next refresh",
                )
            )
            pending = None
    elif rotating:
        checks.append(Check("rotation", "ok", "no interrupted rotation"))

    # token: present (renewed now through the normal locked protocol when due); called valid only
    # once an authenticated API call has succeeded with it
    rotating_auth = RotatingTokenAuth(settings, store, lock_timeout=15) if rotating else None
    owns = http is None
    http = http or httpx.Client(timeout=20)
    try:
        if rotating_auth is not None:
            auth: httpx.Auth = rotating_auth
            try:
                before = rotating_auth._load()
                if pending and before is not None:
                    # the saved refresh token may be dead: find out now, through the locked protocol
                    rotating_auth._cached = before
                    rotating_auth.token(http, force=True)
                    got = "refresh token works; access token renewed (the new pair is saved)"
                elif before is not None and rotating_auth._usable(before, None):
                    rotating_auth._cached = before
                    left = (
                        "" if before.expires_at is None else f", {int(before.expires_at - time.time())}s left"
                    )
                    got = f"access token from the {'store' if record is not None else 'environment'}{left}"
                else:
                    rotating_auth.token(http)
                    got = "access token renewed (the new pair is saved)"
                if pending:
                    checks.append(
                        Check(
                            "rotation",
                            "ok",
                            "an interrupted refresh left a marker, but the saved "
                            "refresh token still worked; marker cleared",
                        )
                    )
            except OAuthError as exc:
                msg = rotating_auth.redact(exc.message)
                if pending:
                    checks.append(
                        Check(
                            "rotation",
                            "FAIL",
                            f"interrupted rotation: {interrupted_explanation(pending)}",
                            f"run `{login}` to start a new chain",
                        )
                    )
                checks.append(Check("token", "FAIL", msg, exc.hint))
                return checks
            except httpx.HTTPError as exc:
                checks.append(
                    Check(
                        "token",
                        "FAIL",
                        f"cannot reach {settings.token_url} ({type(exc).__name__})",
                        "check the network, or the token URL override",
                    )
                )
                return checks
        else:
            from ledgermcp.server.http.auth import auth_from_vendor

            static = auth_from_vendor(info, env=env)
            if static is None:
                checks.append(
                    Check(
                        "token",
                        "FAIL",
                        "the access token in the environment fits none of the vendor's auth schemes",
                        f"run `{login}`",
                    )
                )
                return checks
            auth = static
            got = f"access token from {settings.env_prefix}_ACCESS_TOKEN (used as is; ledgermcp cannot renew it)"
        checks += _probe(settings, tools, http, auth, got, login, lambda m: _redact(rotating_auth, m))
    finally:
        if owns:
            http.close()

    # scopes
    needed = needed_scopes(tools)
    current = (rotating_auth._cached if rotating_auth else None) or store.load(settings.store_key)
    granted = current.scope if current else None
    if not needed:
        checks.append(Check("scopes", "ok", "the tools declare no scopes"))
    elif granted is None:
        checks.append(
            Check(
                "scopes",
                "warn",
                f"the token endpoint did not say which scopes were granted; "
                f"tools need: {', '.join(sorted(needed))}",
                "compare with the scopes enabled for your app in the vendor's developer portal",
            )
        )
    else:
        missing = sorted(set(needed) - set(granted))
        if missing:
            examples = "; ".join(f"{s} (e.g. {needed[s][0]}, {len(needed[s])} tools)" for s in missing)
            checks.append(
                Check(
                    "scopes",
                    "FAIL",
                    f"not granted: {examples}",
                    f"enable them for your app in the vendor's developer portal, then run `{login}`",
                )
            )
        else:
            checks.append(Check("scopes", "ok", f"all {len(needed)} scopes the tools need are granted"))
    return checks


def render(checks: Sequence[Check], vendor: str, profile: str | None = None) -> str:
    return "\n".join(c.line() for c in checks)
