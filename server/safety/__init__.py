"""Write safety for every tool that is not read-only: dry-run, approval bound to the previewed plan,
pre-write snapshots and an append-only audit log. No `mcp` import: the MCP app passes in, as `ask`,
whatever its transport offers for asking the human.

`install(pipeline, options)` adds the gates and hooks to a `CallPipeline`:

    gates        DryRunGate (with dry_run), then ApprovalGate (unless approve="never")
    before_send  SnapshotHook (unless snapshots are off), then AuditLog.before_send (the intent line)
    after        SnapshotHook.observe (names the snapshot in the result), AuditLog (the outcome line)

With snapshots on, the MCP app also serves them as resources (resources.py) and offers
`restore_snapshot` (restore.py), which writes one back through the same pipeline.

Approval tokens are signed with `options.approval_key` and their single use is kept in
`options.used_tokens`; `options_from_env` fills both from `LEDGERMCP_APPROVAL_KEY` (else the key
file, keys.py) and `LEDGERMCP_REDIS_URL` (else a file in the data directory; used.py), so that
replicas and restarts accept each other's tokens, and each token is spent once. Options built by hand without a key sign with a key of the process only.

The approval token travels in the reserved argument `_approval`. The generated input schemas are
left unchanged: the pipeline takes `_approval` out of the arguments before validation (it is in
`pipeline.reserved`), and the approval-required result says how to pass it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgermcp.server.safety.audit import AuditLog, default_audit_path
from ledgermcp.server.safety.gates import (
    APPROVAL_ARG,
    APPROVAL_MODES,
    ApprovalGate,
    Ask,
    DryRunGate,
    TokenSigner,
)
from ledgermcp.server.safety.keys import ApprovalKey, ApprovalKeyError, approval_key, key_from_env_if_given
from ledgermcp.server.safety.snapshots import SnapshotHook, SnapshotStore, default_snapshot_dir
from ledgermcp.server.safety.used import (
    FileUsedTokens,
    LocalUsedTokens,
    RedisUsedTokens,
    UsedTokens,
    redis_url_from_env,
)

__all__ = [
    "APPROVAL_ARG",
    "APPROVAL_MODES",
    "ApprovalGate",
    "ApprovalKey",
    "ApprovalKeyError",
    "AuditLog",
    "DryRunGate",
    "FileUsedTokens",
    "LocalUsedTokens",
    "RedisUsedTokens",
    "Safety",
    "SafetyOptions",
    "SnapshotHook",
    "SnapshotStore",
    "TokenSigner",
    "install",
    "options_from_env",
    "sandbox_defaults",
]

_TRUE = {"1", "true", "yes", "on"}


@dataclass
class SafetyOptions:
    dry_run: bool = False
    approve: str = "destructive"
    snapshots: bool = True
    snapshot_dir: str | os.PathLike[str] | None = None
    snapshot_fail_open: bool = False
    audit_log: str | os.PathLike[str] | None = None  # None: the default file; "" or "-": no audit log
    approval_ttl: float = 300.0
    approval_key: ApprovalKey | bytes | None = field(default=None, repr=False)  # None: one for this process
    approval_scope: str = ""  # what else a token is bound to besides vendor and base URL (e.g. the profile)
    used_tokens: UsedTokens | None = None  # None: kept in this process
    clock: Callable[[], float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the environment the default locations come from (LEDGERMCP_DATA_DIR); None: the process's
    environ: Mapping[str, str] | None = field(default=None, repr=False)


def sandbox_defaults() -> SafetyOptions:
    """What `serve --sandbox` starts from: the simulated vendor touches no real account, so no
    approval, snapshot or audit log unless a flag or variable asks for one."""
    return SafetyOptions(approve="never", snapshots=False, audit_log="-")


def options_from_env(
    environ: Mapping[str, str] | None = None, *, base: SafetyOptions | None = None, **overrides: Any
) -> SafetyOptions:
    """Options from `LEDGERMCP_DRY_RUN`, `LEDGERMCP_APPROVE`, `LEDGERMCP_SNAPSHOT_DIR`,
    `LEDGERMCP_NO_SNAPSHOT`, `LEDGERMCP_SNAPSHOT_FAIL_OPEN`, `LEDGERMCP_AUDIT_LOG` over `base`
    (default: `SafetyOptions()`); explicit overrides (CLI flags) win when not None. A snapshot
    directory, given either way, turns snapshots on unless they are turned off explicitly.

    While approval is on, the signing key (`LEDGERMCP_APPROVAL_KEY`, else the key file, made if
    missing) and the record of used tokens (Redis when `LEDGERMCP_REDIS_URL` is set) are resolved
    here, so that a bad key or a missing `redis` package stops the start with a ValueError that
    says what to fix. A malformed `LEDGERMCP_APPROVAL_KEY` is refused even when approval is off."""
    env = os.environ if environ is None else environ
    opts = base or SafetyOptions()
    opts.environ = env

    def flag(name: str) -> bool | None:
        value = env.get(name)
        return None if value is None or not value.strip() else value.strip().lower() in _TRUE

    from_env: dict[str, Any] = {
        "dry_run": flag("LEDGERMCP_DRY_RUN"),
        "approve": (env.get("LEDGERMCP_APPROVE") or "").strip().lower() or None,
        "snapshots": None if flag("LEDGERMCP_NO_SNAPSHOT") is None else not flag("LEDGERMCP_NO_SNAPSHOT"),
        "snapshot_dir": env.get("LEDGERMCP_SNAPSHOT_DIR") or None,
        "snapshot_fail_open": flag("LEDGERMCP_SNAPSHOT_FAIL_OPEN"),
        "audit_log": env.get("LEDGERMCP_AUDIT_LOG"),
    }
    for source in (from_env, overrides):
        for key, value in source.items():
            if value is not None:
                setattr(opts, key, value)
    chosen = {k for source in (from_env, overrides) for k, v in source.items() if v is not None}
    if "snapshot_dir" in chosen and "snapshots" not in chosen:
        opts.snapshots = True  # naming a snapshot directory asks for snapshots (also over the sandbox's off)
    if opts.approve not in APPROVAL_MODES:
        raise ValueError(f"approval mode must be one of {', '.join(APPROVAL_MODES)}, not {opts.approve!r}")
    if opts.approve == "never":
        key_from_env_if_given(env)
    else:
        if opts.approval_key is None:
            opts.approval_key = approval_key(env)
        if opts.used_tokens is None:
            from ledgermcp.server.oauth.stores import data_dir

            url = redis_url_from_env(env)
            # across hosts with Redis; else across the processes of this host, in the data directory
            opts.used_tokens = RedisUsedTokens(url) if url else FileUsedTokens(data_dir(env))
    return opts


def _declared(vendor: Any, tool_name: str) -> list[str] | None:
    """The answer media types the tool table declares for a read tool (None: not in the table)."""
    tool = vendor.by_name.get(tool_name)
    return None if tool is None else list(tool["binding"].get("responses") or [])


@dataclass
class Safety:
    options: SafetyOptions
    dry_run: DryRunGate | None
    approval: ApprovalGate | None
    snapshots: SnapshotHook | None
    store: SnapshotStore | None
    audit: AuditLog | None


def _entity_reader(pipeline: Any) -> Any:
    """Reads what a write will change (the first entity of its snapshot target) for the approval
    plan; the pipeline's upstream is looked up per call, as it may be wrapped after install."""
    from ledgermcp.server.safety.plan import snapshot_requests

    async def read(call: Any) -> list[Any]:
        found = []
        for request in snapshot_requests(call.tool, call.arguments)[:1]:
            response = await pipeline.upstream.send(request)
            if 200 <= int(response.status_code) < 300:
                found.append(response.json())
        return found

    return read


