"""Options shared by the `serve` and `tools` verbs (argparse only; cheap to import)."""

from __future__ import annotations

import argparse


def add_vendor_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vendor", metavar="VENDOR", help="vendor id, e.g. fortnox or smallinvoice")


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tool selection")
    group.add_argument("--groups", action="append", metavar="A,B", help="only tools of these groups")
    group.add_argument("--read-only", action="store_true", help="only read-only tools")
    group.add_argument(
        "--tools", action="append", metavar="GLOB,...", help="only tools whose name matches a glob"
    )
    group.add_argument(
        "--exclude", action="append", metavar="GLOB,...", help="leave out tools matching a glob"
    )


def add_mode_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("how tools are offered")
    group.add_argument(
        "--mode",
        choices=("full", "consolidated", "discovery"),
        default=None,
        help="full: one tool per operation (default); consolidated: one tool per resource with an "
        "`action` argument; discovery: search, describe and call (also LEDGERMCP_MODE)",
    )
    group.add_argument(
        "--output-schemas",
        action="store_true",
        help="full mode: list each tool's answer schema too (more context; off by default)",
    )


def mode_of(args: argparse.Namespace) -> str:
    """The mode from --mode, else LEDGERMCP_MODE, else full; SystemExit(2) when unknown."""
    import sys

    from ledgermcp.server.modes import ModeError, mode_from

    try:
        return mode_from(getattr(args, "mode", None))
    except ModeError as exc:
        print(f"ledgermcp: {exc} (LEDGERMCP_MODE)", file=sys.stderr)
        raise SystemExit(2) from None


def load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(vendor, selection) from parsed options; raises SystemExit(2) with a clear message."""
    import sys

    from ledgermcp.server.catalog import UnknownVendorError, load_vendor
    from ledgermcp.server.toolspec import Selection, SelectionError

    try:
        vendor = load_vendor(args.vendor)
    except UnknownVendorError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    selection = Selection.from_options(
        getattr(args, "groups", None),
        getattr(args, "read_only", False),
        getattr(args, "tools", None),
        getattr(args, "exclude", None),
    )
    try:
        selection.check(vendor)
    except SelectionError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return vendor, selection
