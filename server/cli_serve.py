"""`ledgermcp serve VENDOR`: run a vendor's MCP server over stdio."""

from __future__ import annotations

import argparse

from ledgermcp.server.cli_options import add_selection_options, add_vendor_argument


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
    add_selection_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    import anyio

    from ledgermcp.server.cli_options import load

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="ledgermcp: %(levelname)s %(message)s"
    )
    vendor, selection = load(args)
    from ledgermcp.server.toolspec import wire_tools

    if not wire_tools(vendor, selection):
        print("ledgermcp: the selection leaves no tools to serve", file=sys.stderr)
        return 2

    from ledgermcp.server.app import create_app, serve_stdio
    from ledgermcp.server.http.errors import StackError

    try:
        app = create_app(vendor, selection=selection, sandbox=args.sandbox)
    except StackError as exc:  # a malformed setting (base URL, timeout): say which, no traceback
        print(f"ledgermcp: {exc}" + (f" ({exc.hint})" if exc.hint else ""), file=sys.stderr)
        return 2
    if args.sandbox:
        print(
            f"ledgermcp: serving {vendor.name} from the sandbox (in-memory; nothing leaves this process)",
            file=sys.stderr,
        )
    anyio.run(serve_stdio, app)
    return 0
