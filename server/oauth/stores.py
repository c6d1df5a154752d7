"""Token stores: where one vendor and profile's `TokenRecord` lives, and the lock that serialises
its rotation.

Every store offers the same four operations, keyed by ``"<vendor>/<profile>"``:

* ``load(key)`` — the current record or ``None``;
* ``acquire(key)`` — a `Lease` on the key's rotation lock (blocks up to a timeout);
* ``save(key, record, lease)`` — compare-and-set: succeeds only while the lease is held and only if
  the stored generation still equals ``record.generation``; writes generation + 1;
* ``release(lease)``.

`FileStore` (default) keeps one JSON file per key under the user data directory, written
atomically, with an OS file lock that dies with its holder. `KeyringStore` keeps the record in the
OS keyring and locks with a local file lock. `RedisStore` is for replicas on several hosts: the
lock is a key with an expiry that its holder renews while alive, each lease carries a fencing
number, and writes are a Lua compare-and-set on the lease, the fence and the generation.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgermcp.server.files import atomic_write, fsync_dir, private_dir
from ledgermcp.server.oauth.errors import LockTimeout, StaleWriteError, StoreError, StoreUnavailable
from ledgermcp.server.oauth.tokens import TokenRecord

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_LOCK_TIMEOUT = 60.0


def check_key(key: str) -> tuple[str, str]:
    vendor, _, profile = key.partition("/")
    if not NAME_RE.match(vendor) or not NAME_RE.match(profile):
        raise StoreError(
            f"invalid store key {key!r}: expected <vendor>/<profile> made of letters, digits, _ . -"
        )
    return vendor, profile


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("LEDGERMCP_DATA_DIR"):
        return Path(env["LEDGERMCP_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("ledgermcp", appauthor=False))


def _decode(raw: bytes | str, where: str) -> TokenRecord:
    try:
        return TokenRecord.from_dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise StoreError(
            f"the token record in {where} is not readable ({type(exc).__name__})",
            hint="remove it and log in again",
        ) from None


def _encode(record: TokenRecord) -> bytes:
    return json.dumps(record.to_dict(), indent=1, sort_keys=True).encode()


@dataclass
class Lease:
    """Proof that the holder owns a key's rotation lock. `fence` grows with every lease granted on
    the key (Redis); a write carrying a smaller fence than the last one is refused."""

    key: str
    fence: int = 0
    handle: Any = field(default=None, repr=False)
    lost: bool = False
    acquired_at: float = field(default_factory=time.monotonic)


class TokenStore:
    kind = "abstract"

    def load(self, key: str) -> TokenRecord | None:
        raise NotImplementedError

    def acquire(self, key: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Lease:
        raise NotImplementedError

    def release(self, lease: Lease) -> None:
        raise NotImplementedError

    def save(self, key: str, record: TokenRecord, lease: Lease) -> TokenRecord:
        raise NotImplementedError

    def delete(self, key: str, lease: Lease) -> None:
        raise NotImplementedError

    def keys(self) -> list[str]:
        return []

    def lock_held(self, key: str) -> bool | None:
        """Is somebody holding the key's lock right now? `None` when the store cannot tell."""
        return None

    def location(self, key: str | None = None) -> str:
        return self.kind

    @contextlib.contextmanager
    def locked(self, key: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[Lease]:
        lease = self.acquire(key, timeout)
        try:
            yield lease
        finally:
            self.release(lease)

    def _stamp(self, record: TokenRecord, generation: int) -> TokenRecord:
        return record.evolve(generation=generation, updated_at=time.time())


# --------------------------------------------------------------------------------------------
# file


class _LocalLockMixin:
    """A cross-process lock on a local file (flock/fcntl via `filelock`); the kernel drops it when
    its holder dies, so a dead process never blocks the others."""

    def _lock_path(self, key: str) -> Path:
        raise NotImplementedError

    def acquire(self, key: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Lease:
        import filelock

        check_key(key)
        path = self._lock_path(key)
        private_dir(path.parent)
        # a fresh, non-thread-local lock object per lease: two leases in one process exclude
        # each other like two processes do, and the async flow may release from another thread
        lock = filelock.FileLock(str(path), timeout=timeout, mode=0o600, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise LockTimeout(
                f"the token refresh lock for {key} was busy for {timeout:.0f}s",
                hint=f"another process is refreshing; if none is, remove {path}",
            ) from None
        return Lease(key=key, handle=lock)

    def release(self, lease: Lease) -> None:
        if lease.handle is not None:
            lease.handle.release(force=True)
            lease.handle = None

    def _check_lease(self, key: str, lease: Lease) -> None:
        if lease.key != key or lease.handle is None or not lease.handle.is_locked:
            raise StaleWriteError(f"write to {key} without holding its lock")

    def lock_held(self, key: str) -> bool | None:
        import filelock

        path = self._lock_path(key)
        if not path.exists():
            return False
        probe = filelock.FileLock(str(path), timeout=0, mode=0o600, thread_local=False)
        try:
            probe.acquire(timeout=0)
        except filelock.Timeout:
            return True
        probe.release(force=True)
        return False


class FileStore(_LocalLockMixin, TokenStore):
    """One JSON file per key: ``<root>/tokens/<vendor>/<profile>.json``, mode 0600 in 0700
    directories."""

    kind = "file"

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir() / "tokens"

    def path(self, key: str) -> Path:
        vendor, profile = check_key(key)
        return self.root / vendor / f"{profile}.json"

    def _lock_path(self, key: str) -> Path:
        return self.path(key).with_suffix(".lock")

    def location(self, key: str | None = None) -> str:
        return str(self.path(key) if key else self.root)

    def load(self, key: str) -> TokenRecord | None:
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from None
        return _decode(raw, str(path))

    def save(self, key: str, record: TokenRecord, lease: Lease) -> TokenRecord:
        self._check_lease(key, lease)
        path = self.path(key)
        private_dir(self.root)
        private_dir(path.parent)
        current = self.load(key)
        current_gen = current.generation if current else 0
        if current_gen != record.generation:
            raise StaleWriteError(
                f"the token record for {key} changed underneath (generation {current_gen}, expected {record.generation})"
            )
        new = self._stamp(record, current_gen + 1)
        atomic_write(path, _encode(new))
        return new

    def delete(self, key: str, lease: Lease) -> None:
        self._check_lease(key, lease)
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for vendor_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for f in sorted(vendor_dir.glob("*.json")):
                if not f.name.startswith("."):
                    found.append(f"{vendor_dir.name}/{f.stem}")
        return found


# --------------------------------------------------------------------------------------------
# keyring

KEYRING_SERVICE = "ledgermcp"


def _usable_keyring(backend: Any) -> bool:
    """False for keyring's fail and null backends, anything it ranks at priority 0 or below, and a
    chain with nothing in it (it accepts every write and keeps none)."""
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return False
    if module.startswith("keyring.backends.chainer"):
        # its priority is low even when it chains one good backend; what counts is that one
        return bool(getattr(backend, "backends", None))
    priority = getattr(backend, "priority", 0)
    return not (isinstance(priority, int | float) and priority <= 0)


class KeyringStore(_LocalLockMixin, TokenStore):
    """The record as one secret in the OS keyring (service ``ledgermcp``, user ``<vendor>/<profile>``);
    the rotation lock is a local file lock beside the data directory."""

    kind = "keyring"

    def __init__(self, lock_root: Path | str | None = None, *, backend: Any = None) -> None:
        import keyring

        self._keyring = keyring
        self._backend = backend or keyring.get_keyring()
        if not _usable_keyring(self._backend):
            raise StoreUnavailable(
                f"no usable OS keyring backend here ({type(self._backend).__name__})",
                hint="use LEDGERMCP_TOKEN_STORE=file (the default), or install a keyring backend "
                "(e.g. Secret Service with a running keyring daemon)",
            )
        self.lock_root = Path(lock_root) if lock_root is not None else data_dir() / "locks"

    def _lock_path(self, key: str) -> Path:
        vendor, profile = check_key(key)
        return self.lock_root / f"{vendor}.{profile}.lock"

    def location(self, key: str | None = None) -> str:
        return f"OS keyring ({type(self._backend).__name__}), service {KEYRING_SERVICE!r}" + (
            f", entry {key!r}" if key else ""
        )

    def load(self, key: str) -> TokenRecord | None:
        check_key(key)
        try:
            raw = self._backend.get_password(KEYRING_SERVICE, key)
        except Exception as exc:
            raise StoreUnavailable(f"the OS keyring failed to read: {type(exc).__name__}") from None
        return None if raw is None else _decode(raw, f"keyring entry {key!r}")

    def save(self, key: str, record: TokenRecord, lease: Lease) -> TokenRecord:
        self._check_lease(key, lease)
        current = self.load(key)
        current_gen = current.generation if current else 0
        if current_gen != record.generation:
            raise StaleWriteError(f"the token record for {key} changed underneath")
        new = self._stamp(record, current_gen + 1)
        try:
            self._backend.set_password(KEYRING_SERVICE, key, _encode(new).decode())
        except Exception as exc:
            raise StoreUnavailable(f"the OS keyring failed to write: {type(exc).__name__}") from None
        return new

    def delete(self, key: str, lease: Lease) -> None:
        self._check_lease(key, lease)
        with contextlib.suppress(Exception):
            self._backend.delete_password(KEYRING_SERVICE, key)


# --------------------------------------------------------------------------------------------
# redis

_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local f = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. ':' .. f, 'PX', ARGV[2])
return f
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_SAVE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local cur = redis.call('hmget', KEYS[2], 'generation', 'fence')
local gen = tonumber(cur[1] or '0')
local fence = tonumber(cur[2] or '0')
if fence > tonumber(ARGV[2]) then return -2 end
if gen ~= tonumber(ARGV[3]) then return -3 end
redis.call('hset', KEYS[2], 'data', ARGV[4], 'generation', gen + 1, 'fence', ARGV[2])
return gen + 1
"""
_DELETE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('del', KEYS[2])
return 1
"""


def redact_url(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", url)


class RedisStore(TokenStore):
    """Shared state for replicas on several hosts.

    The lock is ``SET lock <owner>:<fence> NX PX <ttl>`` done in Lua together with ``INCR`` of the
    fence counter. While held, a daemon thread renews the expiry every ttl/3, so a live holder keeps
    the lock however long the token endpoint takes, and a dead holder's lock lapses after at most
    `lock_ttl` seconds. A write is refused unless the lock still carries this lease's value, no
    higher fence has written, and the stored generation is the one the writer read: a holder that
    was paused past its expiry and woke up cannot overwrite its successor's tokens.
    """

    kind = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str = "ledgermcp",
        lock_ttl: float | None = None,
        client: Any = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.url = url or env.get("LEDGERMCP_REDIS_URL")
        if client is None:
            if not self.url:
                raise StoreUnavailable(
                    "the Redis token store needs a URL", hint="set LEDGERMCP_REDIS_URL=redis://host:6379/0"
                )
            try:
                import redis
            except ImportError:
                raise StoreUnavailable(
                    "the Redis token store needs the 'redis' package", hint="pip install 'ledgermcp[redis]'"
                ) from None
            client = redis.Redis.from_url(self.url, socket_timeout=10, socket_connect_timeout=5)
        self.r = client
        self.namespace = namespace
        ttl = lock_ttl if lock_ttl is not None else float(env.get("LEDGERMCP_REDIS_LOCK_TTL", "30"))
        self.lock_ttl_ms = max(int(ttl * 1000), 100)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._acquire = self.r.register_script(_ACQUIRE)
        self._renew = self.r.register_script(_RENEW)
        self._release = self.r.register_script(_RELEASE)
        self._save = self.r.register_script(_SAVE)
        self._delete = self.r.register_script(_DELETE)

    def _k(self, key: str, what: str) -> str:
        check_key(key)
        return f"{self.namespace}:{{{key}}}:{what}"  # one hash slot per key (Redis Cluster)

    def location(self, key: str | None = None) -> str:
        return f"Redis {redact_url(self.url or '(client)')}" + (
            f" key {self._k(key, 'tokens')}" if key else ""
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"Redis at {redact_url(self.url or '(client)')} failed: {type(exc).__name__}",
                hint="check LEDGERMCP_REDIS_URL and that Redis is up",
            ) from None

    def load(self, key: str) -> TokenRecord | None:
        raw = self._call(self.r.hget, self._k(key, "tokens"), "data")
        return None if raw is None else _decode(raw, self.location(key))

    def acquire(self, key: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Lease:
        import random

        lock_key, fence_key = self._k(key, "lock"), self._k(key, "fence")
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            fence = int(
                self._call(self._acquire, keys=[lock_key, fence_key], args=[self.owner, self.lock_ttl_ms])
            )
            if fence:
                lease = Lease(key=key, fence=fence)
                value = f"{self.owner}:{fence}"
                stop = threading.Event()
                thread = threading.Thread(
                    target=self._keep_alive,
                    args=(lease, lock_key, value, stop),
                    daemon=True,
                    name="ledgermcp-lease",
                )
                lease.handle = (lock_key, value, stop, thread)
                thread.start()
                return lease
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"the token refresh lock for {key} in Redis was busy for {timeout:.0f}s",
                    hint="another replica is refreshing; a dead holder's lock lapses after "
                    f"{self.lock_ttl_ms / 1000:.0f}s",
                )
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.03)

    def _keep_alive(self, lease: Lease, lock_key: str, value: str, stop: threading.Event) -> None:
        interval = self.lock_ttl_ms / 3000
        while not stop.wait(interval):
            try:
                ok = self._renew(keys=[lock_key], args=[value, self.lock_ttl_ms])
            except Exception:
                ok = None  # transient; the next tick tries again, the write checks anyway
            if ok == 0:
                lease.lost = True
                return

    def release(self, lease: Lease) -> None:
        if lease.handle is None:
            return
        lock_key, value, stop, thread = lease.handle
        lease.handle = None
        stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=1)
        with contextlib.suppress(Exception):
            self._release(keys=[lock_key], args=[value])

    def save(self, key: str, record: TokenRecord, lease: Lease) -> TokenRecord:
        if lease.key != key or lease.handle is None:
            raise StaleWriteError(f"write to {key} without holding its lock")
        lock_key, value, _stop, _thread = lease.handle
        new = self._stamp(record, record.generation + 1)
        result = int(
            self._call(
                self._save,
                keys=[lock_key, self._k(key, "tokens")],
                args=[value, lease.fence, record.generation, _encode(new)],
            )
        )
        if result == -1:
            lease.lost = True
            raise StaleWriteError(
                f"the refresh lock for {key} expired before the write (fence {lease.fence})"
            )
        if result == -2:
            raise StaleWriteError(
                f"a newer lease already wrote {key}; this write (fence {lease.fence}) is refused"
            )
        if result == -3:
            raise StaleWriteError(f"the token record for {key} changed underneath")
        return new

    def delete(self, key: str, lease: Lease) -> None:
        if lease.handle is None:
            raise StaleWriteError(f"delete of {key} without holding its lock")
        lock_key, value, _stop, _thread = lease.handle
        if int(self._call(self._delete, keys=[lock_key, self._k(key, "tokens")], args=[value])) != 1:
            raise StaleWriteError(f"the refresh lock for {key} expired before the delete")

    def lock_held(self, key: str) -> bool | None:
        return bool(self._call(self.r.exists, self._k(key, "lock")))

    def keys(self) -> list[str]:
        found = []
        for raw in self._call(self.r.scan_iter, match=f"{self.namespace}:{{*}}:tokens", count=200):
            name = raw.decode() if isinstance(raw, bytes) else raw
            found.append(name[len(self.namespace) + 2 : -len("}:tokens")])
        return sorted(found)


# --------------------------------------------------------------------------------------------

STORE_KINDS = ("file", "keyring", "redis")


def open_store(
    kind: str | None = None, *, redis_url: str | None = None, env: Mapping[str, str] | None = None
) -> TokenStore:
    """The store chosen by flag (`kind`), else `LEDGERMCP_TOKEN_STORE`, else the file store."""
    env = os.environ if env is None else env
    kind = (kind or env.get("LEDGERMCP_TOKEN_STORE") or "file").strip().lower()
    if kind == "file":
        return FileStore(data_dir(env) / "tokens")
    if kind == "keyring":
        return KeyringStore(data_dir(env) / "locks")
    if kind == "redis":
        return RedisStore(redis_url, env=env)
    raise StoreError(
        f"unknown token store {kind!r}",
        hint=f"LEDGERMCP_TOKEN_STORE must be one of: {', '.join(STORE_KINDS)}",
    )
