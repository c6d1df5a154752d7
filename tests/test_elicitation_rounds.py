"""Approval by elicitation, round by round, with the official client in process.

On 2026-07-28 the question travels in an InputRequiredResult and the answer in the retry, together
with a state bound to the plan: a forged, reused or other plan's state gets the question again and
sends nothing. Clients that cannot be asked get the plan-bound token, in both protocol eras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from ledgermcp.server.app import APPROVAL_INPUT, App, create_app
from ledgermcp.server.catalog import load_vendor
from ledgermcp.server.safety import SafetyOptions


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(tmp_path: Path) -> App:
    safety = SafetyOptions(approve="destructive", snapshot_dir=str(tmp_path / "snapshots"), audit_log="-")
    return create_app(load_vendor("fortnox"), sandbox=True, environ={}, safety=safety)


def writes(app: App) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in app.sandbox.requests if r.method != "GET"]


async def never_called(ctx: Any, params: Any) -> types.ElicitResult:
    raise AssertionError("the manual rounds answer the questions themselves")


ACCEPT = {APPROVAL_INPUT: types.ElicitResult(action="accept")}


@pytest.mark.anyio
async def test_the_answer_counts_only_with_this_plans_state(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with Client(app.server, mode="auto", elicitation_callback=never_called) as client:
        assert client.protocol_version == "2026-07-28"
        session = client.session
        made = await client.call_tool("create_customer", {"Name": "Acme AB"})
        number = made.structured_content["Customer"]["CustomerNumber"]
        args = {"CustomerNumber": number}
        baseline = writes(app)

        asked = await session.call_tool("delete_customer", args, allow_input_required=True)
        assert isinstance(asked, types.InputRequiredResult)
        question = asked.input_requests[APPROVAL_INPUT]
        assert question.method == "elicitation/create"
        assert f"DELETE /3/customers/{number}" in question.params.message
        state = asked.request_state
        assert isinstance(state, str)

        other = await session.call_tool(
            "delete_customer", {"CustomerNumber": "999"}, allow_input_required=True
        )
        for wrong in ("v1.9999999999.nonce.mac", other.request_state, None):
            again = await session.call_tool(
                "delete_customer",
                args,
                input_responses=ACCEPT,
                request_state=wrong,
                allow_input_required=True,
            )
            assert isinstance(again, types.InputRequiredResult), wrong
        assert writes(app) == baseline

        # a fresh question, declined: nothing is sent
        declined = await session.call_tool(
            "delete_customer",
            args,
            input_responses={APPROVAL_INPUT: types.ElicitResult(action="decline")},
            request_state=again.request_state,
            allow_input_required=True,
        )
        assert declined.is_error and declined.structured_content["error"]["code"] == "APPROVAL_DECLINED"
        assert "declined" in declined.content[0].text and writes(app) == baseline

        asked = await session.call_tool("delete_customer", args, allow_input_required=True)
        done = await session.call_tool(
            "delete_customer",
            args,
            input_responses=ACCEPT,
            request_state=asked.request_state,
            allow_input_required=True,
        )
        assert isinstance(done, types.CallToolResult) and not done.is_error, done
        assert writes(app) == [*baseline, ("DELETE", f"/3/customers/{number}")]

        # the same answer and state again: asked again, not sent twice
        replay = await session.call_tool(
            "delete_customer",
            args,
            input_responses=ACCEPT,
            request_state=asked.request_state,
            allow_input_required=True,
        )
        assert isinstance(replay, types.InputRequiredResult)
        assert len(writes(app)) == len(baseline) + 1


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_that_cannot_be_asked_gets_the_token(mode: str, tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with Client(app.server, mode=mode) as client:
        made = await client.call_tool("create_customer", {"Name": "Acme AB"})
        args = {"CustomerNumber": made.structured_content["Customer"]["CustomerNumber"]}
        first = await client.call_tool("delete_customer", args)
        assert first.structured_content["approval_required"] is True and writes(app) == [
            ("POST", "/3/customers")
        ]
        token = first.structured_content["approval"]["token"]
        done = await client.call_tool("delete_customer", {**args, "_approval": token})
        assert not done.is_error and len(writes(app)) == 2


@pytest.mark.anyio
async def test_a_failing_elicitation_falls_back_to_the_token(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def broken(ctx: Any, params: Any) -> types.ErrorData:
        return types.ErrorData(code=types.INTERNAL_ERROR, message="no display")

    async with Client(app.server, mode="legacy", elicitation_callback=broken) as client:
        made = await client.call_tool("create_customer", {"Name": "Acme AB"})
        args = {"CustomerNumber": made.structured_content["Customer"]["CustomerNumber"]}
        first = await client.call_tool("delete_customer", args)
        assert first.structured_content["approval_required"] is True
        assert writes(app) == [("POST", "/3/customers")]
