"""The key that signs approval tokens and round-trip states, shared by every server that should
accept each other's tokens.

`LEDGERMCP_APPROVAL_KEY` (base64, URL-safe or not, or hex; at least 32 bytes) gives it explicitly:
replicas behind a load balancer, on several hosts, set the same value. Without it the key lives in
`approval.key` in the user data directory (`LEDGERMCP_DATA_DIR` if set), made on first use, so that
servers on one host agree and a restart keeps outstanding tokens good.

Two servers starting at once must end up with the same key: the file is written complete under a
temporary name and then linked to its final name, which fails if it already exists; the loser reads
the winner's file. A reader never sees a half-written key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ledgermcp.server.files import fsync_dir, private_dir

APPROVAL_KEY_ENV = "LEDGERMCP_APPROVAL_KEY"
KEY_FILE = "approval.key"
MIN_KEY_BYTES = 32
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


class ApprovalKeyError(ValueError):
    """The approval key given or kept is unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class ApprovalKey:
    secret: bytes = field(repr=False)
    source: str  # the variable's name or the key file's path: where to look when tokens are refused

    @property
    def key_id(self) -> str:
        """A short public name of the key (an HMAC of a constant, so it tells nothing about the
        key): a token carries it, and a server holding another key can say so."""
        raw = hmac.new(self.secret, b"ledgermcp approval key id", hashlib.sha256).digest()[:6]
        return base64.urlsafe_b64encode(raw).decode()


def parse_key(text: str, where: str) -> bytes:
    """The key bytes in `text` (hex, or base64 in either alphabet, padding optional), or
    ApprovalKeyError naming `where` and how to make a good one."""
    value = text.strip()
    how = f"make one with: {MAKE_ONE}"
    raw: bytes | None = None
    if _HEX.match(value):
        raw = bytes.fromhex(value)
    elif _BASE64.match(value):
        standard = value.rstrip("=").replace("-", "+").replace("_", "/")
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    if raw is None:
        raise ApprovalKeyError(f"{where} is not base64 or hex; {how}")
    if len(raw) < MIN_KEY_BYTES:
        raise ApprovalKeyError(
            f"{where} holds {len(raw)} bytes; an approval key needs at least {MIN_KEY_BYTES}; {how}"
        )
    return raw


def key_file_path(env: Mapping[str, str] | None = None) -> Path:
    from ledgermcp.server.oauth.stores import data_dir

    return data_dir(env) / KEY_FILE


def read_key_text(path: Path) -> str:
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)  # tighten a copy restored with looser rights, as private_dir does
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ApprovalKeyError(
            f"cannot read the approval key file {path} ({getattr(exc, 'strerror', None) or type(exc).__name__}); "
            f"fix its rights or set {APPROVAL_KEY_ENV}"
        ) from None


def create_key_file(path: Path) -> bool:
    """Write a new random key to `path` unless the file exists. True when this call made it."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(MIN_KEY_BYTES) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # exclusive: fails when another process got there first
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def approval_key(env: Mapping[str, str] | None = None) -> ApprovalKey:
    """The variable's key, else the key file's (made now if missing). Registers the key's text for
    redaction, so that it never shows in a log line."""
    from ledgermcp.server.http.redact import register_secrets

    env = os.environ if env is None else env
    given = (env.get(APPROVAL_KEY_ENV) or "").strip()
    if given:
        register_secrets([given])
        return ApprovalKey(parse_key(given, APPROVAL_KEY_ENV), APPROVAL_KEY_ENV)
    path = key_file_path(env)
    if not path.exists():
        try:
            create_key_file(path)
        except OSError as exc:
            raise ApprovalKeyError(
                f"cannot create the approval key file {path} ({exc.strerror or type(exc).__name__}); "
                f"set LEDGERMCP_DATA_DIR to a writable directory or give the key in {APPROVAL_KEY_ENV} "
                f"({MAKE_ONE})"
            ) from None
    text = read_key_text(path)
    register_secrets([text])
    return ApprovalKey(
        parse_key(text, f"the approval key file {path} (remove it to make a new one)"), str(path)
    )


def key_from_env_if_given(env: Mapping[str, str] | None = None) -> ApprovalKey | None:
    """Only the variable, checked: a malformed value is an error even where no token is signed."""
    env = os.environ if env is None else env
    return approval_key(env) if (env.get(APPROVAL_KEY_ENV) or "").strip() else None
