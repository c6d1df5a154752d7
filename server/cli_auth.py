"""Verbs for credentials: `login`, `logout`, `profile use|list|show`, `doctor`.

Everything heavy is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        choices=["file", "keyring", "redis"],
        help="token store (default: $LEDGERMCP_TOKEN_STORE, else file)",
    )
    parser.add_argument("--redis-url", help="Redis URL for --store redis (default: $LEDGERMCP_REDIS_URL)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("login", help="log in to a vendor and store its tokens")
    p.add_argument("vendor")
    p.add_argument("--profile", help="profile (tenant) to store the tokens under")
    p.add_argument(
        "--port", type=int, help="callback port on 127.0.0.1 (must match the registered redirect URI)"
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument(
        "--client-credentials",
        action="store_true",
        help="service account / API client: client-credentials grant, no browser",
    )
    p.add_argument(
        "--tenant-id", help="Fortnox service account: the tenant id (or $LEDGERMCP_FORTNOX_TENANT_ID)"
    )
    p.add_argument("--scope", action="append", help="scope to request (repeatable; default: the vendor's)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser redirect")
    _store_args(p)
    p.set_defaults(handler=_login)

    p = subparsers.add_parser("logout", help="delete a vendor's stored tokens")
    p.add_argument("vendor")
    p.add_argument("--profile")
    _store_args(p)
    p.set_defaults(handler=_logout)

    p = subparsers.add_parser("profile", help="choose and inspect profiles (tenants)")
    sub = p.add_subparsers(dest="profile_verb", metavar="ACTION")
    sub.required = True
    u = sub.add_parser("use", help="make NAME the active profile")
    u.add_argument("name")
    u.set_defaults(handler=_profile_use)
    ls = sub.add_parser("list", help="list profiles with stored credentials")
    _store_args(ls)
    ls.set_defaults(handler=_profile_list)
    sh = sub.add_parser("show", help="show the resolved profile and where it came from")
    sh.add_argument("--profile")
    sh.set_defaults(handler=_profile_show)

    p = subparsers.add_parser("doctor", help="check a vendor's credentials, token, API access and scopes")
    p.add_argument("vendor")
    p.add_argument("--profile")
    _store_args(p)
    p.set_defaults(handler=_doctor)


def load_vendor_table(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(VENDOR, TOOLS) of a generated vendor."""
    from ledgermcp.server.catalog import load_vendor

    vendor = load_vendor(name)
    return vendor.info, vendor.tools


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _prompt_client(settings: Any) -> Any:
    """Ask for the client id/secret on a terminal when the environment has none."""
    import dataclasses
    import getpass

    if settings.client_id and settings.client_secret:
        return settings
    if not sys.stdin.isatty():
        return settings
    client_id = settings.client_id or input(f"{settings.vendor} client id: ").strip()
    client_secret = settings.client_secret or getpass.getpass(f"{settings.vendor} client secret: ").strip()
    return dataclasses.replace(settings, client_id=client_id or None, client_secret=client_secret or None)


def _login(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.config import settings_from_vendor
    from ledgermcp.server.oauth.errors import OAuthError
    from ledgermcp.server.oauth.login import login_authorization_code, login_client_credentials
    from ledgermcp.server.oauth.profiles import resolve_profile
    from ledgermcp.server.oauth.stores import open_store

    try:
        info, tools = load_vendor_table(args.vendor)
        choice = resolve_profile(args.profile)
        settings = _prompt_client(settings_from_vendor(info, choice.name, tools=tools))
        store = open_store(args.store, redis_url=args.redis_url)
        if args.client_credentials:
            record = login_client_credentials(settings, store, tenant_id=args.tenant_id, scopes=args.scope)
        else:
            opener = None
            if not args.no_browser:
                import webbrowser

                opener = webbrowser.open
            record = login_authorization_code(
                settings, store, port=args.port, opener=opener, timeout=args.timeout, scopes=args.scope
            )
    except (OAuthError, LookupError, ValueError) as exc:
        return _fail(str(exc))
    print(
        settings.tag(f"logged in to {settings.vendor}; tokens stored in {store.location(settings.store_key)}")
    )
    if record.scope:
        print(f"granted scopes: {' '.join(record.scope)}")
    return 0


def _logout(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.errors import OAuthError
    from ledgermcp.server.oauth.profiles import resolve_profile
    from ledgermcp.server.oauth.stores import open_store

    try:
        choice = resolve_profile(args.profile)
        store = open_store(args.store, redis_url=args.redis_url)
        key = f"{args.vendor}/{choice.name}"
        with store.locked(key) as lease:
            store.delete(key, lease)
    except OAuthError as exc:
        return _fail(str(exc))
    print(f"removed stored tokens for {key}")
    return 0


def _profile_use(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.errors import OAuthError
    from ledgermcp.server.oauth.profiles import use_profile

    try:
        path = use_profile(args.name)
    except (OAuthError, OSError) as exc:
        return _fail(str(exc))
    print(f"active profile: {args.name} ({path})")
    return 0


def _profile_list(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.errors import OAuthError
    from ledgermcp.server.oauth.profiles import known_profiles, resolve_profile
    from ledgermcp.server.oauth.stores import open_store

    try:
        store = open_store(args.store, redis_url=args.redis_url)
    except OAuthError:
        store = None
    active = resolve_profile(None, strict=False)
    profiles = known_profiles(store=store)
    if not profiles:
        print("no profiles with stored credentials yet (run `ledgermcp login VENDOR [--profile NAME]`)")
    for name, vendors in profiles.items():
        mark = "*" if name == active.name else " "
        print(f"{mark} {name}: {', '.join(vendors)}")
    if active.pointer_error:
        print(f"warning: {active.pointer_error}", file=sys.stderr)
    return 0


def _profile_show(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.profiles import pointer_path, resolve_profile

    choice = resolve_profile(args.profile, strict=False)
    print(f"profile: {choice.name} (from {choice.source})")
    print(f"pointer: {pointer_path()}")
    if choice.pointer_error:
        print(f"warning: {choice.pointer_error}", file=sys.stderr)
        return 1
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from ledgermcp.server.oauth.doctor import run_doctor
    from ledgermcp.server.oauth.errors import OAuthError

    try:
        info, tools = load_vendor_table(args.vendor)
        checks = run_doctor(
            info, tools, profile=args.profile, store_kind=args.store, redis_url=args.redis_url
        )
    except (OAuthError, LookupError, ValueError) as exc:
        return _fail(str(exc))
    for check in checks:
        print(check.line())
    _outcome_unknown(info)
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def _outcome_unknown(info: dict[str, Any]) -> None:
    """Writes the audit log shows as intended but never finished: a server stopped (or still waits)
    between sending and logging the answer, so whether the vendor applied them is unknown."""
    from ledgermcp.server.safety.audit import audit_path_from_env, unfinished

    path = audit_path_from_env()
    if path is None:
        return
    pending = unfinished(path, str(info["name"]))
    if not pending:
        return  # the section appears only when there is something to check
    print(
        f"[warn] audit: {len(pending)} write(s) with outcome unknown in {path} (sent or about to be, "
        "but the server stopped before the answer was logged) — fix: check each against the vendor; "
        "a snapshot id names the state kept before it"
    )
    for entry in pending:
        snapshot = f", snapshot {entry['snapshot_id']}" if entry.get("snapshot_id") else ""
        print(
            f"  outcome unknown: {entry.get('time')} {entry.get('tool')} {entry.get('method', '')} "
            f"{entry.get('path', '')} (id {entry.get('id')}{snapshot})"
        )
