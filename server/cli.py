"""The `ledgermcp` command: one sub-command per verb, each in its own module.

Verb modules expose `register(subparsers)`; they keep heavy imports inside their handlers so
that `ledgermcp --help` and `ledgermcp serve` start quickly. A command line that names a verb
imports only the module that registers it (`ledgermcp serve` never imports the generator's).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# verb -> module (relative to ledgermcp) that registers it
VERBS = {
    "generate": "codegen.cli_verbs",
    "serve": "server.cli_serve",
    "tools": "server.cli_tools",
    "call": "server.cli_call",
    "install": "server.cli_install",
    "login": "server.cli_auth",
    "logout": "server.cli_auth",
    "profile": "server.cli_auth",
    "doctor": "server.cli_auth",
}
VERB_MODULES = list(dict.fromkeys(VERBS.values()))


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, for a known `verb`, the parser with only its module registered
    (same usage, help and errors for that verb)."""
    parser = argparse.ArgumentParser(
        prog="ledgermcp",
        description="Typed SDKs and safe MCP servers for accounting and invoicing APIs.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    subparsers.required = True
    for module_name in [VERBS[verb]] if verb in VERBS else VERB_MODULES:
        module = importlib.import_module(f"ledgermcp.{module_name}")
        module.register(subparsers)
    return parser


def _without_httpx_command_line() -> None:
    """`import httpx` also imports httpx's own command-line client (click, rich, pygments; ~40 ms
    of a ~0.7 s server start) whenever those happen to be installed. No verb uses it: marking that
    one module absent makes httpx define its stub `main`, exactly as when click is missing."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    _without_httpx_command_line()
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    try:
        result = args.handler(args)
        sys.stdout.flush()  # inside the guard: a reader that left early shows up here too
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_left()
    return int(result or 0)


def _reader_left() -> int:
    """stdout's reader closed the pipe (`ledgermcp tools fortnox | head`): stop quietly, as other
    command-line tools do, with SIGPIPE's status. stdout now points at /dev/null, so the
    interpreter's final flush has nowhere to fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 141
