"""Gates in front of the send stage: dry-run and human approval.

Dry-run: every tool that is not read-only ends with its plan; nothing reaches the vendor, not even
the snapshot read. Read-only tools pass.

Approval (`destructive`: tools with destructiveHint; `writes`: every tool that is not read-only;
`never`): when the transport can ask the human (`ask`, e.g. MCP elicitation), the plan is shown and
only an explicit accept lets the call go on. A transport that asks in one round and hears the answer
in the next (MCP 2026-07-28 input requests) carries `ApprovalPrompt.state()` across: a token of the
kind below, bound to the plan, that `check_state` accepts once.

Otherwise the first call returns the plan and a token, an HMAC over the plan digest, an expiry and
a nonce. Only a repeat carrying that token in the reserved `_approval` argument, with arguments that
produce the same plan, before the expiry, goes out; each token is good for one call. The key
(keys.py) and the record of used tokens (used.py) can be shared, so that the repeat may reach
another replica or a restarted server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ledgermcp.server import render
from ledgermcp.server.calls import Call
from ledgermcp.server.errors import ToolFailure
from ledgermcp.server.render import ToolResult
from ledgermcp.server.safety.keys import APPROVAL_KEY_ENV, ApprovalKey
from ledgermcp.server.safety.plan import build_plan, find_highlights, plan_digest, plan_text
from ledgermcp.server.safety.used import APPROVAL_UNAVAILABLE, LocalUsedTokens, UsedTokens

log = logging.getLogger("ledgermcp.safety")

APPROVAL_ARG = "_approval"
APPROVAL_MODES = ("destructive", "writes", "never")
APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
APPROVAL_INVALID = "APPROVAL_INVALID"
APPROVAL_DECLINED = "APPROVAL_DECLINED"

ASKED = "asked"  # the approval note while the transport's question is out (answer in a later round)
FOREIGN_KEY = (
    "the approval token was not issued by this server or its key changed; "
    "call again without the token to get a new plan"
)
_STATE_PURPOSE = "ask|"  # keeps round-trip states and `_approval` tokens apart: one is never the other


def call_plan(call: Call, snapshots: bool = True) -> dict[str, Any]:
    plan = call.extras.get("plan")
    if plan is None:
        assert call.request is not None
        plan = build_plan(call.tool, call.arguments, call.request, snapshots=snapshots)
        if call.extras.get("restore"):
            plan["restore"] = call.extras["restore"]
        call.extras["plan"] = plan
    return plan


@dataclass
class ApprovalPrompt:
    """What the approval gate hands to `ask`: the call, its plan and the text to show the human."""

    call: Call
    plan: dict[str, Any]
    text: str
    signer: TokenSigner
    digest: str

    def state(self) -> str:
        """An opaque value to send with a question whose answer arrives in a later round."""
        return self.signer.issue(_STATE_PURPOSE + self.digest)[0]

    async def check_state(self, state: Any) -> str | None:
        """None when `state` came from `state()` for this very plan, unexpired and unused (it is
        used up now); else why not."""
        return await self.signer.check(state, _STATE_PURPOSE + self.digest)


# ask(prompt) -> "accept" | "decline" | "cancel" (the human answered); None (nobody can be asked
# here: fall back to a plan-bound token); or any other value, which ends this round and goes back
# to the transport as is (e.g. an MCP InputRequiredResult carrying the question).
Ask = Callable[[ApprovalPrompt], Awaitable[Any]]


class DryRunGate:
    def __init__(self, *, snapshots: bool = True) -> None:
        self.snapshots = snapshots

    async def __call__(self, call: Call) -> ToolResult | None:
        if call.read_only:
            return None
        plan = call_plan(call, self.snapshots)
        call.extras["approval"] = "dry_run"
        text = f"DRY RUN: {call.name} was not sent. It would send:\n{plan_text(plan)}"
        return ToolResult([{"type": "text", "text": text}], {"dry_run": True, "sent": False, "plan": plan})


class TokenSigner:
    """Plan-bound approval tokens: `v2.<key id>.<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256 over
    the scope (vendor, base URL, profile), the plan digest, the expiry and the nonce.

    The key comes from `keys.approval_key` (shared by replicas and kept across restarts) or, when
    none is given, is random for this object. The key id lets a server tell a token signed with
    another key from one issued for another plan. `used` records spent nonces (`used.py`)."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
        key: ApprovalKey | bytes | None = None,
        scope: str = "",
        used: UsedTokens | None = None,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        if not isinstance(key, ApprovalKey):
            key = ApprovalKey(key or secrets.token_bytes(32), "a key of this process only")
        self.key = key
        self.key_id = key.key_id
        self.scope = scope
        self.used = used or LocalUsedTokens()

    def _mac(self, digest: str, expires: int, nonce: str) -> str:
        message = f"v2|{self.scope}|{digest}|{expires}|{nonce}".encode()
        raw = hmac.new(self.key.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def issue(self, digest: str) -> tuple[str, int]:
        expires = int(self.clock() + self.ttl)
        nonce = secrets.token_urlsafe(12)
        return f"v2.{self.key_id}.{expires}.{nonce}.{self._mac(digest, expires, nonce)}", expires

    async def check(self, token: Any, digest: str) -> str | None:
        """None when the token approves this digest now (and consumes it), else the reason why not.
        Raises ToolFailure(APPROVAL_UNAVAILABLE) when the record of used tokens cannot be asked."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) == 4 and parts[0] == "v1":  # signed before keys were shared: by another key
            return FOREIGN_KEY
        if len(parts) != 5 or parts[0] != "v2" or not parts[2].isdigit():
            return "the approval token is malformed"
        _version, key_id, expires_s, nonce, mac = parts
        if not hmac.compare_digest(key_id, self.key_id):
            log.warning(
                "an approval token signed with another key (id %s) was refused; this server's key "
                "(id %s) comes from %s: replicas must share %s",
                key_id,
                self.key_id,
                self.key.source,
                APPROVAL_KEY_ENV,
            )
            return FOREIGN_KEY
        expires = int(expires_s)
        if not hmac.compare_digest(mac, self._mac(digest, expires, nonce)):
            return "the approval token was issued for a different plan (other tool, arguments or server)"
        now = self.clock()
        if now > expires:
            return "the approval token has expired"
        if not await self.used.claim(nonce, expires, now):
            return "the approval token was already used"
        return None


class ApprovalGate:
    def __init__(
        self,
        mode: str = "destructive",
        *,
        signer: TokenSigner | None = None,
        ask: Ask | None = None,
        snapshots: bool = True,
        read_entity: Callable[[Call], Awaitable[list[Any]]] | None = None,
    ) -> None:
        if mode not in APPROVAL_MODES:
            raise ValueError(f"approval mode must be one of {', '.join(APPROVAL_MODES)}, not {mode!r}")
        self.mode = mode
        self.signer = signer or TokenSigner()
        self.ask = ask
        self.snapshots = snapshots
        self.read_entity = read_entity  # the entity a write changes, as JSON, for the person to see

    def needs_approval(self, tool: dict[str, Any]) -> bool:
        ann = tool.get("annotations") or {}
        if self.mode == "never" or ann.get("readOnlyHint"):
            return False
        return self.mode == "writes" or bool(ann.get("destructiveHint"))

    async def __call__(self, call: Call) -> ToolResult | None:
        if not self.needs_approval(call.tool):
            call.extras.setdefault("approval", "not_required")
            return None
        plan = call_plan(call, self.snapshots)
        digest = plan_digest(call.tool, call.arguments, plan)
        token = (call.extras.get("reserved") or {}).get(APPROVAL_ARG)
        if token is not None:
            try:
                reason = await self.signer.check(token, digest)
            except ToolFailure as failure:
                return self._unavailable(call, plan, failure)
            if reason is None:
                call.extras["approval"] = "token"
                return None
            call.extras["approval"] = "token_refused"
            return render.failure(
                ToolFailure(
                    APPROVAL_INVALID,
                    f"{call.name}: {reason}; nothing was sent",
                    "call the tool again without '_approval' to get a fresh preview and token, show the plan "
                    "to the user, and repeat the call unchanged with the new token once they agree",
                    details={"plan": plan},
                )
            )
        # what the entity holds now (the amount booked, whom a document goes to) is shown to the
        # person, not bound into the token: the digest above is over the request alone
        shown = await self._with_entity(call, plan)
        if self.ask is not None:
            try:
                answer = await self.ask(ApprovalPrompt(call, plan, plan_text(shown), self.signer, digest))
            except ToolFailure as failure:
                if failure.code != APPROVAL_UNAVAILABLE:
                    raise
                return self._unavailable(call, plan, failure)
            if isinstance(answer, str):
                call.extras["approval"] = f"asked_{answer}"
                if answer == "accept":
                    return None
                how = "the user said no" if answer == "decline" else "the user dismissed the question"
                return render.failure(
                    ToolFailure(
                        APPROVAL_DECLINED,
                        f"{call.name}: declined ({how}); nothing was sent",
                        "ask the user what to change before trying again",
                        details={"plan": plan, "answer": answer},
                    )
                )
            if answer is not None:
                call.extras["approval"] = ASKED
                return answer
        token, expires = self.signer.issue(digest)
        call.extras["approval"] = "required"
        text = (
            f"APPROVAL NEEDED: {call.name} was not sent. Show this plan to the user:\n{plan_text(shown)}\n"
            f"If they agree, repeat the call with exactly the same arguments plus "
            f'"{APPROVAL_ARG}": "{token}" (valid for {int(self.signer.ttl)} seconds, once).'
        )
        structured = {
            "approval_required": True,
            "sent": False,
            "plan": shown,
            "approval": {"argument": APPROVAL_ARG, "token": token, "expires_at": expires},
        }
        return ToolResult([{"type": "text", "text": text}], structured)

    async def _with_entity(self, call: Call, plan: dict[str, Any]) -> dict[str, Any]:
        """The plan plus `entity_now`: highlights of the entity the write changes, read with the
        snapshot's GET. A read that fails or finds nothing leaves the plan as it is."""
        if self.read_entity is None or not plan.get("snapshot"):
            return plan
        try:
            entities = await self.read_entity(call)
        except Exception:  # the plan is still shown; the snapshot stage reports read failures
            log.debug("entity preview failed for %s", call.name, exc_info=True)
            return plan
        found = find_highlights(*entities)
        return {**plan, "entity_now": found} if found else plan

    @staticmethod
    def _unavailable(call: Call, plan: dict[str, Any], failure: ToolFailure) -> ToolResult:
        """The record of used tokens could not be asked: refuse, naming the call and its plan."""
        call.extras["approval"] = "unavailable"
        failure.message = f"{call.name}: {failure.message}"
        failure.details = {**failure.details, "plan": plan}
        return render.failure(failure)
