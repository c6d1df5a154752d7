"""Turn a vendor answer (or a failure) into a tool result, as plain data in MCP wire shape.

JSON answers become `structuredContent` (always a JSON object, as 2025-11-25 requires: lists and
scalars are wrapped) plus a short text rendering for clients that only read text. Binary answers
(PDF, images, anything not text) become an embedded resource with the answer's mime type and a
base64 blob; text documents (CSV, XML) an embedded text resource. Nothing here imports `mcp`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.server.errors import ToolFailure

TEXT_LIMIT = 4000  # characters of JSON echoed in the text block; structuredContent has it all


@dataclass
class ToolResult:
    content: list[dict[str, Any]]
    structured: dict[str, Any] | None = None
    is_error: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"content": self.content, "isError": self.is_error}
        if self.structured is not None:
            out["structuredContent"] = self.structured
        if self.meta:
            out["_meta"] = self.meta
        return out

    @property
    def text(self) -> str:
        return "\n".join(c["text"] for c in self.content if c.get("type") == "text")


def failure(f: ToolFailure) -> ToolResult:
    return ToolResult([{"type": "text", "text": f.text()}], {"error": f.as_dict()}, is_error=True)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(mt: str) -> bool:
    return mt == "application/json" or mt.endswith("+json") or mt == "text/json"


def _count_phrase(data: Any) -> str:
    if isinstance(data, list):
        return f"{len(data)} item(s)"
    if isinstance(data, dict):
        lists = [(k, v) for k, v in data.items() if isinstance(v, list)]
        if len(lists) == 1:
            key, items = lists[0]
            return f"{len(items)} {key}"
    return ""


def json_text(headline: str, data: Any) -> str:
    dumped = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(dumped) > TEXT_LIMIT:
        dumped = dumped[:TEXT_LIMIT] + f" ... [truncated; {len(dumped)} characters in structuredContent]"
    return f"{headline}\n{dumped}"


def structured_of(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        return {"items": data}
    return {"value": data}


def success(
    *,
    tool: str,
    status: int,
    content_type: str | None,
    body: bytes,
    uri: str,
    expected: list[str] | None = None,
) -> ToolResult:
    """Render a 2xx answer."""
    mt = media_type(content_type)
    if not body or status in (204, 205):
        data = {"ok": True, "status": status}
        return ToolResult([{"type": "text", "text": f"{tool}: done (HTTP {status}, no content)"}], data)
    if not mt or mt in ("*/*", "application/octet-stream"):
        # trust the bytes over a missing or generic header
        head = body.lstrip()[:1]
        if head in (b"{", b"[") and (expected is None or any(is_json(media_type(e)) for e in expected)):
            mt = "application/json"
        elif body.startswith(b"%PDF"):
            mt = "application/pdf"
        elif body.startswith(b"\x89PNG"):
            mt = "image/png"
        elif not mt:
            declared = [
                media_type(e) for e in expected or [] if e and not is_json(media_type(e)) and e != "*/*"
            ]
            mt = declared[0] if declared else "application/octet-stream"
    if is_json(mt):
        try:
            data = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", errors="replace")
            return ToolResult(
                [{"type": "text", "text": f"{tool}: HTTP {status} (invalid JSON)\n{text[:TEXT_LIMIT]}"}]
            )
        phrase = _count_phrase(data)
        headline = f"{tool}: HTTP {status}" + (f", {phrase}" if phrase else "")
        return ToolResult([{"type": "text", "text": json_text(headline, data)}], structured_of(data))
    if mt == "text/plain":
        text = body.decode("utf-8", errors="replace")
        return ToolResult([{"type": "text", "text": text}])
    if mt.startswith("text/") or mt in ("application/xml", "application/csv"):
        text = body.decode("utf-8", errors="replace")
        return ToolResult(
            [
                {"type": "text", "text": f"{tool}: {mt} document, {len(body)} bytes, embedded as {uri}"},
                {"type": "resource", "resource": {"uri": uri, "mimeType": mt, "text": text}},
            ]
        )
    return ToolResult(
        [
            {"type": "text", "text": f"{tool}: {mt} document, {len(body)} bytes, embedded as {uri}"},
            {
                "type": "resource",
                "resource": {"uri": uri, "mimeType": mt, "blob": base64.b64encode(body).decode("ascii")},
            },
        ]
    )
