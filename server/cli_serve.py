"""`ledgermcp serve VENDOR`: run a vendor's MCP server over stdio (or `--transport http`,
server/remote.py)."""

from __future__ import annotations

import argparse
from typing import Any

from ledgermcp.server.cli_options import (
    add_account_options,
    add_mode_options,
    add_safety_options,
    add_selection_options,
    add_vendor_argument,
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help="run a vendor's MCP server (stdio, or Streamable HTTP with --transport http)",
        description="Run the MCP server for VENDOR (or for any OpenAPI description with `--spec FILE`) over stdio, or over stateless Streamable HTTP with "
        "`--transport http` (`/mcp`, `/healthz`). Credentials come from `ledgermcp login VENDOR` or "
        "the environment, the base URL from the environment (`ledgermcp tools VENDOR --env` lists "
        "the variables).",
    )
    add_vendor_argument(parser, spec=True)
    add_account_options(parser)
    add_selection_options(parser)
    add_mode_options(parser)
    _add_transport_options(parser)
    add_safety_options(parser)
    parser.set_defaults(handler=run)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("the timeout must be positive")
    return value


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transport")
    group.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (default) or stateless Streamable HTTP with JSON responses",
    )
    group.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP: address to bind (default 127.0.0.1; any other needs LEDGERMCP_HTTP_TOKEN)",
    )
    group.add_argument("--port", type=int, default=8000, help="HTTP: port (default 8000)")
    group.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN,...",
        help="HTTP: browser origins allowed besides loopback (also LEDGERMCP_HTTP_ALLOWED_ORIGINS)",
    )
    group.add_argument(
        "--allow-upstream-credentials",
        action="store_true",
        help="HTTP: send a request's X-Upstream-Authorization header to the vendor as its "
        "Authorization, for that call only",
    )
    group.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="vendor request timeout (default LEDGERMCP_<VENDOR>_TIMEOUT_MS, else 30 s)",
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    import anyio

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="ledgermcp: %(levelname)s %(message)s"
    )
    from ledgermcp.server.remote import prepare_http

    remote = prepare_http(args) if getattr(args, "transport", "stdio") == "http" else None
    if getattr(args, "transport", "stdio") == "http" and remote is None:
        return 2
    app = open_app(args)
    if isinstance(app, int):
        return app
    if app.safety is not None and app.safety.options.dry_run:
        print("ledgermcp: dry run: tools that write return their plan and send nothing", file=sys.stderr)
    if args.sandbox:
        print(
            f"ledgermcp: serving {app.vendor.name} from the sandbox (in-memory; nothing leaves this process)",
            file=sys.stderr,
        )
    if remote is not None:
        from ledgermcp.server.remote import serve_http

        return serve_http(app, remote, sandbox=args.sandbox)
    from ledgermcp.server.app import serve_stdio

    anyio.run(serve_stdio, app)
    return 0


def open_app(args: argparse.Namespace, *, ask: Any = None, mode: str | None = None) -> Any:
    """The vendor's app as the parsed options describe it (selection, mode, sandbox, safety, the
    profile's auth, timeout): what `serve` serves and what `ledgermcp call` calls through. Returns
    an exit status instead when an option or setting is wrong (the message is on stderr).
    `ask`: how approval asks the human (default: the MCP client); `mode`: instead of --mode."""
    import sys

    from ledgermcp.server.cli_options import load, max_tools_of, mode_of

    vendor, selection = load(args)
    mode = mode or mode_of(args)
    max_tools = max_tools_of(args) if mode == "auto" else None
    if not selection.apply(vendor.tools):
        print("ledgermcp: the selection leaves no tools to serve", file=sys.stderr)
        return 2
    from ledgermcp.server.remote import apply_timeout

    apply_timeout(vendor.info, getattr(args, "timeout", None))

    from ledgermcp.server.app import create_app
    from ledgermcp.server.http.errors import StackError
    from ledgermcp.server.safety import options_from_env, sandbox_defaults

    try:
        safety = options_from_env(
            None,
            base=sandbox_defaults() if args.sandbox else None,
            dry_run=args.dry_run,
            approve=args.approve,
            snapshots=args.snapshots,
            snapshot_dir=args.snapshot_dir,
            snapshot_fail_open=args.snapshot_fail_open,
            audit_log=args.audit_log,
        )
    except ValueError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        return 2
    auth = None
    if not args.sandbox:
        from ledgermcp.server.oauth.auth import auth_for_serve
        from ledgermcp.server.oauth.errors import OAuthError

        try:
            profile, auth = auth_for_serve(vendor.info, args.profile)
        except OAuthError as exc:  # an unreadable profile pointer: refuse rather than use another tenant
            print(f"ledgermcp: {exc}", file=sys.stderr)
            return 2
        safety.approval_scope = f"profile:{profile.name}"  # one tenant's token never approves another's
    else:
        safety.approval_scope = "sandbox"  # a sandbox's token never approves a real write
    try:
        app = create_app(
            vendor,
            selection=selection,
            sandbox=args.sandbox,
            safety=safety,
            auth=auth,
            tenant=getattr(auth, "stored_tenant", lambda: None)(),
            mode=mode,
            output_schemas=getattr(args, "output_schemas", False),
            max_tools=max_tools,
            ask=ask,
        )
    except StackError as exc:  # a malformed setting (base URL, timeout): say which, no traceback
        print(f"ledgermcp: {exc}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2
    forwarded = getattr(args, "allow_upstream_credentials", False)  # each request brings its own
    if not args.sandbox and auth is None and not app.pipeline.settings.credentials and not forwarded:
        print(no_credentials_warning(vendor, args.profile, getattr(args, "spec", None)), file=sys.stderr)
    return app


def no_credentials_warning(vendor: Any, profile: str | None, spec: Any = None) -> str:
    if spec is not None:  # a description served as it is: no stored login, the environment only
        listing = f"ledgermcp tools --spec {spec}" + (f" --name {vendor.name}" if vendor.name else "")
        return (
            f"ledgermcp: warning: no credentials for {vendor.name}: requests go out unauthenticated and "
            f"the vendor will refuse them. Set the variables `{listing} --env` lists "
            f"({vendor.env_prefix}_ACCESS_TOKEN, _API_KEY, ...); --sandbox needs none."
        )
    login = f"ledgermcp login {vendor.name}" + (f" --profile {profile}" if profile else "")
    return (
        f"ledgermcp: warning: no credentials for {vendor.name}: requests go out unauthenticated and "
        f"the vendor will refuse them. Run `{login}`, or set {vendor.env_prefix}_ACCESS_TOKEN "
        f"(`ledgermcp tools {vendor.name} --env` lists every variable); --sandbox needs none."
    )
