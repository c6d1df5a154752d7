"""The record of approval tokens (and round-trip states) already used: each is good for one call.

`FileUsedTokens`, what `serve` uses without Redis, keeps the nonces in a small private file in the
data directory (`approval-used.json`, 0600), read and rewritten under a file lock: every server
process of the host shares it, so a token used by one process is refused by the next (clients such
as the MCP Inspector start a server per call). With `LEDGERMCP_REDIS_URL` set, `RedisUsedTokens`
keeps them in Redis with `SET NX`, so the first replica on any host to claim a nonce wins and every
other claim fails. `LocalUsedTokens` (one process only) is what options built by hand start with. Each entry expires with its token (plus
a margin for replicas whose clocks disagree), so the record never outgrows the tokens in flight.

When Redis cannot be asked the claim fails closed: the call ends with `APPROVAL_UNAVAILABLE` and
nothing is sent.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread

from ledgermcp.server.errors import ToolFailure

REDIS_URL_ENV = "LEDGERMCP_REDIS_URL"
APPROVAL_UNAVAILABLE = "APPROVAL_UNAVAILABLE"
CLOCK_SKEW_MARGIN = 60  # seconds a Redis entry outlives its token: a replica whose clock lags still sees it


class LocalUsedTokens:
    """Nonces used in this process, dropped once their token has expired."""

    where = "this server process"

    def __init__(self) -> None:
        self._used: dict[str, float] = {}

    async def claim(self, nonce: str, expires: int, now: float) -> bool:
        self._used = {n: e for n, e in self._used.items() if e >= now}
        if nonce in self._used:
            return False
        self._used[nonce] = expires
        return True


class RedisUsedTokens:
    """Nonces used by any server sharing this Redis: `SET <namespace>:approval-used:<nonce> NX`."""

    def __init__(self, url: str, *, namespace: str = "ledgermcp", client: Any = None) -> None:
        from ledgermcp.server.oauth.stores import redact_url

        self.url = url
        self.where = f"Redis at {redact_url(url)}"
        self.namespace = namespace
        if client is None:
            try:
                import redis
            except ImportError:
                raise ValueError(
                    f"{REDIS_URL_ENV} is set, and recording used approval tokens in Redis needs the "
                    "'redis' package: pip install 'ledgermcp[redis]'"
                ) from None
            try:
                client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
            except ValueError as exc:
                raise ValueError(f"{REDIS_URL_ENV} is not a Redis URL ({exc})") from None
        self.r = client

    async def claim(self, nonce: str, expires: int, now: float) -> bool:
        ttl_ms = max(1, math.ceil((expires - now + CLOCK_SKEW_MARGIN) * 1000))
        key = f"{self.namespace}:approval-used:{nonce}"
        try:
            done = await anyio.to_thread.run_sync(lambda: self.r.set(key, b"1", nx=True, px=ttl_ms))
        except Exception as exc:  # any failure to ask is a refusal: an unrecorded use could repeat
            raise ToolFailure(
                APPROVAL_UNAVAILABLE,
                f"the record of used approval tokens ({self.where}) could not be reached "
                f"({type(exc).__name__}); nothing was sent",
                f"check {REDIS_URL_ENV} and that Redis is up, then repeat the call; if the token is "
                "refused then, call again without '_approval' to get a new one",
            ) from None
        return bool(done)


class FileUsedTokens:
    """Nonces used by any server process on this host: `approval-used.json` in `directory`."""

    FILE = "approval-used.json"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / self.FILE
        self.where = f"the record of used approval tokens in {self.path}"

    def _claim(self, nonce: str, expires: int, now: float) -> bool:
        from filelock import FileLock

        from ledgermcp.server.files import atomic_write, private_dir

        private_dir(self.path.parent)
        with FileLock(f"{self.path}.lock", timeout=10, mode=0o600):
            try:
                used = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                used = {}
            if not isinstance(used, dict):
                raise ValueError("not a JSON object")
            # expired entries go: the file never outgrows the tokens in flight
            used = {
                n: e for n, e in used.items() if isinstance(e, (int, float)) and e + CLOCK_SKEW_MARGIN >= now
            }
            if nonce in used:
                return False
            used[nonce] = expires
            atomic_write(self.path, json.dumps(used, separators=(",", ":")).encode("utf-8"))
            return True

    async def claim(self, nonce: str, expires: int, now: float) -> bool:
        try:
            return await anyio.to_thread.run_sync(self._claim, nonce, expires, now)
        except Exception as exc:  # unreadable or locked for too long: refuse, an unrecorded use could repeat
            raise ToolFailure(
                APPROVAL_UNAVAILABLE,
                f"{self.where} could not be read or updated ({type(exc).__name__}); nothing was sent",
                f"check that the data directory is writable (LEDGERMCP_DATA_DIR); remove {self.path} if "
                "it is damaged, then call again without '_approval' to get a new token",
            ) from None


UsedTokens = LocalUsedTokens | RedisUsedTokens | FileUsedTokens


def open_used_tokens(redis_url: str | None, directory: str | os.PathLike[str] | None = None) -> UsedTokens:
    if redis_url:
        return RedisUsedTokens(redis_url)
    return FileUsedTokens(directory) if directory is not None else LocalUsedTokens()


def redis_url_from_env(env: Mapping[str, str]) -> str | None:
    return (env.get(REDIS_URL_ENV) or "").strip() or None
