"""`ledgermcp tools VENDOR`: show a vendor's tools (as tools/list would) or its environment variables."""

from __future__ import annotations

import argparse

from ledgermcp.server.cli_options import add_mode_options, add_selection_options, add_vendor_argument


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "tools",
        help="list a vendor's tools, or the environment variables it reads",
        description="Print VENDOR's tools as `serve` would offer them in the chosen mode: `--format "
        "json` is exactly the `tools` array of an MCP tools/list; `--format table` shows name, group "
        "and hints. `--env` lists the environment variables the server reads for this vendor instead.",
    )
    add_vendor_argument(parser, spec=True)
    parser.add_argument(
        "--format",
        choices=("table", "json", "lock"),
        default="table",
        help="table: name, group, effect and hints; json: the tools/list array; lock: the reviewed "
        "surface per tool as in tools.lock.json (name, operation, group, effect, hints, schema hash, "
        "arguments)",
    )
    parser.add_argument(
        "--env", action="store_true", help="list the environment variables the vendor accepts"
    )
    add_selection_options(parser)
    add_mode_options(parser)
    parser.set_defaults(handler=run)


def _hint_flags(annotations: dict) -> str:  # type: ignore[type-arg]
    names = (
        ("readOnlyHint", "read-only"),
        ("destructiveHint", "destructive"),
        ("idempotentHint", "idempotent"),
        ("openWorldHint", "open-world"),
    )
    flags = [label for key, label in names if annotations.get(key)]
    if not annotations.get("readOnlyHint") and not annotations.get("destructiveHint"):
        flags.insert(0, "additive")
    return " ".join(flags)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from ledgermcp.server.cli_options import load, max_tools_of, mode_of
    from ledgermcp.server.modes import build_surface

    vendor, selection = load(args)
    mode = mode_of(args)
    out = sys.stdout
    if args.format == "lock":
        from ledgermcp.codegen.surface import lock_entries

        for entry in lock_entries(selection.apply(vendor.tools)):
            out.write(json.dumps(entry) + "\n")
        return 0
    if args.env:
        from ledgermcp.server.settings import env_table

        rows = env_table(vendor.info)
        if args.format == "json":
            json.dump(rows, out, indent=2)
            out.write("\n")
        else:
            width = max(len(r["name"]) for r in rows)
            for r in rows:
                extra = f" (alias of {r['alias_of']})" if r["alias_of"] else ""
                out.write(f"{r['name']:<{width}}  {r['purpose']}{extra}\n")
        return 0
    surface = build_surface(
        mode, vendor, selection, output_schemas=args.output_schemas, max_tools=max_tools_of(args)
    )
    tools = surface.tools
    if args.format == "json":
        json.dump(tools, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    groups = {t["name"]: t.get("group", "") for t in vendor.tools}
    effects = {t["name"]: (t.get("facts") or {}).get("effect", "") for t in vendor.tools}
    if surface.mode != "full":  # a consolidated tool is one resource of a group; discovery spans them all
        groups = {r.name: r.key[0] for r in getattr(surface, "resources", [])}
        groups.update({t["name"]: "" for t in tools if t["name"] not in groups})
    name_w = max([len(t["name"]) for t in tools] + [4])
    group_w = max([len(groups[t["name"]]) for t in tools] + [5])
    out.write(f"{'NAME':<{name_w}}  {'GROUP':<{group_w}}  {'EFFECT':<7}  HINTS\n")
    for t in tools:
        effect = effects.get(t["name"]) or ""
        out.write(
            f"{t['name']:<{name_w}}  {groups[t['name']]:<{group_w}}  {effect:<7}  {_hint_flags(t['annotations'])}\n"
        )
    out.write(f"{len(tools)} tools\n")
    if surface.mode == "auto":
        out.write(
            f"auto mode: {len(surface.operations)} operations are more than {max_tools_of(args)}; "
            "enable_groups lists groups of them (`--mode full` shows them all)\n"
        )
    return 0
