"""Snapshots as MCP resources, in plain wire-shaped data (the MCP app wraps them in SDK types).

    resources/list            one resource per kept snapshot, newest first, in pages
    resources/templates/list  ledgermcp://snapshots/{vendor}/{snapshot_id}
    resources/read            the snapshot's JSON record

A URI names a vendor and a snapshot id. The id must have the store's exact form (time, tool, random
hex), so a URI can only ever name a file directly inside this server's snapshot directory: no `..`,
no separator, no other suffix. Another vendor's URI, or an id with no file, is refused by name.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ledgermcp.server.safety.snapshots import (
    SNAPSHOT_URI_PREFIX,
    SnapshotStore,
    is_snapshot_id,
    snapshot_uri,
)

MIME_TYPE = "application/json"
PAGE_SIZE = 50
EXAMPLE_ID = "20260131T101500Z-update_customer-1a2b3c4d"


class BadSnapshotRef(ValueError):
    """A snapshot id or URI that is not well formed, or names another vendor."""


class SnapshotNotFound(LookupError):
    """A well-formed snapshot id with no readable snapshot behind it."""


class ForeignSnapshot(SnapshotNotFound):
    """A snapshot another vendor's server kept (in a shared directory): never served as this one's."""


def parse_snapshot_ref(ref: Any, vendor: str) -> str:
    """The snapshot id in `ref`: a bare id or a `ledgermcp://snapshots/VENDOR/ID` URI."""
    if not isinstance(ref, str) or not ref.strip():
        raise BadSnapshotRef(f"a snapshot id is text like {EXAMPLE_ID!r}")
    text = ref.strip()
    form = f"{SNAPSHOT_URI_PREFIX}{vendor}/<snapshot id>"
    if text.startswith(SNAPSHOT_URI_PREFIX):
        owner, slash, text = text[len(SNAPSHOT_URI_PREFIX) :].partition("/")
        if not slash:
            raise BadSnapshotRef(f"{ref!r} is not a snapshot URI; the form is {form}")
        if owner != vendor:
            raise BadSnapshotRef(
                f"{ref!r} is a snapshot of {owner!r}; this server keeps {vendor} snapshots ({form})"
            )
    elif ":" in text or "/" in text:
        raise BadSnapshotRef(f"{ref!r} is not a snapshot URI; the form is {form}")
    if not is_snapshot_id(text):
        raise BadSnapshotRef(f"{text!r} is not a snapshot id; ids look like {EXAMPLE_ID!r}")
    return text


def load_snapshot(store: SnapshotStore, snapshot_id: str, vendor: str) -> dict[str, Any]:
    """The record of a snapshot this server kept for `vendor`; SnapshotNotFound names what is wrong."""
    try:
        record = store.load(snapshot_id)
    except (FileNotFoundError, KeyError):
        raise SnapshotNotFound(
            f"there is no snapshot {snapshot_id} in this server's snapshot directory; "
            "resources/list shows the snapshots it keeps"
        ) from None
    except (OSError, ValueError) as exc:
        raise SnapshotNotFound(f"snapshot {snapshot_id} could not be read ({type(exc).__name__})") from None
    if not isinstance(record, dict) or record.get("id") != snapshot_id:
        raise SnapshotNotFound(f"snapshot {snapshot_id} is damaged: its file holds no snapshot record")
    if record.get("vendor") != vendor:
        raise ForeignSnapshot(f"snapshot {snapshot_id} was kept for {record.get('vendor')!r}, not {vendor}")
    return record


def entity_paths(record: dict[str, Any]) -> list[str]:
    return [str(e.get("path")) for e in record.get("entities") or [] if isinstance(e, dict)]


class SnapshotResources:
    """The snapshots of one vendor's store, listed and read as MCP resources."""

    def __init__(self, store: SnapshotStore, vendor: str, *, page_size: int = PAGE_SIZE) -> None:
        self.store = store
        self.vendor = vendor
        self.page_size = page_size

    def describe(self, snapshot_id: str) -> dict[str, Any] | None:
        """The resource for a snapshot; None for another vendor's."""
        uri = snapshot_uri(self.vendor, snapshot_id)
        try:
            record = load_snapshot(self.store, snapshot_id, self.vendor)
        except ForeignSnapshot:
            return None
        except SnapshotNotFound as exc:  # damaged: listed under its id, and the description says why
            return {"uri": uri, "name": snapshot_id, "description": str(exc), "mimeType": MIME_TYPE}
        tool, when = str(record.get("tool")), str(record.get("time"))
        entity = ", ".join(entity_paths(record)) or "(no entity)"
        restore = (record.get("target") or {}).get("restore_tool")
        description = f"The state of {entity} before {tool} wrote to it, kept at {when}."
        if restore:
            description += f" restore_snapshot writes it back through {restore}."
        out: dict[str, Any] = {
            "uri": uri,
            "name": f"{tool} {entity} {when}",
            "title": f"Before {tool} on {entity} ({when})",
            "description": description,
            "mimeType": MIME_TYPE,
        }
        with contextlib.suppress(OSError):
            out["size"] = self.store.path(snapshot_id).stat().st_size
        return out

    def list(self, cursor: str | None = None) -> dict[str, Any]:
        """One page, newest first; the cursor is the last id of the previous page."""
        ids = self.store.list()
        if cursor is not None:
            if not is_snapshot_id(cursor):
                raise BadSnapshotRef(f"{cursor!r} is not a cursor this server handed out")
            ids = [i for i in ids if i < cursor]
        page = ids[: self.page_size]
        described = (self.describe(i) for i in page)
        out: dict[str, Any] = {"resources": [r for r in described if r is not None]}
        if len(ids) > len(page):
            out["nextCursor"] = page[-1]
        return out

    def templates(self) -> dict[str, Any]:
        return {
            "resourceTemplates": [
                {
                    "uriTemplate": f"{SNAPSHOT_URI_PREFIX}{self.vendor}/{{snapshot_id}}",
                    "name": "snapshot",
                    "title": f"A {self.vendor} snapshot: the state of an entity before a write",
                    "mimeType": MIME_TYPE,
                }
            ]
        }

    def read(self, uri: str) -> dict[str, Any]:
        if not isinstance(uri, str) or not uri.startswith(SNAPSHOT_URI_PREFIX):
            raise BadSnapshotRef(
                f"{uri!r} is not a snapshot URI; this server's resources are {SNAPSHOT_URI_PREFIX}{self.vendor}/<id>"
            )
        snapshot_id = parse_snapshot_ref(uri, self.vendor)
        record = load_snapshot(self.store, snapshot_id, self.vendor)
        text = json.dumps(record, ensure_ascii=False, indent=1, default=str)
        return {
            "contents": [{"uri": snapshot_uri(self.vendor, snapshot_id), "mimeType": MIME_TYPE, "text": text}]
        }
