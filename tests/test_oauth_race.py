"""Eight processes, fifty calls each, every call needing a new token (the server advertises
expires_in=0), all at once: no refresh token is ever used twice, and the store ends holding the one
refresh token the server still accepts. Once over a shared file store, once over Redis with each
process acting as a separate host (own data directory, no shared lock file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import CLIENT_SECRET, OAuthTestServer, RedisServer, client_env, seed_store, vendor_info

from ledgermcp.server.oauth.config import settings_from_vendor
from ledgermcp.server.oauth.stores import FileStore, RedisStore

PROCESSES = 8
CALLS = 50
WORKER = os.path.join(os.path.dirname(__file__), "oauth_server.py")


def run_workers(server_url: str, style: str, envs: list[dict[str, str]], timeout: float = 90) -> list[dict]:
    procs = []
    try:
        for env in envs:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        WORKER,
                        "worker",
                        "--server",
                        server_url,
                        "--style",
                        style,
                        "--calls",
                        str(CALLS),
                    ],
                    env={**os.environ, **env},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + timeout
        results = []
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert p.returncode == 0, err[-2000:]
            results.append({**json.loads(out.strip().splitlines()[-1]), "stderr": err, "stdout": out})
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def check(server: OAuthTestServer, results: list[dict], stored_refresh: str | None) -> None:
    total_ok = sum(r["ok"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    assert errors == []
    assert total_ok == PROCESSES * CALLS
    assert server.counts["invalid_grant"] == 0
    assert server.counts["ping_401"] == 0
    # every call needed a token, and each was obtained exactly once from a live refresh token
    assert server.counts["refresh_ok"] == PROCESSES * CALLS
    assert sum(r["refreshes"] for r in results) == PROCESSES * CALLS
    assert server.live_refresh_tokens() == [stored_refresh]
    # nothing secret reached the workers' output
    text = "".join(r["stderr"] + r["stdout"] for r in results)
    for secret in [*server.issued, CLIENT_SECRET]:
        assert secret not in text


@pytest.mark.slow
def test_race_file_store(tmp_path):
    data = tmp_path / "data"
    with OAuthTestServer(expires_in=0) as server:
        env = {
            **client_env(),
            "LEDGERMCP_DATA_DIR": str(data),
            "LEDGERMCP_CONFIG_DIR": str(tmp_path / "cfg"),
            "LEDGERMCP_TOKEN_STORE": "file",
        }
        settings = settings_from_vendor(vendor_info(server.url), "default", env)
        store = FileStore(data / "tokens")
        seed_store(store, settings, server.new_chain(), env)
        started = time.monotonic()
        results = run_workers(server.url, "json", [env] * PROCESSES)
        elapsed = time.monotonic() - started
        record = store.load(settings.store_key)
        check(server, results, record.refresh_token)
        assert record.pending is None
        assert elapsed < 90
        print(
            f"file store: {PROCESSES}x{CALLS} calls, {server.counts['refresh_ok']} rotations in {elapsed:.1f}s"
        )


@pytest.mark.slow
def test_race_redis_store_across_hosts(tmp_path):
    redis_server = RedisServer(str(tmp_path))
    try:
        with OAuthTestServer(expires_in=0) as server:
            envs = []
            for i in range(PROCESSES):
                envs.append(
                    {
                        **client_env(),
                        # each "host" has its own disk: nothing is shared but Redis
                        "LEDGERMCP_DATA_DIR": str(tmp_path / f"host{i}" / "data"),
                        "LEDGERMCP_CONFIG_DIR": str(tmp_path / f"host{i}" / "cfg"),
                        "LEDGERMCP_TOKEN_STORE": "redis",
                        "LEDGERMCP_REDIS_URL": redis_server.url,
                        "LEDGERMCP_REDIS_LOCK_TTL": "5",
                    }
                )
            settings = settings_from_vendor(vendor_info(server.url, "form"), "default", envs[0])
            store = RedisStore(redis_server.url)
            seed_store(store, settings, server.new_chain(), envs[0])
            started = time.monotonic()
            results = run_workers(server.url, "form", envs)
            elapsed = time.monotonic() - started
            record = store.load(settings.store_key)
            check(server, results, record.refresh_token)
            assert record.pending is None
            assert not any((tmp_path / f"host{i}" / "data").exists() for i in range(PROCESSES))
            print(
                f"redis store: {PROCESSES}x{CALLS} calls, {server.counts['refresh_ok']} rotations in {elapsed:.1f}s"
            )
    finally:
        redis_server.stop()