def install(pipeline: Any, options: SafetyOptions | None = None, *, ask: Ask | None = None) -> Safety:
    opts = options or SafetyOptions()
    vendor = pipeline.vendor.name
    kwargs: dict[str, Any] = {"clock": opts.clock} if opts.clock else {}
    dry = DryRunGate(snapshots=opts.snapshots) if opts.dry_run else None
    approval = None
    if opts.approve != "never":
        approval = ApprovalGate(
            opts.approve,
            signer=TokenSigner(
                ttl=opts.approval_ttl,
                key=opts.approval_key,
                scope=f"{vendor}|{pipeline.settings.base_url}|{opts.approval_scope}",
                used=opts.used_tokens,
                **kwargs,
            ),
            ask=ask,
            snapshots=opts.snapshots,
            read_entity=_entity_reader(pipeline),
        )
    store = hook = None
    if opts.snapshots:
        store = SnapshotStore(
            Path(opts.snapshot_dir) if opts.snapshot_dir else default_snapshot_dir(vendor, opts.environ)
        )
        hook = SnapshotHook(
            store,
            pipeline.upstream,
            vendor=vendor,
            fail_open=opts.snapshot_fail_open,
            secrets_of=pipeline.settings.secret_values,
            declared_of=lambda name: _declared(pipeline.vendor, name),
            **kwargs,
        )
    audit = None
    if opts.audit_log not in ("", "-"):
        audit = AuditLog(
            Path(opts.audit_log) if opts.audit_log else default_audit_path(opts.environ),
            vendor=vendor,
            **kwargs,
        )
    pipeline.reserved.add(APPROVAL_ARG)
    pipeline.gates[:0] = [g for g in (dry, approval) if g is not None]
    if hook is not None:
        pipeline.before_send.insert(0, hook)
        pipeline.after.insert(0, hook.observe)
    if audit is not None:
        pipeline.before_send.append(audit.before_send)  # after the snapshot, right before sending
        pipeline.after.append(audit)
    return Safety(opts, dry, approval, hook, store, audit)
