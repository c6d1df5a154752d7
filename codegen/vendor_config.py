"""Where a vendor's inputs live: `specs/<vendor>/source.toml`, its overlay, and the spec itself.

The vendor's description is third-party data and is never committed. It is looked up, in order:
`--spec PATH`; `$LEDGERMCP_SPEC_DIR/<file>`; `<repo>/../shared/specs/<file>`; `specs/` in the cache
folder (`$LEDGERMCP_CACHE_DIR`, else the user cache dir).
Its sha256 must match `source.toml` unless the caller passes a different copy on purpose.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgermcp.codegen.diagnostics import GenerationError

SPEC_DIR_ENV = "LEDGERMCP_SPEC_DIR"
CACHE_DIR_ENV = "LEDGERMCP_CACHE_DIR"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """What ledgermcp can download or rebuild (descriptions, tool tables built from `--spec`):
    `$LEDGERMCP_CACHE_DIR`, else the user cache folder (`~/.cache/ledgermcp` on Linux)."""
    env = os.environ if env is None else env
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ledgermcp", appauthor=False))


def project_root() -> Path:
    """The checkout that holds `specs/` and `generated/` (the generator runs from a checkout)."""
    import ledgermcp

    package_dir = Path(ledgermcp.__file__).resolve().parent
    for candidate in (package_dir, Path.cwd(), *Path.cwd().parents):
        if (candidate / "specs").is_dir() and (candidate / "codegen").is_dir():
            return candidate
    raise GenerationError(
        "cannot find the ledgermcp checkout (a folder with specs/ and codegen/); "
        "run the generator from inside the repository"
    )


def spec_search_dirs(root: Path, env: dict[str, str] | None = None) -> list[Path]:
    env = dict(os.environ) if env is None else env
    dirs = []
    if env.get(SPEC_DIR_ENV):
        dirs.append(Path(env[SPEC_DIR_ENV]))
    dirs.append(root.parent / "shared" / "specs")
    dirs.append(cache_dir(env) / "specs")
    return dirs


@dataclass(frozen=True)
class VendorConfig:
    name: str
    dir: Path
    source: dict[str, Any]
    overlay: dict[str, Any] = field(repr=False)

    @property
    def spec_file(self) -> str:
        return str(self.source["file"])

    @property
    def sha256(self) -> str:
        return str(self.source["sha256"]).lower()


def vendor_names(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "specs").glob("*/source.toml"))


def load_vendor_config(root: Path, vendor: str) -> VendorConfig:
    vdir = root / "specs" / vendor
    source_path = vdir / "source.toml"
    if not source_path.is_file():
        known = ", ".join(vendor_names(root)) or "none"
        raise GenerationError(f"unknown vendor {vendor!r}: no {source_path}; known vendors: {known}")
    source = _read_toml(source_path)
    for key in ("file", "sha256", "upstream"):
        if key not in source:
            raise GenerationError(f"{source_path}: missing key {key!r}")
    overlay_path = vdir / "overlay.toml"
    overlay = _read_toml(overlay_path) if overlay_path.is_file() else {}
    return VendorConfig(name=vendor, dir=vdir, source=source, overlay=overlay)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise GenerationError(f"{path}: invalid TOML: {exc}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate_spec(config: VendorConfig, root: Path, explicit: Path | None = None) -> tuple[Path, str]:
    """Find the vendor's description and check it; returns (path, sha256).

    An explicit `--spec` copy may differ from the recorded sha256 (a newer download): the
    caller records the new hash in the generated files. A copy found in a spec directory must match.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise GenerationError(f"--spec {explicit}: no such file")
        return explicit, sha256_of(explicit)
    looked = []
    for directory in spec_search_dirs(root):
        candidate = directory / config.spec_file
        looked.append(str(candidate))
        if candidate.is_file():
            actual = sha256_of(candidate)
            if actual != config.sha256:
                raise GenerationError(
                    f"{candidate} has sha256 {actual}, but specs/{config.name}/source.toml records "
                    f"{config.sha256}. If this is a newer upstream description, regenerate with "
                    f"`ledgermcp generate {config.name} --spec {candidate}` and record the new sha256 "
                    f"in specs/{config.name}/source.toml; otherwise restore the file from {config.source['upstream']}."
                )
            return candidate, actual
    raise GenerationError(
        f"the {config.name} description {config.spec_file!r} was not found; looked in:\n  "
        + "\n  ".join(looked)
        + f"\nDownload it from {config.source['upstream']} into one of these folders, "
        f"or set {SPEC_DIR_ENV} to the folder that holds it, or pass --spec PATH."
    )
