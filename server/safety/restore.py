"""`restore_snapshot`: write a kept snapshot back through the vendor's own update operation.

A snapshot record names the entity (the path of its GET) and the update operation on the same path
(`target.restore_tool`, from the generator: Fortnox's `PUT /3/customers/{CustomerNumber}`,
smallinvoice's `PUT /contacts/{contactId}`). The update's arguments come from the record:

- path arguments from the entity's path, typed as the update's input schema says;
- the body from the kept state, taken out of the vendor's envelope (`{"Customer": {...}}`,
  `{"item": {...}}`), limited to the fields the update's input schema accepts; identity fields that
  are already in the path and response metadata (`@url`) stay out, and so does any value the
  field's schema refuses (e.g. a null). Whatever stays out is named in the plan and the result.

The composed call runs through the same pipeline as every tool call (`CallPipeline.run`): the tool
is destructive, so approval applies; the state being replaced is snapshotted first; the audit log
records it. Fields the entity gained after the snapshot are not removed (an update only sets
fields); the result names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from ledgermcp.server import errors
from ledgermcp.server.calls import Call, CallPipeline, validation_failure
from ledgermcp.server.errors import ToolFailure
from ledgermcp.server.render import ToolResult
from ledgermcp.server.requests import build_request
from ledgermcp.server.safety.resources import (
    BadSnapshotRef,
    SnapshotNotFound,
    entity_paths,
    load_snapshot,
    parse_snapshot_ref,
)
from ledgermcp.server.safety.snapshots import SNAPSHOT_FAILED, SnapshotStore, snapshot_uri

RESTORE_TOOL = "restore_snapshot"
RESTORE_UNSUPPORTED = "RESTORE_UNSUPPORTED"
_ENTITY_MISSING = (errors.NOT_FOUND, SNAPSHOT_FAILED)  # the entity to update is not there (any more)
_PARAM = re.compile(r"\{([^}/]+)\}")


def restore_tool_entry(vendor: str) -> dict[str, Any]:
    """The tool in the tool table's shape (toolspec.wire_tool gives its `tools/list` form)."""
    return {
        "name": RESTORE_TOOL,
        "title": "Restore a snapshot",
        "description": (
            f"Write a snapshot (the state of a {vendor} entity kept before a write) back through "
            "the vendor's own update operation. Snapshot ids are in the results of writes and in "
            "resources/list (ledgermcp://snapshots/...). The state it replaces is snapshotted first. "
            "Fields the entity gained since the snapshot are left as they are."
        ),
        "group": "safety",
        "kind": "restore",
        "annotations": {
            "title": "Restore a snapshot",
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": True,
            "openWorldHint": False,
        },
        "input_schema": {
            "type": "object",
            "properties": {
                "snapshot_id": {
                    "type": "string",
                    "description": "the snapshot's id, or its ledgermcp://snapshots/... URI",
                },
                "entity": {
                    "type": "string",
                    "description": "only for a snapshot of several entities (a batch delete): the path of "
                    "the one to restore, as the snapshot lists it",
                },
            },
            "required": ["snapshot_id"],
            "additionalProperties": False,
        },
        "binding": None,
        "snapshot": None,
    }


def _error_code(result: ToolResult) -> str | None:
    error = (result.structured or {}).get("error") if result.is_error else None
    return error.get("code") if isinstance(error, dict) else None


def _unsupported(message: str, hint: str) -> ToolFailure:
    return ToolFailure(RESTORE_UNSUPPORTED, message, hint)


def _path_values(template: str, path: str) -> list[str] | None:
    """The values of `template`'s parameters in a concrete `path`, in order (decoded)."""
    regex, pos = "", 0
    for m in _PARAM.finditer(template):
        regex += re.escape(template[pos : m.start()]) + "([^/]+)"
        pos = m.end()
    regex += re.escape(template[pos:])
    found = re.fullmatch(regex, path.split("?", 1)[0])
    return [unquote(v) for v in found.groups()] if found else None


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def unwrap_state(state: Any, body: Mapping[str, Any]) -> Any:
    """The entity inside a GET answer: `{"Customer": {...}}` (the update's wrapper) or a single
    envelope key the update does not accept as a field (`{"item": {...}}`)."""
    if not isinstance(state, dict):
        return state
    wrapper = body.get("wrapper")
    if wrapper and isinstance(state.get(wrapper), dict):
        return state[wrapper]
    accepted = set((body.get("fields") or {}).values())
    if len(state) == 1:
        ((key, inner),) = state.items()
        if isinstance(inner, dict) and key not in accepted:
            return inner
    return state


