"""Token stores: file (atomic, private, CAS), keyring (clear error without a backend), Redis (lock
with expiry renewed while alive, lapses for the dead, fencing refuses a paused holder's write)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import httpx
import keyring.backend
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import OAuthTestServer, RedisServer, client_env, seed_store, vendor_info

from ledgermcp.server.oauth.errors import LockTimeout, StaleWriteError, StoreError, StoreUnavailable
from ledgermcp.server.oauth.stores import FileStore, KeyringStore, RedisStore, open_store
from ledgermcp.server.oauth.tokens import TokenRecord

KEY = "testvendor/default"


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))


def test_file_store_private_atomic_and_compare_and_set(tmp_path):
    store = FileStore(tmp_path / "tokens")
    with store.locked(KEY) as lease:
        saved = store.save(KEY, TokenRecord(access_token="at_x", refresh_token="rt_x"), lease)
    assert saved.generation == 1
    path = store.path(KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert store.load(KEY).refresh_token == "rt_x"
    # a writer that read generation 0 lost the race: refused
    with store.locked(KEY) as lease, pytest.raises(StaleWriteError):
        store.save(KEY, TokenRecord(refresh_token="rt_old"), lease)
    # no lease, no write
    lease = store.acquire(KEY)
    store.release(lease)
    with pytest.raises(StaleWriteError):
        store.save(KEY, saved, lease)
    assert store.keys() == [KEY]


def test_file_store_corrupt_record_is_a_clear_error_without_content(tmp_path):
    store = FileStore(tmp_path / "tokens")
    store.path(KEY).parent.mkdir(parents=True)
    store.path(KEY).write_text('{"refresh_token": "rt_half')
    with pytest.raises(StoreError) as info:
        store.load(KEY)
    assert "rt_half" not in str(info.value) and "log in again" in str(info.value)


def test_file_lock_dies_with_its_holder(tmp_path):
    store = FileStore(tmp_path / "tokens")
    code = textwrap.dedent(
        f"""
        import sys, time
        from ledgermcp.server.oauth.stores import FileStore
        lease = FileStore({str(tmp_path / "tokens")!r}).acquire({KEY!r})
        print("held", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert store.lock_held(KEY) is True
        with pytest.raises(LockTimeout):
            store.acquire(KEY, timeout=0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        started = time.monotonic()
        with store.locked(KEY, timeout=5):
            pass
        assert time.monotonic() - started < 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


def test_keyring_store_roundtrip(tmp_path):
    backend = MemoryKeyring()
    store = KeyringStore(tmp_path / "locks", backend=backend)
    with store.locked(KEY) as lease:
        store.save(KEY, TokenRecord(refresh_token="rt_k"), lease)
    assert store.load(KEY).refresh_token == "rt_k"
    assert ("ledgermcp", KEY) in backend.items
    with store.locked(KEY) as lease, pytest.raises(StaleWriteError):
        store.save(KEY, TokenRecord(refresh_token="rt_other"), lease)


def test_keyring_store_without_backend_is_a_clear_error(tmp_path):
    from keyring.backends import fail

    with pytest.raises(StoreUnavailable) as info:
        KeyringStore(tmp_path / "locks", backend=fail.Keyring())
    assert "LEDGERMCP_TOKEN_STORE=file" in str(info.value)


def test_open_store_choice(tmp_path):
    assert isinstance(open_store(env={"LEDGERMCP_DATA_DIR": str(tmp_path)}), FileStore)
    with pytest.raises(StoreUnavailable):
        open_store("redis", env={})
    with pytest.raises(StoreError):
        open_store(env={"LEDGERMCP_TOKEN_STORE": "floppy"})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    yield server.url
    server.stop()


def test_redis_lock_is_kept_alive_while_held(redis_url):
    # a ttl well above a busy machine's scheduling hiccups, so only a missing renewal can lose it
    a = RedisStore(redis_url, lock_ttl=0.8, namespace="t1")
    b = RedisStore(redis_url, lock_ttl=0.8, namespace="t1")
    lease = a.acquire(KEY)
    try:
        time.sleep(2.6)  # more than three expiry periods: the renewals keep it
        with pytest.raises(LockTimeout):
            b.acquire(KEY, timeout=0.5)
        assert not lease.lost
        a.save(KEY, TokenRecord(refresh_token="rt_a"), lease)
    finally:
        a.release(lease)
    b.release(b.acquire(KEY, timeout=1))


def test_redis_lock_of_a_dead_holder_lapses(redis_url):
    code = textwrap.dedent(
        f"""
        import time
        from ledgermcp.server.oauth.stores import RedisStore
        s = RedisStore({redis_url!r}, lock_ttl=1.0, namespace="t2")
        lease = s.acquire({KEY!r})
        print("held", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        other = RedisStore(redis_url, lock_ttl=1.0, namespace="t2")
        assert other.lock_held(KEY)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        started = time.monotonic()
        lease = other.acquire(KEY, timeout=5)
        waited = time.monotonic() - started
        other.release(lease)
        assert waited < 3.0  # about one expiry period (1 s) after the last renewal, plus slack
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_redis_fencing_refuses_a_paused_holder(redis_url):
    a = RedisStore(redis_url, lock_ttl=0.2, namespace="t3")
    b = RedisStore(redis_url, lock_ttl=5, namespace="t3")
    lease_a = a.acquire(KEY)
    lease_a.handle[2].set()  # a stops renewing: paused (GC, SIGSTOP, lost network)
    time.sleep(0.4)
    lease_b = b.acquire(KEY, timeout=2)
    assert lease_b.fence > lease_a.fence
    b.save(KEY, TokenRecord(refresh_token="rt_b"), lease_b)
    with pytest.raises(StaleWriteError):
        a.save(KEY, TokenRecord(refresh_token="rt_a_late", generation=0), lease_a)
    a.release(lease_a)  # must not free b's lock
    assert b.lock_held(KEY)
    b.release(lease_b)
    assert b.load(KEY).refresh_token == "rt_b"


def test_redis_compare_and_set_on_generation(redis_url):
    s = RedisStore(redis_url, namespace="t4")
    with s.locked(KEY) as lease:
        first = s.save(KEY, TokenRecord(refresh_token="rt_1"), lease)
    with s.locked(KEY) as lease:
        with pytest.raises(StaleWriteError):
            s.save(KEY, TokenRecord(refresh_token="rt_stale", generation=0), lease)
        s.save(KEY, first.evolve(refresh_token="rt_2"), lease)
    assert s.load(KEY).refresh_token == "rt_2"
    assert s.keys() == [KEY]


class FlakyStore(FileStore):
    """Loses its lease once, right when the rotated pair is written."""

    tripped = False

    def save(self, key, record, lease):
        if record.access_token and record.pending is None and not self.tripped:
            self.tripped = True
            raise StaleWriteError("lease lapsed")
        return super().save(key, record, lease)


def test_rotated_pair_is_rescued_when_the_lease_lapsed(tmp_path):
    from ledgermcp.server.oauth.auth import RotatingTokenAuth
    from ledgermcp.server.oauth.config import settings_from_vendor

    with OAuthTestServer() as server:
        settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
        store = FlakyStore(tmp_path / "tokens")
        seed_store(store, settings, server.new_chain())
        with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client:
            assert client.get(f"{server.url}/api/ping").status_code == 200
        assert store.tripped
        assert server.accepts(store.load(KEY).refresh_token)
