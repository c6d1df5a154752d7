"""Downloads too large to inline: saved to a private file and returned as a resource link.

A binary or text document (PDF, image, CSV) above `LEDGERMCP_MAX_INLINE_BYTES` would be tens of
megabytes of base64 in the model's context. Instead it is written (atomically, mode 0600, folder
0700) to `downloads/VENDOR/` in the data directory (`LEDGERMCP_DATA_DIR` if set), and the result
carries a `resource_link` with its `file://` URI, name, media type and size. No `mcp` import.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
import secrets
from pathlib import Path
from typing import Any

from ledgermcp.server.files import atomic_write, private_dir, remove_stale_temp_files
from ledgermcp.server.limits import setting, size_text
from ledgermcp.server.render import ToolResult


def default_downloads_dir(vendor: str, env: Any = None) -> Path:
    from ledgermcp.server.oauth.stores import data_dir

    return data_dir(env) / "downloads" / vendor


def _extension(media_type: str) -> str:
    known = {"text/csv": ".csv", "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
    return known.get(media_type) or mimetypes.guess_extension(media_type) or ".bin"


def save(directory: Path, tool: str, media_type: str, body: bytes) -> Path:
    """Write `body` to a new private file in `directory`; returns its path."""
    private_dir(directory)
    remove_stale_temp_files(directory)
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    safe_tool = re.sub(r"[^a-z0-9_]", "_", tool.lower())[:64]
    path = directory / f"{stamp}-{safe_tool}-{secrets.token_hex(4)}{_extension(media_type)}"
    atomic_write(path, body)
    return path


def linked(tool: str, status: int, media_type: str, body: bytes, directory: Path, limit: int) -> ToolResult:
    """The result for a download above the inline limit: saved, then linked, never inlined."""
    path = save(directory, tool, media_type, body)
    link = {
        "type": "resource_link",
        "uri": path.as_uri(),
        "name": path.name,
        "mimeType": media_type,
        "size": len(body),
    }
    text = (
        f"{tool}: HTTP {status}, {media_type} document of {size_text(len(body))}, saved to {path} "
        f"(more than the {size_text(limit)} a result carries inline; {setting('max_inline_bytes')})"
    )
    return ToolResult([{"type": "text", "text": text}, link])
