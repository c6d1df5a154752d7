"""The plan of a write: what would be sent and which entity would be snapshotted, as plain data.

A plan is what a dry-run returns, what an approval prompt shows and what an approval token is
bound to. `plan_digest` hashes exactly the tool, its arguments and the target (request and
snapshot), in a canonical JSON form, so any change to any of them yields another digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ledgermcp.server.requests import PreparedRequest, encode_path_value


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8"
    )


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """sha256 of the canonical arguments: identifies a call without keeping its values."""
    return hashlib.sha256(canonical(dict(arguments))).hexdigest()


def batch_ids(value: Any) -> list[str]:
    """Comma-separated ids (a string, a number or a list) as a list of non-empty strings."""
    parts = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    return [p.strip() for p in parts if p.strip()]


def snapshot_paths(tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """The concrete GET paths of the entity (or entities, for a batch) a write changes."""
    target = tool.get("snapshot")
    if not target:
        return []
    batch = target.get("batch_arg")
    params: Mapping[str, str] = target.get("params") or {}
    ids = batch_ids(arguments[batch]) if batch and batch in arguments else [None]
    paths: list[str] = []
    for one in ids:
        path = str(target["path"])
        for name, arg in params.items():
            if arg == batch and one is not None:
                value: Any = one
            elif arg in arguments:
                value = arguments[arg]
            else:
                continue
            path = path.replace("{" + name + "}", encode_path_value(value))
        paths.append(path)
    return paths


def snapshot_requests(tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[PreparedRequest]:
    target = tool.get("snapshot") or {}
    method = str(target.get("method") or "GET").upper()
    return [
        PreparedRequest(
            tool=str(target.get("read_tool") or tool["name"]),
            method=method,
            path_template=str(target.get("path")),
            path=p,
        )
        for p in snapshot_paths(tool, arguments)
    ]


def build_plan(
    tool: Mapping[str, Any], arguments: Mapping[str, Any], request: PreparedRequest, *, snapshots: bool = True
) -> dict[str, Any]:
    """What the call would do: the request (method, path, query, body) and the snapshot target."""
    described = request.describe()
    out: dict[str, Any] = {
        "tool": str(tool["name"]),
        "method": request.method,
        "path": request.path,
        "query": [[k, v] for k, v in request.query],
        "url_path": described["path"],
    }
    for key in ("headers", "body", "files"):
        if key in described:
            out[key] = described[key]
    ann = tool.get("annotations") or {}
    facts = tool.get("facts") or {}
    out["destructive"] = bool(ann.get("destructiveHint"))
    out["effect"] = facts.get("effect")
    out["irreversible"] = bool(facts.get("irreversible"))
    highlights = plan_highlights(request)
    if highlights:
        out["highlights"] = highlights
    target = tool.get("snapshot")
    if target and snapshots:
        out["snapshot"] = {
            "method": str(target.get("method") or "GET").upper(),
            "paths": snapshot_paths(tool, arguments),
            "read_tool": target.get("read_tool"),
            # offered only where an update can write the state back (the table's fact)
            "restore_tool": target.get("restore_tool") if facts.get("restorable", True) else None,
        }
    else:
        out["snapshot"] = None
    return out


# Why an irreversible write cannot be taken back, by effect.
FINAL = {
    "send": "a message that was sent cannot be called back",
    "money": "money that has moved is not moved back by another call",
    "ledger": "a booking is corrected only by a counter-entry",
    "cancel": "a cancelled, voided or credited document stays so",
    "delete": "a deleted record cannot be written back",
    "action": "what it does is not undone by another call",
}
# What a person checks before saying yes, by the words vendors name it with (lower case, no
# separators): whom a message goes to, how much, for whom, which document.
HIGHLIGHT_KEYS = {
    "recipient": ("to", "recipient", "recipients", "emailaddressto", "email", "emailto", "sendto", "phone",
                  "mobile", "address"),
    "amount": ("amount", "total", "sum", "totalamount", "grossamount", "netamount", "price", "value"),
    "currency": ("currency", "currencycode", "currencyid"),
    "party": ("customer", "customernumber", "customername", "supplier", "suppliernumber", "suppliername",
              "contact", "contactid", "contactname", "client", "clientid", "vendor", "vendorid", "payee"),
    "document": ("documentnumber", "invoicenumber", "number", "invoice", "invoiceid", "documentid",
                 "givennumber", "vouchernumber", "reference", "ordernumber"),
}  # fmt: skip


def _flat_key(key: str) -> str:
    return "".join(ch for ch in key.lower() if ch.isalnum())


def find_highlights(*nodes: Any) -> dict[str, Any]:
    """Recipient, amount, currency, party and document number in JSON objects, searched two levels
    deep, first match wins: what a request sends, or what an entity holds."""
    found: dict[str, Any] = {}
    lookup = {flat: kind for kind, keys in HIGHLIGHT_KEYS.items() for flat in keys}

    def plain(value: Any) -> bool:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""

    def visit(node: Any, depth: int) -> None:
        if not isinstance(node, dict) or depth > 2:
            return
        for key, value in node.items():
            kind = lookup.get(_flat_key(str(key)))
            if not kind or kind in found:
                continue
            if plain(value) or (isinstance(value, list) and value and all(plain(v) for v in value)):
                found[kind] = value
        for value in node.values():
            visit(value, depth + 1)

    for node in nodes:
        visit(node, 0)
    return found


def plan_highlights(request: PreparedRequest) -> dict[str, Any]:
    """What the request names: its path values and its body."""
    body = request.json_body if request.has_json_body else dict(request.form) if request.form else None
    return find_highlights(dict(request.path_values), body)


def _shown(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def plan_digest(tool: Mapping[str, Any], arguments: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    bound = {"tool": str(tool["name"]), "arguments": dict(arguments), "plan": dict(plan)}
    return hashlib.sha256(canonical(bound)).hexdigest()


def plan_text(plan: Mapping[str, Any]) -> str:
    lines = [f"{plan['method']} {plan['url_path']}"]
    if "body" in plan:
        body = json.dumps(plan["body"], ensure_ascii=False, default=str)
        lines.append("body: " + (body if len(body) <= 2000 else body[:2000] + " ..."))
    if plan.get("files"):
        lines.append("files: " + ", ".join(f"{f['filename']} ({f['bytes']} bytes)" for f in plan["files"]))
    restore = plan.get("restore")
    if restore:
        lines.append(
            f"restores: snapshot {restore['snapshot_id']} of {restore['entity']} (via {restore['via']})"
        )
        if restore.get("left_out"):
            lines.append(
                "not restored: " + ", ".join(f"{f['field']} ({f['reason']})" for f in restore["left_out"])
            )
    for kind, value in (plan.get("highlights") or {}).items():
        lines.append(f"{kind}: {_shown(value)}")
    entity = plan.get("entity_now")
    if entity:
        lines.append("as it stands: " + ", ".join(f"{k} {_shown(v)}" for k, v in entity.items()))
    if plan.get("irreversible"):
        lines.append("cannot be undone: " + FINAL.get(str(plan.get("effect")), FINAL["action"]))
    snap = plan.get("snapshot")
    if snap:
        read = f" (read with {snap['read_tool']})" if snap.get("read_tool") else ""
        lines.append("entity: " + ", ".join(snap["paths"]) + read)
        kept = (
            f"snapshot: its current state ({snap['method']} "
            + ", ".join(snap["paths"])
            + ") is kept before the write"
        )
        if snap.get("restore_tool"):
            kept += " and can be written back with restore_snapshot"
        elif plan.get("irreversible"):
            kept += " as a record (restore_snapshot cannot undo this)"
        lines.append(kept)
    return "\n".join(lines)
