"""Profiles: several tenants (companies) per vendor, each with its own tokens.

Which profile a process uses, highest precedence first: ``--profile NAME``; ``LEDGERMCP_PROFILE``;
the active-profile pointer file written by ``ledgermcp profile use NAME``; else ``default``.
A pointer that exists but cannot be read or does not hold a valid name makes resolution fail
(`ProfileError`) rather than fall back to another tenant; only the repair commands (`doctor`,
`profile use`, `profile show`) resolve leniently.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ledgermcp.server.oauth.config import DEFAULT_PROFILE
from ledgermcp.server.oauth.errors import ProfileError
from ledgermcp.server.oauth.stores import NAME_RE

PROFILE_ENV = "LEDGERMCP_PROFILE"


@dataclass(frozen=True)
class ProfileChoice:
    name: str
    source: str  # "flag", "env", "pointer" or "default"
    pointer_error: str | None = None  # set only by lenient resolution

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_PROFILE


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("LEDGERMCP_CONFIG_DIR"):
        return Path(env["LEDGERMCP_CONFIG_DIR"])
    import platformdirs

    return Path(platformdirs.user_config_dir("ledgermcp", appauthor=False))


def pointer_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "active-profile"


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ProfileError(
            f"invalid profile name {name!r}",
            hint="use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


def read_pointer(env: Mapping[str, str] | None = None) -> str | None:
    """The name in the pointer file, `None` when there is no pointer; `ProfileError` when the
    pointer exists but is unreadable or corrupt."""
    path = pointer_path(env)
    fix = "run `ledgermcp profile use NAME` to rewrite it, or pass --profile / set LEDGERMCP_PROFILE"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProfileError(
            f"the active-profile pointer {path} is unreadable ({exc.strerror})", hint=fix
        ) from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        name = ""
    if not NAME_RE.match(name):
        raise ProfileError(
            f"the active-profile pointer {path} is corrupt (no valid profile name in it)", hint=fix
        )
    return name


def resolve_profile(
    flag: str | None = None, env: Mapping[str, str] | None = None, *, strict: bool = True
) -> ProfileChoice:
    """Pick the profile. Strict (the default, used by `serve`): a broken pointer raises.
    Lenient: a broken pointer yields `default` with `pointer_error` set."""
    env = os.environ if env is None else env
    if flag:
        return ProfileChoice(validate_name(flag), "flag")
    if env.get(PROFILE_ENV):
        return ProfileChoice(validate_name(env[PROFILE_ENV]), "env")
    try:
        name = read_pointer(env)
    except ProfileError as exc:
        if strict:
            raise ProfileError(
                f"refusing to start: {exc.message}; no profile is assumed, so no tenant is used by mistake",
                hint=exc.hint,
            ) from None
        return ProfileChoice(DEFAULT_PROFILE, "default", pointer_error=str(exc))
    if name:
        return ProfileChoice(name, "pointer")
    return ProfileChoice(DEFAULT_PROFILE, "default")


def use_profile(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Point the active profile at `name` (atomic write, 0600)."""
    from ledgermcp.server.files import atomic_write, private_dir

    validate_name(name)
    path = pointer_path(env)
    private_dir(path.parent)
    atomic_write(path, f"{name}\n".encode())
    return path


def banner(choice: ProfileChoice) -> str | None:
    """What a server prints on stderr at start when it runs a non-default profile."""
    if choice.is_default:
        return None
    origin = {"flag": "--profile", "env": PROFILE_ENV, "pointer": "active-profile pointer"}.get(
        choice.source, choice.source
    )
    return f"[profile: {choice.name}] using profile {choice.name!r} (from {origin})"


def announce(choice: ProfileChoice, stream: IO[str] | None = None) -> None:
    text = banner(choice)
    if text:
        print(text, file=stream or sys.stderr, flush=True)


def tag(message: str, profile: str | ProfileChoice) -> str:
    """Prefix an error message with a non-default profile's name."""
    name = profile.name if isinstance(profile, ProfileChoice) else profile
    if name and name != DEFAULT_PROFILE and not message.startswith(f"[profile: {name}]"):
        return f"[profile: {name}] {message}"
    return message


# -- known profiles ------------------------------------------------------------------------------


def _index_path(env: Mapping[str, str] | None) -> Path:
    return config_dir(env) / "profiles.json"


def remember(vendor: str, profile: str, env: Mapping[str, str] | None = None) -> None:
    """Record that `profile` has credentials for `vendor` (stores like the keyring cannot list)."""
    from ledgermcp.server.files import atomic_write, private_dir

    index = _read_index(env)
    names = set(index.get(vendor, []))
    names.add(profile)
    index[vendor] = sorted(names)
    path = _index_path(env)
    private_dir(path.parent)
    atomic_write(path, json.dumps(index, indent=1, sort_keys=True).encode())


def _read_index(env: Mapping[str, str] | None) -> dict[str, list[str]]:
    try:
        data = json.loads(_index_path(env).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(p) for p in v] for k, v in data.items() if isinstance(v, list)}


def known_profiles(env: Mapping[str, str] | None = None, store: Any = None) -> dict[str, list[str]]:
    """profile name -> vendors with credentials, from the index and whatever the store can list."""
    out: dict[str, set[str]] = {}
    for vendor, names in _read_index(env).items():
        for name in names:
            out.setdefault(name, set()).add(vendor)
    if store is not None:
        try:
            keys = store.keys()
        except Exception:
            keys = []
        for key in keys:
            vendor, _, name = key.partition("/")
            out.setdefault(name, set()).add(vendor)
    return {name: sorted(v) for name, v in sorted(out.items())}