class Restorer:
    """Composes a restore into an update call and runs it through the pipeline."""

    def __init__(self, pipeline: CallPipeline, store: SnapshotStore) -> None:
        self.pipeline = pipeline
        self.store = store
        self.vendor = pipeline.vendor
        self.entry = restore_tool_entry(self.vendor.name)

    async def __call__(self, arguments: Mapping[str, Any] | None, context: Any = None) -> Any:
        args = dict(arguments or {})
        reserved = {key: args.pop(key) for key in list(args) if key in self.pipeline.reserved}
        call = Call(self.entry, args, context=context)
        if reserved:
            call.extras["reserved"] = reserved
        result = await self.pipeline.run(call, compose=self.compose)
        restore = call.extras.get("restore")
        if restore and call.extras.get("sent") and isinstance(result, ToolResult) and not result.is_error:
            text = (
                f"Restored snapshot {restore['snapshot_id']} of {restore['entity']} through {restore['via']}."
            )
            if restore["left_out"]:
                text += " Not restored: " + ", ".join(
                    f"{f['field']} ({f['reason']})" for f in restore["left_out"]
                )
            gained = self._gained_fields(call)
            if gained:
                text += " Not in the snapshot, so left as they were: " + ", ".join(gained)
            result.content.insert(0, {"type": "text", "text": text})
            result.meta["ledgermcp/restore"] = {**restore, "not_in_snapshot": gained}
        elif restore and isinstance(result, ToolResult) and _error_code(result) in _ENTITY_MISSING:
            note = (
                f"{RESTORE_TOOL} writes through {restore['via']}, which changes an entity that exists; if "
                f"{restore['entity']} was deleted, create it again from the kept state (resources/read "
                f"{snapshot_uri(self.vendor.name, restore['snapshot_id'])})"
            )
            result.content.append({"type": "text", "text": note})
        return result

    def _gained_fields(self, call: Call) -> list[str]:
        """Fields the entity had just before the restore (its fresh snapshot) that the kept state
        lacks: an update cannot remove them, so the result names them."""
        fresh_id = call.extras.get("snapshot_id")
        kept: set[str] = call.extras.get("restore_fields") or set()
        if not fresh_id:
            return []
        try:
            fresh = self.store.load(fresh_id)
        except (OSError, ValueError, KeyError):
            return []
        body = call.tool["binding"].get("body") or {}
        accepted = set((body.get("fields") or {}).values())
        now = unwrap_state((fresh.get("entities") or [{}])[0].get("state"), body)
        return sorted(k for k in now if k in accepted and k not in kept) if isinstance(now, dict) else []

    # --- composing ------------------------------------------------------------------------

    def compose(self, call: Call) -> None:
        """Turn `restore_snapshot(snapshot_id)` into the update call that writes the state back."""
        problems = self.pipeline.validator.problems(self.entry, call.arguments)
        if problems:
            raise validation_failure(self.entry, problems)
        vendor = self.vendor.name
        try:
            snapshot_id = parse_snapshot_ref(call.arguments["snapshot_id"], vendor)
            record = load_snapshot(self.store, snapshot_id, vendor)
        except BadSnapshotRef as exc:
            raise ToolFailure(
                errors.VALIDATION_ERROR,
                f"{RESTORE_TOOL}: {exc}",
                "pass the id a write's result named, or a URI from resources/list",
                details={"field": "snapshot_id"},
            ) from None
        except SnapshotNotFound as exc:
            raise ToolFailure(
                errors.NOT_FOUND,
                f"{RESTORE_TOOL}: {exc}",
                "resources/list shows the snapshots this server keeps",
            ) from None
        entity = self._entity(record, call.arguments.get("entity"))
        update = self._update_tool(record, entity["path"])
        arguments, left_out = self.update_arguments(update, record, entity)
        call.tool = {
            **update,
            "name": RESTORE_TOOL,
            "title": self.entry["title"],
            "annotations": self.entry["annotations"],
        }
        call.arguments = arguments
        call.extras["restore"] = {
            "snapshot_id": snapshot_id,
            "entity": entity["path"],
            "via": update["name"],
            "left_out": left_out,
        }
        call.extras["restore_fields"] = set(
            unwrap_state(entity.get("state"), update["binding"].get("body") or {})
        )
        call.request = build_request(update, arguments)

    def _entity(self, record: Mapping[str, Any], wanted: Any) -> dict[str, Any]:
        entities = [e for e in record.get("entities") or [] if isinstance(e, dict)]
        paths = entity_paths(record)
        if wanted is not None:
            for e in entities:
                if e.get("path") == wanted:
                    return e
            raise ToolFailure(
                errors.VALIDATION_ERROR,
                f"{RESTORE_TOOL}: snapshot {record['id']} holds no entity {wanted!r}",
                "pass 'entity' as one of: " + ", ".join(paths),
                details={"field": "entity"},
            )
        if len(entities) == 1:
            return entities[0]
        if not entities:
            raise _unsupported(
                f"{RESTORE_TOOL}: snapshot {record['id']} holds no entity state",
                "choose another snapshot",
            )
        raise ToolFailure(
            errors.VALIDATION_ERROR,
            f"{RESTORE_TOOL}: snapshot {record['id']} holds {len(entities)} entities",
            "pass 'entity' as one of: " + ", ".join(paths),
            details={"field": "entity"},
        )

    def _update_tool(self, record: Mapping[str, Any], path: str) -> dict[str, Any]:
        """The vendor's update operation the generator recorded for the write the snapshot was
        kept for (`target.restore_tool`); none for an irreversible write."""
        target = record.get("target") or {}
        name = target.get("restore_tool")
        tool = self.vendor.by_name.get(name) if name else None
        if tool is None:
            raise _unsupported(
                f"{RESTORE_TOOL}: snapshot {record.get('id')} of {path} was kept before a write that cannot "
                "be undone by writing the state back (it deleted, sent, booked or cancelled, or "
                f"{self.vendor.name} has no update for it); it is a record, and nothing was sent",
                "read the kept state with resources/read and re-enter what is needed with the vendor's tools",
            )
        allowed = self.pipeline.allowed
        if allowed is not None and tool["name"] not in allowed:
            raise _unsupported(
                f"{RESTORE_TOOL}: the update operation {tool['name']} is not offered by this server "
                "(its tool selection), so the snapshot cannot be written back; nothing was sent",
                f"serve {tool['name']} too (--tools/--groups) to restore this entity",
            )
        body = tool["binding"].get("body") or {}
        if not str(body.get("content_type") or "application/json").endswith("json"):
            raise _unsupported(
                f"{RESTORE_TOOL}: {tool['name']} takes {body.get('content_type')}, not JSON; "
                "a snapshot cannot be written back through it",
                "re-enter the state with the vendor's tools",
            )
        return tool

    def update_arguments(
        self, update: Mapping[str, Any], record: Mapping[str, Any], entity: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The update's arguments for the kept state, and the fields left out (with why)."""
        schema = update["input_schema"]
        props: Mapping[str, Any] = schema.get("properties") or {}
        binding = update["binding"]
        target = record.get("target") or {}
        values = _path_values(str(target.get("path") or binding["path"]), str(entity["path"]))
        path_params = [p for p in binding.get("params") or [] if p.get("in") == "path"]
        order = _PARAM.findall(str(binding["path"]))
        path_params.sort(key=lambda p: order.index(p["name"]) if p["name"] in order else len(order))
        if values is None or len(values) != len(path_params):
            raise _unsupported(
                f"{RESTORE_TOOL}: the entity path {entity['path']} does not fit {update['name']}'s path "
                f"{binding['path']}; nothing was sent",
                "read the kept state with resources/read and re-enter it with the vendor's tools",
            )
        arguments: dict[str, Any] = {
            p["arg"]: _typed(v, props.get(p["arg"]) or {}) for p, v in zip(path_params, values, strict=True)
        }
        body = binding.get("body") or {}
        state = unwrap_state(entity.get("state"), body)
        if not isinstance(state, dict):
            raise _unsupported(
                f"{RESTORE_TOOL}: snapshot {record['id']} holds no JSON object for {entity['path']}",
                "read it with resources/read",
            )
        whole = body.get("whole_body_arg")
        if whole:
            arguments[whole] = state
            return arguments, []
        by_wire = {wire: arg for arg, wire in (body.get("fields") or {}).items()}
        identity = {p["name"] for p in path_params}
        id_values = set(values)
        defs = schema.get("$defs") or {}
        left_out: list[dict[str, str]] = []
        for key, value in state.items():
            if key in identity:
                continue  # already in the path
            if key.startswith("@"):
                left_out.append({"field": key, "reason": "response metadata"})
                continue
            arg = by_wire.get(key)
            if arg is None and str(value) in id_values:
                continue  # the entity's own id under another name (`id`)
            if arg is None or arg in arguments:
                left_out.append({"field": key, "reason": f"{update['name']} does not accept it"})
                continue
            if not self._valid(props.get(arg) or {}, defs, value):
                left_out.append({"field": key, "reason": f"{update['name']} does not accept this value"})
                continue
            arguments[arg] = value
        if not any(arg in arguments for arg in by_wire.values()):
            raise _unsupported(
                f"{RESTORE_TOOL}: snapshot {record['id']} holds no field {update['name']} accepts; nothing was sent",
                "read the kept state with resources/read",
            )
        problems = self.pipeline.validator.problems(update, arguments)
        if problems:
            raise validation_failure(update, problems)
        return arguments, left_out

    @staticmethod
    def _valid(schema: Mapping[str, Any], defs: Mapping[str, Any], value: Any) -> bool:
        from jsonschema import Draft202012Validator

        return bool(Draft202012Validator({**schema, "$defs": defs}).is_valid(value))
