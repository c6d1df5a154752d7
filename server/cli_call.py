"""`ledgermcp call VENDOR TOOL [key=value ...]`: run one tool from the command line.

The call goes through the app `serve` builds (server/cli_serve.py `open_app`): the same pipeline,
so validation, dry-run, approval, snapshots and the audit log behave as they do over MCP. Only the
way approval asks differs: on a terminal the plan is shown and the human answers y/N; without a
terminal nothing is sent, the plan and an approval token are printed, and the same command with
`--approval TOKEN` sends it.

    ledgermcp call fortnox --list                                   tool names, one a line
    ledgermcp call fortnox create_customer Name=Acme --sandbox
    ledgermcp call fortnox list_invoices filter=unpaidoverdue --output table
    ledgermcp call fortnox update_customer CustomerNumber=7 --json '{"City": "Lund"}'

Exit status: 0 done, 1 the tool answered with an error, 2 a usage error, 3 approval needed
(nothing was sent).

Every run is a process of its own, so the record of used approval tokens is a file in the data
directory (`approvals-used.json`, or Redis with `LEDGERMCP_REDIS_URL`): a token sends once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ledgermcp.server.cli_options import (
    add_account_options,
    add_safety_options,
    add_selection_options,
    add_vendor_argument,
)

APPROVAL_NEEDED = 3


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "call",
        help="run one of a vendor's tools from the command line (same checks as over MCP)",
        description="Run TOOL of VENDOR with arguments given as key=value (values are read as JSON "
        "when they parse and the argument is not a string: 7, true, [1,2], {...}) and/or --json. "
        "The call passes the same validation, dry-run, approval, snapshots and audit log as over MCP; "
        "a call that needs approval asks on a terminal and, without one, prints the plan and a token "
        "for --approval. Exit status: 0 done, 1 the tool failed, 2 usage error, 3 approval needed.",
    )
    add_vendor_argument(parser)
    parser.add_argument("tool", nargs="?", metavar="TOOL", help="tool name (`--list` shows them)")
    parser.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="arguments of the tool")
    parser.add_argument("--json", dest="json_args", metavar="ARGS", help="arguments as one JSON object")
    parser.add_argument(
        "--output", choices=("json", "table"), default="json", help="how to print the answer (default json)"
    )
    parser.add_argument("--list", action="store_true", help="print the tool names, one a line")
    parser.add_argument(
        "--approval", metavar="TOKEN", help="the approval token an earlier run of this same call printed"
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="vendor request timeout"
    )
    add_account_options(parser)
    add_selection_options(parser)
    add_safety_options(parser)
    parser.set_defaults(handler=run)


class UsageError(ValueError):
    """Bad input on the command line: the message says what and how to fix it."""


def parse_arguments(tool: Mapping[str, Any], pairs: list[str], json_args: str | None) -> dict[str, Any]:
    """`--json` first, then each key=value over it. A value is JSON when it parses as JSON and the
    tool's schema does not say the argument is a string (Fortnox's CustomerNumber "7" stays "7")."""
    import json

    args: dict[str, Any] = {}
    if json_args is not None:
        try:
            loaded = json.loads(json_args)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--json is not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(loaded, dict):
            raise UsageError('--json must be a JSON object, e.g. --json \'{"Name": "Acme"}\'')
        args.update(loaded)
    props: Mapping[str, Any] = (tool.get("input_schema") or {}).get("properties") or {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{pair!r} is not KEY=VALUE; write e.g. Name=Acme (quote values with spaces)")
        if props.get(key, {}).get("type") == "string":
            args[key] = text
            continue
        try:
            args[key] = json.loads(text)
        except json.JSONDecodeError:
            args[key] = text
    return args


def terminal_ask(stream_in: Any = None, stream_out: Any = None) -> Any:
    """The approval gate's `ask` for a terminal: show the plan, read y/N. Without a terminal it
    answers None, so the gate prints a plan-bound token instead of sending."""
    stdin = stream_in or sys.stdin
    out = stream_out or sys.stderr

    async def ask(prompt: Any) -> str | None:
        if not stdin.isatty():
            return None
        out.write(f"{prompt.call.name} needs your approval. Nothing has been sent yet. It will send:\n")
        out.write(prompt.text + "\n")
        out.write("Send it? [y/N] ")
        out.flush()
        line = stdin.readline()
        if not line:
            return "cancel"
        return "accept" if line.strip().lower() in ("y", "yes") else "decline"

    return ask


def run(args: argparse.Namespace) -> int:
    from ledgermcp.server.cli_options import load

    vendor, selection = load(args)
    names = [str(t["name"]) for t in selection.apply(vendor.tools)]
    if args.list:
        sys.stdout.write("".join(f"{n}\n" for n in names))
        return 0
    if not args.tool:
        print(f"ledgermcp: name a tool (`ledgermcp call {vendor.name} --list` shows them)", file=sys.stderr)
        return 2
    if args.tool not in names:
        from ledgermcp.server.modes import unknown_tool_message

        print(f"ledgermcp: {unknown_tool_message(args.tool, names)} ({vendor.name})", file=sys.stderr)
        return 2
    try:
        arguments = parse_arguments(vendor.tool(args.tool), args.pairs, args.json_args)
    except UsageError as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        return 2
    if args.approval:
        from ledgermcp.server.safety import APPROVAL_ARG

        arguments[APPROVAL_ARG] = args.approval

    from ledgermcp.server.cli_serve import open_app

    # spent approval tokens go to the record every server process on this host shares (safety options)
    app = open_app(args, ask=terminal_ask(), mode="full")
    if isinstance(app, int):
        return app
    import anyio

    async def go() -> Any:
        try:
            return await app.surface.call(app.pipeline, args.tool, arguments)
        finally:
            await app.aclose()

    result = anyio.run(go)
    return show(result, args.output)


def show(result: Any, output: str) -> int:
    """Print a tool's result; the exit status for it."""
    import json

    structured = result.structured if result.structured is not None else None
    if result.is_error:
        print(result.text, file=sys.stderr)
        return 1
    if isinstance(structured, dict) and structured.get("approval_required"):
        from ledgermcp.server.safety.plan import plan_text

        token = structured["approval"]["token"]
        print(
            "ledgermcp: approval needed; nothing was sent. The plan:\n"
            f"{plan_text(structured['plan'])}\n"
            "To send exactly this, run the same command on a terminal (you will be asked), or add\n"
            f"  --approval {token}\n"
            "(valid once, for these arguments only, for a few minutes).",
            file=sys.stderr,
        )
        json.dump(structured, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
        return APPROVAL_NEEDED
    if output == "table" and isinstance(structured, dict):
        print_table(structured)
    elif structured is not None:
        json.dump(structured, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.text + "\n")
    return 0


def _plain(value: Any) -> str:
    import json

    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def print_table(structured: Mapping[str, Any]) -> None:
    """A list answer as one row per item, an entity as field/value rows (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, soft_wrap=False)
    view = structured.get("_view")
    body = {k: v for k, v in structured.items() if not k.startswith("_")}
    rows = next(
        (v for v in body.values() if isinstance(v, list) and all(isinstance(i, dict) for i in v)), None
    )
    if rows is not None:
        columns = list(
            dict.fromkeys(k for item in rows for k, v in item.items() if not isinstance(v, (dict, list)))
        )
        if not rows:
            console.print("(no items)")
            return
        table = Table(*columns)
        for item in rows:
            table.add_row(*(_plain(item.get(c)) for c in columns))
    else:
        entity = (
            next(iter(body.values()))
            if len(body) == 1 and isinstance(next(iter(body.values())), dict)
            else body
        )
        table = Table("field", "value")
        for key, value in entity.items():
            table.add_row(str(key), _plain(value))
    console.print(table)
    if isinstance(view, dict) and view.get("note"):
        print(view["note"], file=sys.stderr)
