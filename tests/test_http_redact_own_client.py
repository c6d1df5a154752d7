"""An auth object of the HTTP stack used with the caller's own httpx client (no client builder ran)
still keeps its credential out of httpx's request log line. Found by the suite-wide secret scan."""

from __future__ import annotations

import subprocess
import sys

KEY = "k-own-client-31337"
CODE = f"""
import io, logging
import httpx
from ledgermcp.server.http.auth import ApiKeyAuth

out = io.StringIO()
logging.basicConfig(level=logging.INFO, stream=out, format="%(name)s %(message)s")
auth = ApiKeyAuth("api_key", {KEY!r}, location="query")
with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)), auth=auth) as client:
    client.get("https://api.example.test/x?limit=5")
print(out.getvalue())
"""


def test_query_api_key_is_masked_without_a_client_builder() -> None:
    # a fresh process: in this one an earlier test may already have installed the log filter
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=True)
    assert "httpx HTTP Request: GET https://api.example.test/x?limit=5&api_key=***" in out.stdout
    assert KEY not in out.stdout + out.stderr
