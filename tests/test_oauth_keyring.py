"""The keyring token store against a real keyring backend that works without a desktop session
(`keyrings.alt`'s file keyring): store, load, rotate, delete, selection through the environment,
and the clear error when no usable keyring exists."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import keyring
import keyring.backend
import pytest
from keyring.backends import chainer, fail, null
from keyrings.alt.file import PlaintextKeyring
from oauth_server import OAuthTestServer, client_env, seed_store, vendor_info

from ledgermcp.server.oauth.auth import RotatingTokenAuth
from ledgermcp.server.oauth.config import settings_from_vendor
from ledgermcp.server.oauth.errors import StaleWriteError, StoreUnavailable
from ledgermcp.server.oauth.stores import KEYRING_SERVICE, KeyringStore, open_store
from ledgermcp.server.oauth.tokens import TokenRecord

KEY = "testvendor/default"
OTHER = "testvendor/acme"
FIRST_ACCESS_TOKEN = "at_keyring-first-0b1c2d"
FIRST_REFRESH_TOKEN = "rt_keyring-first-3e4f5a"
NEXT_REFRESH_TOKEN = "rt_keyring-next-6b7c8d"


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERMCP_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def file_keyring(tmp_path: Path) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")  # never the user's own
    return backend


def reopened(backend: PlaintextKeyring) -> PlaintextKeyring:
    """A second backend object on the same file: what another process would see."""
    again = PlaintextKeyring()
    again.file_path = backend.file_path
    return again


def test_store_load_rotate_delete_on_a_real_keyring(tmp_path: Path, file_keyring: PlaintextKeyring) -> None:
    store = KeyringStore(tmp_path / "locks", backend=file_keyring)
    assert store.load(KEY) is None
    with store.locked(KEY) as lease:
        first = store.save(
            KEY, TokenRecord(access_token=FIRST_ACCESS_TOKEN, refresh_token=FIRST_REFRESH_TOKEN), lease
        )
        store.save(OTHER, TokenRecord(refresh_token="rt_keyring-other-9e0f1a"), store.acquire(OTHER))
    assert first.generation == 1
    # persisted in the keyring file, readable by a fresh backend object (another process)
    assert stat.S_IMODE(Path(file_keyring.file_path).stat().st_mode) == 0o600
    assert reopened(file_keyring).get_password(KEYRING_SERVICE, KEY) is not None
    loaded = KeyringStore(tmp_path / "locks", backend=reopened(file_keyring)).load(KEY)
    assert loaded is not None and loaded.refresh_token == FIRST_REFRESH_TOKEN
    assert loaded.access_token == FIRST_ACCESS_TOKEN and loaded.generation == 1

    # rotate: compare-and-set on the generation read
    with store.locked(KEY) as lease:
        rotated = store.save(KEY, loaded.evolve(refresh_token=NEXT_REFRESH_TOKEN, access_token=None), lease)
    assert rotated.generation == 2 and store.load(KEY).refresh_token == NEXT_REFRESH_TOKEN
    # a writer that still holds generation 1 lost the race and is refused
    with store.locked(KEY) as lease, pytest.raises(StaleWriteError):
        store.save(KEY, loaded.evolve(refresh_token="rt_keyring-stale-2b3c4d"), lease)
    assert store.load(KEY).refresh_token == NEXT_REFRESH_TOKEN
    # no lease, no write
    released = store.acquire(KEY)
    store.release(released)
    with pytest.raises(StaleWriteError):
        store.save(KEY, rotated, released)

    with store.locked(KEY) as lease:
        store.delete(KEY, lease)
    assert store.load(KEY) is None
    assert reopened(file_keyring).get_password(KEYRING_SERVICE, KEY) is None
    assert store.load(OTHER).refresh_token == "rt_keyring-other-9e0f1a"  # the other profile is untouched
    with store.locked(KEY) as lease:  # deleting what is gone is fine
        store.delete(KEY, lease)


def test_token_rotation_through_the_keyring_store_chosen_by_environment(
    tmp_path: Path, file_keyring: PlaintextKeyring
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(file_keyring)
    try:
        store = open_store(
            env={"LEDGERMCP_TOKEN_STORE": "keyring", "LEDGERMCP_DATA_DIR": str(tmp_path / "data")}
        )
        assert isinstance(store, KeyringStore) and "PlaintextKeyring" in store.location(KEY)
        with OAuthTestServer(expires_in=0) as server:  # every call needs a fresh access token
            settings = settings_from_vendor(vendor_info(server.url), "default", client_env())
            seed_store(store, settings, server.new_chain())
            with httpx.Client(auth=RotatingTokenAuth(settings, store)) as client:
                for _ in range(4):
                    assert client.get(f"{server.url}/api/ping").status_code == 200
            record = KeyringStore(tmp_path / "locks", backend=reopened(file_keyring)).load(settings.store_key)
            assert server.counts["refresh_ok"] >= 3 and server.counts["invalid_grant"] == 0
            assert record is not None and server.accepts(record.refresh_token)
            assert record.generation >= 1 + server.counts["refresh_ok"]  # the login, then each rotation
            assert server.live_refresh_tokens() == [record.refresh_token]
    finally:
        keyring.set_keyring(previous)


def run(code: str, tmp_path: Path, backend: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGERMCP_", "PYTHON_KEYRING"))}
    env.update(
        PYTHON_KEYRING_BACKEND=backend,
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        LEDGERMCP_DATA_DIR=str(tmp_path / "data"),
        LEDGERMCP_CONFIG_DIR=str(tmp_path / "config"),
        LEDGERMCP_TOKEN_STORE="keyring",
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_keyring_backend_named_by_python_keyring_backend_is_used(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from ledgermcp.server.oauth.stores import open_store
        from ledgermcp.server.oauth.tokens import TokenRecord
        store = open_store()
        with store.locked({KEY!r}) as lease:
            store.save({KEY!r}, TokenRecord(refresh_token={FIRST_REFRESH_TOKEN!r}), lease)
        print(store.location())
        """
    )
    out = run(code, tmp_path, "keyrings.alt.file.PlaintextKeyring")
    assert out.returncode == 0, out.stderr
    assert "OS keyring (PlaintextKeyring)" in out.stdout
    written = tmp_path / "xdg" / "python_keyring" / "keyring_pass.cfg"
    backend = PlaintextKeyring()
    backend.file_path = str(written)
    assert KeyringStore(tmp_path / "locks", backend=backend).load(KEY).refresh_token == FIRST_REFRESH_TOKEN


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"])
def test_no_usable_keyring_is_a_clear_error_from_the_cli(tmp_path: Path, backend: str) -> None:
    code = "import sys; from ledgermcp.server.cli import main; sys.exit(main(['logout', 'fortnox']))"
    out = run(code, tmp_path, backend)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no usable OS keyring backend" in out.stderr and "LEDGERMCP_TOKEN_STORE=file" in out.stderr


def test_unusable_backends_are_refused_up_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for backend in (fail.Keyring(), null.Keyring()):
        with pytest.raises(StoreUnavailable, match="no usable OS keyring backend"):
            KeyringStore(tmp_path / "locks", backend=backend)
    # a chain of keyrings is fine while it holds one ...
    assert len(chainer.ChainerBackend().backends) >= 1
    KeyringStore(tmp_path / "locks", backend=chainer.ChainerBackend())
    # ... but an empty one would accept every write and keep nothing
    monkeypatch.setattr(keyring.backend, "_limit", lambda candidate: False)
    assert chainer.ChainerBackend().backends == []
    with pytest.raises(StoreUnavailable) as info:
        KeyringStore(tmp_path / "locks", backend=chainer.ChainerBackend())
    assert "ChainerBackend" in str(info.value) and "LEDGERMCP_TOKEN_STORE=file" in str(info.value)
