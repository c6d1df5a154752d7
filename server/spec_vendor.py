"""A vendor built at start from any OpenAPI description: `ledgermcp serve --spec FILE` and
`ledgermcp tools --spec FILE`.

The tool table is what `ledgermcp generate` would write to `generated/<vendor>/tools.py`
(`ledgermcp.codegen.emit.describe_file` and `table_rows`, no overlay), wrapped as the catalog's
`Vendor`, so every runtime rail (validation, approval, snapshots, modes, sandbox, transports)
serves it exactly as it serves a committed vendor.

Building a table of a few hundred operations takes a second or two, so the table is kept as JSON
in the user cache folder (`LEDGERMCP_CACHE_DIR`, default the platform's user cache directory,
`~/.cache/ledgermcp` on Linux) under `tables/`, keyed by the file's sha256, the vendor name and the
generator's fingerprint (ledgermcp's version plus a digest of the generator's own source). A start
that finds its entry reads it and never imports the generator. An entry that cannot be read, does
not parse, or does not hold what its key says is rebuilt and rewritten, never trusted; entries are
written atomically, so a crash or a concurrent start never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ledgermcp.server.catalog import Vendor

log = logging.getLogger("ledgermcp.spec")

CACHE_FORMAT = 1
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class SpecVendorError(ValueError):
    """The description cannot be served; the message says what is wrong and how to fix it."""


def default_name(path: Path) -> str:
    """The vendor name the file gives when `--name` is not set (the generator's rule)."""
    from ledgermcp.codegen.naming import vendor_name_of_file

    return vendor_name_of_file(path.name)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise SpecVendorError(
            f"--name {name!r} is not a vendor name: use lowercase letters, digits and '_', starting "
            "with a letter, at most 64 characters (it becomes the LEDGERMCP_<NAME>_* variables)"
        )
    return name


def generator_fingerprint() -> str:
    """ledgermcp's version and a digest of the generator's source: a table built by another
    generator is never read as this one's."""
    import ledgermcp

    digest = hashlib.sha256(ledgermcp.__version__.encode())
    codegen = Path(ledgermcp.__file__).resolve().parent / "codegen"
    for source in sorted([*codegen.glob("*.py"), *codegen.glob("templates/*")]):
        digest.update(source.name.encode() + b"\0")
        try:
            digest.update(source.read_bytes())
        except OSError:
            continue
    return f"{ledgermcp.__version__}+{digest.hexdigest()[:16]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(sha256: str, name: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{sha256}\0{name}\0{fingerprint}".encode()).hexdigest()[:32]


def _read_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The cached table, or None when there is none or it is not exactly what `key` promises."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the cached tool table %s (%s); building it again", path, exc.strerror)
        return None
    try:
        entry = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        entry = None
    if not _well_formed(entry, key):
        log.warning("the cached tool table %s is damaged; building it again", path)
        return None
    return entry  # type: ignore[no-any-return]


def _well_formed(entry: Any, key: str) -> bool:
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or entry.get("key") != key:
        return False
    info, tools = entry.get("vendor"), entry.get("tools")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str) or not info.get("env_prefix"):
        return False
    if not isinstance(tools, list) or not tools:
        return False
    for tool in tools:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            return False
        if not isinstance(tool.get("input_schema"), dict) or not isinstance(tool.get("binding"), dict):
            return False
        if not isinstance(tool.get("annotations"), dict) or not isinstance(tool.get("facts"), dict):
            return False
    return isinstance(entry.get("review"), int)


def _write_entry(path: Path, entry: dict[str, Any]) -> None:
    from ledgermcp.server.files import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode())
    except OSError as exc:  # a read-only cache costs the next start a rebuild, nothing else
        log.warning("cannot cache the tool table in %s (%s)", path.parent, exc.strerror)


def build_entry(path: Path, name: str, key: str) -> dict[str, Any]:
    """Build the table with the generator (no overlay); SpecVendorError for a description it refuses."""
    from ledgermcp.codegen.diagnostics import GenerationError
    from ledgermcp.codegen.emit import describe_file, table_rows

    try:
        ir, diagnostics = describe_file(path, name)
    except GenerationError as exc:
        raise SpecVendorError(str(exc)) from None
    rows = table_rows(ir)
    if not rows:
        raise SpecVendorError(f"--spec {path}: the description has no operations to serve")
    review = sum(1 for d in diagnostics if d.code == "effect-review")
    return {"format": CACHE_FORMAT, "key": key, "vendor": ir.vendor_table(), "tools": rows, "review": review}


def spec_vendor(
    path: Path,
    name: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    note: Callable[[str], None] = lambda _msg: None,
) -> Vendor:
    """The catalog vendor of a description file, from the cache when it holds this file's table."""
    if not path.is_file():
        raise SpecVendorError(f"--spec {path}: no such file")
    name = check_name(name) if name else default_name(path)
    try:
        sha = _sha256(path)
    except OSError as exc:
        raise SpecVendorError(f"--spec {path}: cannot read it ({exc.strerror})") from None
    from ledgermcp.codegen.vendor_config import cache_dir

    key = cache_key(sha, name, generator_fingerprint())
    where = cache_dir(env) / "tables" / f"{name}-{key}.json"
    entry = _read_entry(where, key)
    if entry is None:
        entry = build_entry(path, name, key)
        _write_entry(where, entry)
    if entry["review"]:
        note(
            f"{entry['review']} operation(s) of {path.name} classified cautiously (destructive, not "
            "idempotent) for want of evidence; `ledgermcp tools --spec FILE --format table` shows each "
            "tool's effect"
        )
    tools: list[dict[str, Any]] = entry["tools"]
    return Vendor(info=entry["vendor"], tools=tools, by_name={t["name"]: t for t in tools})
