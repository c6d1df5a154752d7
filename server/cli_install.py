"""`ledgermcp install CLIENT VENDOR [serve options]`: add this server to an MCP client's config.

    ledgermcp install claude-desktop fortnox                 # merged into Claude Desktop's file
    ledgermcp install cursor fortnox --max-tools 40 --print  # show the entry, write nothing
    ledgermcp install vscode fortnox --pass-env LEDGERMCP_FORTNOX_ACCESS_TOKEN

The entry starts `serve` with an absolute command (the `ledgermcp` script next to this Python, or
this Python with `-m ledgermcp`), so the client needs no activated virtualenv and no PATH. Options
after VENDOR are `serve`'s own and are checked by its parser. Credentials are referenced, never
written: the server reads the tokens `ledgermcp login` stored (for the profile named by
`--profile`, else the active one), and `--pass-env NAME` hands a variable of the client's
environment through by name where the client can expand one (Claude Code, Cursor, VS Code).

The file is read as JSON, or JSON with comments and trailing commas for Cursor and VS Code; other
entries are kept; the previous file is copied to `<file>.<time>.bak` first; the new one replaces it
in one step (same permissions).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ClientKind:
    name: str
    title: str
    key: str  # where the servers are in the file
    jsonc: bool  # the client reads comments and trailing commas
    typed: bool  # entries carry "type": "stdio"
    env_ref: str | None  # how a variable of the client's environment is referenced ("{name}")


CLIENTS: dict[str, ClientKind] = {
    "claude-desktop": ClientKind("claude-desktop", "Claude Desktop", "mcpServers", False, False, None),
    "claude-code": ClientKind("claude-code", "Claude Code", "mcpServers", False, True, "${{{name}}}"),
    "cursor": ClientKind("cursor", "Cursor", "mcpServers", True, False, "${{env:{name}}}"),
    "vscode": ClientKind("vscode", "VS Code", "servers", True, True, "${{env:{name}}}"),
}


class InstallError(ValueError):
    """What is wrong and how to fix it; no traceback reaches the user."""


def config_path(
    client: str, *, system: str | None = None, env: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """Where the client keeps its (user-level) MCP configuration on this system."""
    import platform

    system = system or platform.system()
    env = os.environ if env is None else env
    home = home or Path.home()
    if system == "Windows":
        config = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    elif system == "Darwin":
        config = home / "Library" / "Application Support"
    else:
        config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    if client == "claude-desktop":
        return config / "Claude" / "claude_desktop_config.json"
    if client == "claude-code":
        return home / ".claude.json"  # user scope: every project
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return config / "Code" / "User" / "mcp.json"
    raise InstallError(f"unknown client {client!r}; clients: {', '.join(CLIENTS)}")


def server_command() -> list[str]:
    """The absolute command that runs this installation's `ledgermcp`: the script beside this
    Python when there is one, else this Python with `-m ledgermcp` (no PATH, no activation)."""
    python = Path(sys.executable)
    if not python.is_absolute():
        python = python.absolute()
    for name in ("ledgermcp", "ledgermcp.exe"):
        script = python.parent / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    return [str(python), "-m", "ledgermcp"]


def _scan(text: str, on_char: Any) -> str:
    """Copy `text`, strings untouched, every other character through `on_char(text, i) -> (out, next i)`."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            piece, i = on_char(text, i)
            out.append(piece)
    return "".join(out)


def _no_comment(text: str, i: int) -> tuple[str, int]:
    if text.startswith("//", i):
        end = text.find("\n", i)
        return "", len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return " ", len(text) if end < 0 else end + 2
    return text[i], i + 1


def _no_trailing_comma(text: str, i: int) -> tuple[str, int]:
    if text[i] == ",":
        rest = text[i + 1 :].lstrip()
        if rest[:1] in ("}", "]"):
            return "", i + 1
    return text[i], i + 1


def strip_jsonc(text: str) -> str:
    """JSON with comments (`//`, `/* */`) and trailing commas, as plain JSON."""
    return _scan(_scan(text, _no_comment), _no_trailing_comma)


def read_config(path: Path, kind: ClientKind) -> tuple[dict[str, Any], bool]:
    """(the file's object, whether it had comments that rewriting drops); {} for no file."""
    if not path.exists():
        return {}, False
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}, False
    try:
        data = json.loads(text)
        commented = False
    except json.JSONDecodeError as exc:
        if not kind.jsonc:
            raise InstallError(
                f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); fix it, or give another file with --config"
            ) from None
        try:
            data = json.loads(strip_jsonc(text))
        except json.JSONDecodeError as exc2:
            raise InstallError(
                f"{path} is not valid JSON with comments ({exc2.msg}); fix it, or give another file with --config"
            ) from None
        commented = True
    if not isinstance(data, dict):
        raise InstallError(f"{path} holds no JSON object at its top; {kind.title} would not read it either")
    if not isinstance(data.get(kind.key, {}), dict):
        raise InstallError(f'"{kind.key}" in {path} is not an object; {kind.title} expects one')
    return data, commented


def entry_for(kind: ClientKind, vendor: str, serve_options: list[str], pass_env: list[str]) -> dict[str, Any]:
    command, *prefix = server_command()
    entry: dict[str, Any] = {"type": "stdio"} if kind.typed else {}
    entry["command"] = command
    entry["args"] = [*prefix, "serve", vendor, *serve_options]
    if pass_env:
        assert kind.env_ref is not None
        entry["env"] = {name: kind.env_ref.format(name=name) for name in pass_env}
    return entry


