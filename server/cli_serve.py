"""`ledgermcp serve VENDOR`: run a vendor's MCP server over stdio (or `--transport http`,
server/remote.py)."""

from __future__ import annotations

import argparse

from ledgermcp.server.cli_options import add_mode_options, add_selection_options, add_vendor_argument


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help="run a vendor's MCP server over stdio",
        description="Run the MCP server for VENDOR over stdio. Credentials and the base URL come from "
        "the environment (`ledgermcp tools VENDOR --env` lists the variables).",
    )
    add_vendor_argument(parser)
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="answer from an in-memory simulated vendor: no network, no account",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="tenant profile whose stored tokens to use (default: LEDGERMCP_PROFILE, then the active profile)",
    )
    add_selection_options(parser)
    add_mode_options(parser)
    _add_transport_options(parser)
    safety = parser.add_argument_group("write safety")
    safety.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="tools that write return what they would send and send nothing (also LEDGERMCP_DRY_RUN=1)",
    )
    safety.add_argument(
        "--approve",
        choices=("destructive", "writes", "never"),
        default=None,
        help="which tools need a human's approval of the previewed plan "
        "(default: destructive; never with --sandbox)",
    )
    safety.add_argument(
        "--snapshot-dir",
        default=None,
        metavar="DIR",
        help="where the state before each write is kept (default: the user data directory)",
    )
    safety.add_argument(
        "--no-snapshot",
        dest="snapshots",
        action="store_false",
        default=None,
        help="do not read and keep the state before writes",
    )
    safety.add_argument(
        "--snapshot-fail-open",
        action="store_true",
        default=None,
        help="when the snapshot read fails, warn and write anyway (default: block the write)",
    )
    safety.add_argument(
        "--audit-log",
        default=None,
        metavar="FILE",
        help="append-only JSONL log of write attempts ('-' for none; default: the user data directory)",
    )
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

    from ledgermcp.server.cli_options import load, mode_of

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="ledgermcp: %(levelname)s %(message)s"
    )
    vendor, selection = load(args)
    mode = mode_of(args)
    if not selection.apply(vendor.tools):
        print("ledgermcp: the selection leaves no tools to serve", file=sys.stderr)
        return 2
    from ledgermcp.server.remote import apply_timeout, prepare_http

    remote = prepare_http(args) if getattr(args, "transport", "stdio") == "http" else None
    if getattr(args, "transport", "stdio") == "http" and remote is None:
        return 2
    apply_timeout(vendor.info, getattr(args, "timeout", None))

    from ledgermcp.server.app import create_app, serve_stdio
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
            mode=mode,
            output_schemas=args.output_schemas,
        )
    except StackError as exc:  # a malformed setting (base URL, timeout): say which, no traceback
        print(f"ledgermcp: {exc}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2
    if safety.dry_run:
        print("ledgermcp: dry run: tools that write return their plan and send nothing", file=sys.stderr)
    if args.sandbox:
        print(
            f"ledgermcp: serving {vendor.name} from the sandbox (in-memory; nothing leaves this process)",
            file=sys.stderr,
        )
    if remote is not None:
        from ledgermcp.server.remote import serve_http

        return serve_http(app, remote, sandbox=args.sandbox)
    anyio.run(serve_stdio, app)
    return 0
