"""`ledgermcp generate VENDOR [--check] [--spec PATH]`: regenerate a vendor and show what changed."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="regenerate generated/VENDOR from the vendor's description and overlay",
        description="Regenerate generated/VENDOR (tool table, tools.lock.json, typed client) and report "
        "the change to the tool surface against the committed tools.lock.json.",
    )
    parser.add_argument(
        "vendors", nargs="+", metavar="VENDOR", help="vendor name(s), e.g. fortnox; 'all' for every vendor"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when generated/ differs from what would be written",
    )
    parser.add_argument(
        "--spec", type=Path, help="read the description from this file (e.g. a newer download)"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list every diagnostic, not a summary per kind"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ledgermcp.codegen.diagnostics import GenerationError
    from ledgermcp.codegen.emit import generate
    from ledgermcp.codegen.vendor_config import project_root, vendor_names

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        root = project_root()
        vendors = vendor_names(root) if args.vendors == ["all"] else args.vendors
        if args.spec and len(vendors) != 1:
            raise GenerationError("--spec applies to one vendor; name exactly one")
        status = 0
        for vendor in vendors:
            started = time.perf_counter()
            result = generate(
                vendor,
                root,
                spec_path=args.spec,
                check=args.check,
                progress=lambda m, v=vendor: say(f"[{v}] {m}"),
            )
            took = time.perf_counter() - started
            _print_diagnostics(result.diagnostics, args.verbose, say)
            say(f"[{vendor}] tool surface against the committed tools.lock.json:")
            say("  " + result.change.render().replace("\n", "\n  "))
            if args.check:
                if result.differing:
                    say(
                        f"[{vendor}] generated/{vendor} is out of date ({len(result.differing)} files differ), e.g.:"
                    )
                    for name in result.differing[:10]:
                        say(f"    {name}")
                    say(f"  run `ledgermcp generate {vendor}` and commit the result")
                    status = 1
                else:
                    say(
                        f"[{vendor}] generated/{vendor} is up to date ({result.tool_count} tools, {took:.1f} s)"
                    )
            else:
                say(f"[{vendor}] wrote generated/{vendor}: {result.tool_count} tools in {took:.1f} s")
        return status
    except GenerationError as exc:
        say(f"error: {exc}")
        return 2
    except Exception as exc:  # a generator bug: one line, the traceback only when asked for
        if args.verbose:
            import traceback

            traceback.print_exc()
        say(
            f"error: generation stopped unexpectedly: {type(exc).__name__}: {exc}. This is a bug in "
            "ledgermcp's generator, not in your description; please report it with the description "
            "(`-v` shows where it happened)"
        )
        return 2


# diagnostics listed one by one even without -v: each names an operation that lost something
LISTED_IN_FULL = ("client-operation-left-out",)


def _print_diagnostics(diags: list[Any], verbose: bool, say: Any) -> None:
    if verbose:
        for d in diags:
            say("  " + d.render())
        return
    for d in diags:
        if d.code in LISTED_IN_FULL:
            say("  " + d.render())
    diags = [d for d in diags if d.code not in LISTED_IN_FULL]
    counts = Counter((d.severity, d.code) for d in diags)
    first = {}
    for d in diags:
        first.setdefault((d.severity, d.code), d)
    for (severity, code), n in sorted(counts.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        example = first[(severity, code)]
        say(f"  {severity.name.lower()}[{code}] x{n}, e.g. {example.where}: {example.message}")
