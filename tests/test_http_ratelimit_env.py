"""`LEDGERMCP_<VENDOR>_RATE_LIMIT`: the user's override of the vendor's client-side rate limit
(`N/S` or `off`), its precedence, its effect on the client stack and its error for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from ledgermcp.server.cli import main
from ledgermcp.server.http.client import SettingsError, build_sync_client, resolve_rate_limit
from ledgermcp.server.http.errors import RATE_LIMIT_WAIT_KEY
from ledgermcp.server.http.ratelimit import RateLimit, parse_rate_limit
from ledgermcp.server.settings import env_table

VENDOR = {
    "name": "fakelimited",
    "base_url": "https://api.example.test",
    "rate_limit": {"requests": 25, "per_seconds": 5, "remaining_header": "X-Rate-Limit-Remaining"},
}
VAR = "LEDGERMCP_FAKELIMITED_RATE_LIMIT"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.mark.parametrize(
    ("text", "requests", "per_seconds"),
    [("100/1", 100, 1.0), ("25/5s", 25, 5.0), (" 10 / 0.5 s ", 10, 0.5), ("360/60", 360, 60.0)],
)
def test_parse_accepts_requests_per_seconds(text: str, requests: int, per_seconds: float) -> None:
    limit = parse_rate_limit(text)
    assert limit is not None and (limit.requests, limit.per_seconds) == (requests, per_seconds)


@pytest.mark.parametrize("text", ["off", "OFF", " Off "])
def test_parse_off_means_no_limit(text: str) -> None:
    assert parse_rate_limit(text) is None


@pytest.mark.parametrize(
    "text", ["", "fast", "100", "0/1", "10/0", "-1/5", "10/-2", "1.5/1", "5 per 1", "10/1m"]
)
def test_parse_rejects_anything_else_naming_the_forms(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rate_limit(text)
    assert repr(text) in str(info.value) and "N/S" in str(info.value) and "'off'" in str(info.value)


def test_precedence_argument_then_environment_then_vendor_table() -> None:
    assert resolve_rate_limit(VENDOR, env={}) == RateLimit(25, 5.0, "X-Rate-Limit-Remaining")
    # the override keeps the vendor's remaining-budget header
    assert resolve_rate_limit(VENDOR, env={VAR: "100/1"}) == RateLimit(100, 1.0, "X-Rate-Limit-Remaining")
    assert resolve_rate_limit(VENDOR, env={VAR: "off"}) is None
    assert resolve_rate_limit(VENDOR, RateLimit(3, 1.0), env={VAR: "off"}) == RateLimit(3, 1.0)
    # a vendor without a declared limit gets one only when asked
    assert resolve_rate_limit({"name": "fakelimited"}, env={}) is None
    assert resolve_rate_limit({"name": "fakelimited"}, env={VAR: "7/2"}) == RateLimit(7, 2.0)


def test_bad_value_is_a_settings_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as info:
        resolve_rate_limit(VENDOR, env={VAR: "lots"})
    assert VAR in str(info.value) and "'lots'" in str(info.value)
    assert info.value.hint is not None and "100/1" in info.value.hint and "off" in info.value.hint


def _send(env: dict[str, str], count: int) -> tuple[FakeClock, list[float]]:
    clock = FakeClock()
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        waits.append(request.extensions.get(RATE_LIMIT_WAIT_KEY, 0.0))
        return httpx.Response(200, json={})

    with build_sync_client(
        VENDOR, env=env, transport=httpx.MockTransport(handler), clock=clock, sleep=clock.sleep
    ) as client:
        for _ in range(count):
            assert client.get("/things").status_code == 200
    return clock, waits


def test_the_client_stack_follows_the_override() -> None:
    clock, waits = _send({}, 26)  # the vendor's 25 per 5 s: the 26th waits a full window
    assert clock.slept == pytest.approx(5.0) and waits[-1] == pytest.approx(5.0)
    clock, waits = _send({VAR: "2/10"}, 3)
    assert clock.slept == pytest.approx(10.0) and waits == [0.0, 0.0, pytest.approx(10.0)]
    clock, waits = _send({VAR: "off"}, 200)
    assert clock.slept == 0.0 and len(waits) == 200 and set(waits) == {0.0}


def test_env_listing_shows_the_variable_and_the_vendor_default(capsys: pytest.CaptureFixture[str]) -> None:
    rows = {r["name"]: r for r in env_table(VENDOR)}
    assert rows[VAR]["kind"] == "rate_limit" and not rows[VAR]["secret"]
    assert "25/5" in rows[VAR]["purpose"] and "off" in rows[VAR]["purpose"]
    assert main(["tools", "fortnox", "--env"]) == 0
    line = next(
        x for x in capsys.readouterr().out.splitlines() if x.startswith("LEDGERMCP_FORTNOX_RATE_LIMIT ")
    )
    assert "25/5" in line and "100/1" in line


def test_serve_refuses_a_bad_rate_limit_without_traceback(tmp_path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEDGERMCP_", "FORTNOX_"))},
        "LEDGERMCP_FORTNOX_RATE_LIMIT": "as fast as possible",
        "LEDGERMCP_DATA_DIR": str(tmp_path / "data"),
        "LEDGERMCP_CONFIG_DIR": str(tmp_path / "config"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "ledgermcp", "serve", "fortnox"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "LEDGERMCP_FORTNOX_RATE_LIMIT" in out.stderr and "'as fast as possible'" in out.stderr