def write_config(path: Path, data: Mapping[str, Any]) -> Path | None:
    """Write `data` to `path` in one step, keeping a copy of the old file; the backup's path."""
    import shutil
    import tempfile
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o600
    if path.exists():
        mode = path.stat().st_mode & 0o777
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        n = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}-{n}.bak")
            n += 1
        shutil.copy2(path, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup


# --- the verb ---------------------------------------------------------------------------------


def _own_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="the client's config file (default: where it keeps it)"
    )
    parser.add_argument("--name", help="the server's name in the client (default: VENDOR, VENDOR-sandbox)")
    parser.add_argument(
        "--print", dest="print_only", action="store_true", help="show the entry, write nothing"
    )
    parser.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="hand this variable of the client's environment to the server by name (not with Claude Desktop)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "install",
        help="add a vendor's server to Claude Desktop, Claude Code, Cursor or VS Code",
        description="Merge an entry that starts `ledgermcp serve VENDOR [serve options]` into CLIENT's "
        "MCP config (claude-desktop, claude-code, cursor, vscode), with an absolute command. Secrets "
        "are never written: log in with `ledgermcp login VENDOR` (and pass --profile), or reference "
        "variables with --pass-env. The previous file is kept as <file>.<time>.bak.",
    )
    parser.add_argument("client", metavar="CLIENT", choices=list(CLIENTS), help=", ".join(CLIENTS))
    parser.add_argument("vendor", metavar="VENDOR", help="vendor id, e.g. fortnox")
    _own_options(parser)
    parser.add_argument(
        "serve_options", nargs=argparse.REMAINDER, metavar="...", help="options for `ledgermcp serve`"
    )
    parser.set_defaults(handler=run)


def _split(args: argparse.Namespace) -> tuple[argparse.Namespace, list[str]]:
    """Own options may also come after VENDOR, among serve's."""
    own = argparse.ArgumentParser(add_help=False)
    _own_options(own)
    found, rest = own.parse_known_args(args.serve_options)
    for key in ("config", "name"):
        if getattr(found, key) is not None:
            setattr(args, key, getattr(found, key))
    args.print_only = args.print_only or found.print_only
    args.pass_env = [*args.pass_env, *found.pass_env]
    return args, rest


def _check_serve_options(vendor: str, options: list[str]) -> argparse.Namespace:
    from ledgermcp.server.cli import build_parser

    # a bad value exits 2 with serve's own usage line; an unknown option is named here
    serve, unknown = build_parser("serve").parse_known_args(["serve", vendor, *options])
    if unknown:
        raise InstallError(
            f"`ledgermcp serve` has no option {' '.join(unknown)} (`ledgermcp serve --help` lists them)"
        )
    if serve.transport != "stdio":
        raise InstallError("clients start the server over stdio: leave out --transport")
    return serve


def _check_pass_env(kind: ClientKind, vendor: Any, names: list[str]) -> None:
    if not names:
        return
    if kind.env_ref is None:
        raise InstallError(
            f"{kind.title} does not expand variables in its config, and secrets are not written into it: "
            f"run `ledgermcp login {vendor.name}` (the server reads the stored tokens; add --profile NAME "
            "for another tenant) and leave out --pass-env"
        )
    from ledgermcp.server.settings import env_table
    from ledgermcp.server.toolspec import nearest_names

    known = [row["name"] for row in env_table(vendor.info)]
    for name in names:
        if "=" in name:
            raise InstallError(
                f"--pass-env takes a variable's name only, not a value: --pass-env {name.split('=')[0]}"
            )
        if name not in known:
            close = nearest_names(name, known)
            hint = f"did you mean: {', '.join(close)}? " if close else ""
            raise InstallError(
                f"the server does not read {name!r}; {hint}`ledgermcp tools {vendor.name} --env` lists the variables"
            )


def run(args: argparse.Namespace) -> int:
    from ledgermcp.server.catalog import UnknownVendorError, load_vendor

    args, options = _split(args)
    kind = CLIENTS[args.client]
    try:
        vendor = load_vendor(args.vendor)
        serve = _check_serve_options(vendor.name, options)
        _check_pass_env(kind, vendor, args.pass_env)
        name = args.name or (f"{vendor.name}-sandbox" if serve.sandbox else vendor.name)
        entry = entry_for(kind, vendor.name, options, args.pass_env)
        if args.print_only:
            json.dump({kind.key: {name: entry}}, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
            return 0
        path = Path(args.config).expanduser() if args.config else config_path(kind.name)
        data, commented = read_config(path, kind)
        servers = data.setdefault(kind.key, {})
        replaced = name in servers
        servers[name] = entry
        backup = write_config(path, data)
    except (UnknownVendorError, InstallError) as exc:
        print(f"ledgermcp: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ledgermcp: cannot write {exc.filename or 'the config'}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"{'replaced' if replaced else 'added'} {name!r} in {path} ({kind.title})")
    if backup is not None:
        print(f"the previous file is kept as {backup}")
        if commented:
            print(f"note: the comments of {path.name} were not kept; they are in the backup")
    if not serve.sandbox and not args.pass_env:
        profile = f" --profile {serve.profile}" if serve.profile else ""
        print(f"credentials: the server uses the tokens of `ledgermcp login {vendor.name}{profile}`")
    print(f"restart {kind.title} to load it")
    return 0
