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

from ledgermcp.server.errors import UPSTREAM_ERROR, ToolFailure

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


EXCERPT_CHARS = 160  # characters of an unreadable answer quoted in the error


def excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of an answer as one short line of text, for an error message."""
    text = " ".join(body[: limit * 4].decode("utf-8", errors="replace").split())
    return text[:limit] + (" ..." if len(text) > limit or len(body) > limit * 4 else "")


def declared_types(expected: list[str] | None) -> list[str]:
    """The media types an operation declares for its answer; empty when any answer is acceptable
    (nothing declared, or `*/*`)."""
    types = [media_type(e) for e in expected or [] if e]
    return [] if not types or "*/*" in types else types


def sniff(mt: str, body: bytes, expected: list[str] | None) -> str:
    """The answer's media type, trusting the bytes over a missing or generic header."""
    if mt and mt not in ("*/*", "application/octet-stream"):
        return mt
    head = body.lstrip()[:1]
    if head in (b"{", b"[") and (expected is None or any(is_json(media_type(e)) for e in expected)):
        return "application/json"
    if body.startswith(b"%PDF"):
        return "application/pdf"
    if body.startswith(b"\x89PNG"):
        return "image/png"
    if not mt:
        declared = [media_type(e) for e in expected or [] if e and not is_json(media_type(e)) and e != "*/*"]
        return declared[0] if declared else "application/octet-stream"
    return mt


def _matches(mt: str, declared: list[str]) -> bool:
    for d in declared:
        if d == mt or (is_json(d) and is_json(mt)):
            return True
        if d.endswith("/*") and mt.startswith(d[:-1]):
            return True
        if mt == "application/octet-stream" and not is_json(d) and not d.startswith("text/"):
            return True  # a binary the header did not name, where a binary is declared
    return False


class UnreadableAnswer(ValueError):
    """A 2xx answer that cannot be read as what the operation declares."""

    def __init__(self, problem: str, body: bytes) -> None:
        super().__init__(problem)
        self.problem = problem
        self.excerpt = excerpt(body)


def read_as_declared(content_type: str | None, body: bytes, expected: list[str] | None) -> tuple[str, Any]:
    """(media type, parsed JSON or None) of a 2xx answer with a body; UnreadableAnswer when the
    answer is not what the operation declares (another media type, or JSON that does not parse).
    The one rule for tool results and for the read before a write."""
    mt = sniff(media_type(content_type), body, expected)
    declared = declared_types(expected)
    if declared and not _matches(mt, declared):
        raise UnreadableAnswer(f"is {mt}, not the declared {' or '.join(declared)}", body)
    if is_json(mt):
        try:
            return mt, json.loads(body)
        except ValueError:
            raise UnreadableAnswer(f"is not valid JSON (declared {mt})", body) from None
    return mt, None


def unreadable_failure(tool: str, status: int, exc: UnreadableAnswer, *, write: bool) -> ToolFailure:
    """UPSTREAM_ERROR for a 2xx answer that cannot be read as declared, quoting its start."""
    hint = (
        "The vendor (or something in front of it, such as a login or maintenance page) answered "
        "something else than this operation declares. "
    )
    if write:
        hint += (
            "The write may have happened: read the entity (its get or list tool) to check before "
            "repeating the call."
        )
    else:
        hint += "Retry later, and check the base URL if it persists."
    return ToolFailure(
        UPSTREAM_ERROR,
        f"{tool}: the vendor's HTTP {status} answer {exc.problem}: {exc.excerpt!r}",
        hint,
        status,
        sent=True,
        details={"excerpt": exc.excerpt, "may_have_happened": write},
    )


def success(
    *,
    tool: str,
    status: int,
    content_type: str | None,
    body: bytes,
    uri: str,
    expected: list[str] | None = None,
    write: bool = False,
) -> ToolResult:
    """Render a 2xx answer; one that cannot be read as the operation declares is an UPSTREAM_ERROR."""
    if not body or status in (204, 205):
        data = {"ok": True, "status": status}
        return ToolResult([{"type": "text", "text": f"{tool}: done (HTTP {status}, no content)"}], data)
    try:
        mt, data = read_as_declared(content_type, body, expected)
    except UnreadableAnswer as exc:
        return failure(unreadable_failure(tool, status, exc, write=write))
    if is_json(mt):
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
