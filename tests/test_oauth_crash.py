"""SIGKILL at random points of a rotation, again and again: the store always holds either a pair
the server accepts, or the recognised "rotated but never written" state that `doctor` explains."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import OAuthTestServer, client_env, seed_store, vendor_info, vendor_tools

from ledgermcp.server.oauth.config import settings_from_vendor
from ledgermcp.server.oauth.doctor import run_doctor
from ledgermcp.server.oauth.stores import FileStore
from ledgermcp.server.oauth.tokens import fingerprint

WORKER = os.path.join(os.path.dirname(__file__), "oauth_server.py")
RANDOM_KILLS = 24
FORCED_KILLS = 3  # killed by the server itself between its rotation and its answer


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


@pytest.mark.slow
def test_sigkill_mid_rotation(tmp_path):
    rng = random.Random(int(os.environ.get("LEDGERMCP_TEST_SEED", "6")))
    data = tmp_path / "data"
    outcomes = {"intact": 0, "intact_with_marker": 0, "lost_recognised": 0}
    with OAuthTestServer(expires_in=0) as server:
        env = {
            **client_env(),
            "LEDGERMCP_DATA_DIR": str(data),
            "LEDGERMCP_CONFIG_DIR": str(tmp_path / "cfg"),
            "LEDGERMCP_TOKEN_STORE": "file",
        }
        info = vendor_info(server.url)
        settings = settings_from_vendor(info, "default", env)
        store = FileStore(data / "tokens")
        seed_store(store, settings, server.new_chain(), env)
        for i in range(RANDOM_KILLS + FORCED_KILLS):
            forced = i >= RANDOM_KILLS
            server.refresh_delay = rng.uniform(0, 0.01)
            proc = subprocess.Popen(
                [sys.executable, WORKER, "worker", "--server", server.url, "--forever"],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                before = server.counts["refresh_ok"] + server.counts["invalid_grant"]
                # the worker is rotating (a dead lock from the previous kill would stall this)
                wait_for(
                    lambda b=before: server.counts["refresh_ok"] + server.counts["invalid_grant"] > b,
                    20,
                    "the worker to rotate",
                )
                if forced:
                    server.on_rotate = lambda p=proc: os.kill(p.pid, signal.SIGKILL)
                    wait_for(lambda p=proc: p.poll() is not None, 20, "the forced kill")
                else:
                    time.sleep(rng.uniform(0, 0.03))
                    proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                stderr = proc.stderr.read().decode()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stderr.close()
            assert "Traceback" not in stderr, stderr
            server.on_rotate = None
            record = store.load(settings.store_key)
            assert record is not None
            if server.accepts(record.refresh_token):
                outcomes["intact_with_marker" if record.pending else "intact"] += 1
                continue
            # the vendor rotated and the new pair never reached the store: recognised as such
            assert record.pending is not None, f"kill {i}: store holds a dead token without a marker"
            assert record.pending["refresh"] == fingerprint(record.refresh_token)
            checks = run_doctor(info, vendor_tools(), profile="default", store_kind="file", env=env)
            lines = "\n".join(c.line() for c in checks)
            assert "[FAIL] rotation: interrupted rotation" in lines, lines
            assert "ledgermcp login testvendor" in lines
            outcomes["lost_recognised"] += 1
            seed_store(store, settings, server.new_chain(), env)  # what `ledgermcp login` does
    print(f"kills: {outcomes}")
    assert sum(outcomes.values()) == RANDOM_KILLS + FORCED_KILLS >= 20
    assert outcomes["lost_recognised"] >= FORCED_KILLS
    assert outcomes["intact"] + outcomes["intact_with_marker"] >= 1
