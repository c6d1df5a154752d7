"""Options shared by the `serve` and `tools` verbs (argparse only; cheap to import)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_vendor_argument(parser: argparse.ArgumentParser, *, spec: bool = False) -> None:
    """VENDOR; with `spec`, VENDOR may be left out for `--spec FILE [--name NAME]` instead."""
    if not spec:
        parser.add_argument("vendor", metavar="VENDOR", help="vendor id, e.g. fortnox or smallinvoice")
        return
    parser.add_argument(
        "vendor", metavar="VENDOR", nargs="?", help="vendor id, e.g. fortnox (or --spec FILE instead)"
    )
    parser.add_argument(
        "--spec",
        type=Path,
        metavar="FILE",
        help="serve any OpenAPI description (JSON or YAML) without a committed vendor: its tool table "
        "is built at start and cached (LEDGERMCP_CACHE_DIR)",
    )
    parser.add_argument(
        "--name",
        help="with --spec: the vendor name, which sets the LEDGERMCP_<NAME>_* variables "
        "(default: from the file name, xero-accounting.openapi.yaml -> xero_accounting)",
    )


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
        choices=("auto", "full", "consolidated", "discovery"),
        default=None,
        help="auto (default): full when the selection has at most --max-tools tools, else discovery "
        "plus enable_groups; full: one tool per operation; consolidated: one tool per resource with "
        "an `action` argument; discovery: search, describe and call (also LEDGERMCP_MODE)",
    )
    group.add_argument(
        "--max-tools",
        type=_positive_int,
        default=None,
        metavar="N",
        help="auto mode: list every tool when there are at most N (default 40, also LEDGERMCP_MAX_TOOLS)",
    )
    group.add_argument(
        "--output-schemas",
        action="store_true",
        help="full mode: list each tool's answer schema too (more context; off by default)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("it must be at least 1")
    return value


def mode_of(args: argparse.Namespace) -> str:
    """The mode from --mode, else LEDGERMCP_MODE, else auto; SystemExit(2) when unknown."""
    import sys

    from ledgermcp.server.modes import ModeError, mode_from

    try:
        return mode_from(getattr(args, "mode", None))
    except ModeError as exc:
        print(f"ledgermcp: {exc} (LEDGERMCP_MODE)", file=sys.stderr)
        raise SystemExit(2) from None


def max_tools_of(args: argparse.Namespace) -> int:
    """Auto mode's threshold from --max-tools, else LEDGERMCP_MAX_TOOLS, else 40."""
    import sys

    from ledgermcp.server.modes import ModeError, max_tools_from

    try:
        return max_tools_from(getattr(args, "max_tools", None))
    except ModeError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(vendor, selection) from parsed options: the committed VENDOR, or the vendor built from
    `--spec FILE`; raises SystemExit(2) with a clear message."""
    import sys

    from ledgermcp.server.catalog import UnknownVendorError, load_vendor
    from ledgermcp.server.toolspec import Selection, SelectionError

    spec = getattr(args, "spec", None)
    if (spec is None) == (args.vendor is None):
        print("ledgermcp: name a VENDOR or give --spec FILE (not both)", file=sys.stderr)
        raise SystemExit(2)
    if spec is None and getattr(args, "name", None):
        print("ledgermcp: --name goes with --spec FILE", file=sys.stderr)
        raise SystemExit(2)
    if spec is not None:
        vendor = spec_vendor_of(spec, getattr(args, "name", None))
    else:
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


def spec_vendor_of(path: Path, name: str | None):  # type: ignore[no-untyped-def]
    """The vendor a description file gives (server/spec_vendor.py); SystemExit(2) with the reason
    when the file cannot be served."""
    import sys

    from ledgermcp.server.spec_vendor import SpecVendorError, spec_vendor

    def note(message: str) -> None:
        print(f"ledgermcp: {message}", file=sys.stderr)

    try:
        return spec_vendor(path, name, note=note)
    except SpecVendorError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_account_options(parser: argparse.ArgumentParser) -> None:
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


def add_safety_options(parser: argparse.ArgumentParser) -> None:
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
