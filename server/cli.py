"""The `ledgermcp` command: one sub-command per verb, each in its own module.

Verb modules expose `register(subparsers)`; they keep heavy imports inside their handlers so
that `ledgermcp --help` and `ledgermcp serve` start quickly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module (relative to ledgermcp) -> it registers one or more verbs
VERB_MODULES = [
    "codegen.cli_verbs",
    "server.cli_serve",
    "server.cli_tools",
    "server.cli_auth",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledgermcp",
        description="Typed SDKs and safe MCP servers for accounting and invoicing APIs.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    subparsers.required = True
    for module_name in VERB_MODULES:
        module = importlib.import_module(f"ledgermcp.{module_name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
