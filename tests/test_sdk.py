"""The typed SDK example of docs/sdk.md, run as written against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "sdk.md"
TOKEN = "sdk-test-token-4711"


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures = failures
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append(
                {"path": self.path, "authorization": self.headers.get("Authorization", "")}
            )
            fail = len(self.server.seen) <= self.server.failures
        if fail:
            body = b'{"ErrorInformation": {"message": "try later"}}'
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = json.dumps(
                {"Invoices": [{"DocumentNumber": "1001", "CustomerName": "Acme AB", "Total": 1250.0}]}
            ).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream(failures=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/sdk.md has no python example"
    return blocks[0]


def test_readme_example_runs_on_the_stack(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = DOC.parent.parent / "README.md"
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S) if "client_for" in b
    ]
    assert len(blocks) == 1, "README.md should show exactly one typed-SDK example"
    monkeypatch.setenv("LEDGERMCP_FORTNOX_BASE_URL", upstream.url)
    monkeypatch.setenv("LEDGERMCP_FORTNOX_ACCESS_TOKEN", TOKEN)
    exec(compile(blocks[0], str(readme), "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.split("\n")[0] == "200"
    # the upstream's 503 was retried by the shared stack, each attempt with the bearer token
    assert [s["path"] for s in upstream.seen] == ["/3/invoices", "/3/invoices"]
    assert all(s["authorization"] == f"Bearer {TOKEN}" for s in upstream.seen)


def test_documented_example_runs_on_the_stack(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGERMCP_FORTNOX_BASE_URL", upstream.url)
    monkeypatch.setenv("LEDGERMCP_FORTNOX_ACCESS_TOKEN", TOKEN)
    exec(compile(example_code(), str(DOC), "exec"), {"__name__": "sdk_example"})
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "200"
    assert out[1] == "1001 Acme AB 1250.0"
    # the 503 was retried by the stack, and every attempt carried the bearer token
    assert [s["path"] for s in upstream.seen] == ["/3/invoices", "/3/invoices"]
    assert all(s["authorization"] == f"Bearer {TOKEN}" for s in upstream.seen)


@pytest.mark.anyio
async def test_async_calls_share_the_stack(upstream: Upstream) -> None:
    from ledgermcp.generated.fortnox.client.api.invoices import list_invoices
    from ledgermcp.server.sdk import client_for

    env = {"LEDGERMCP_FORTNOX_ACCESS_TOKEN": TOKEN}
    async with client_for("fortnox", base_url=upstream.url, env=env, timeout=5) as client:
        http = client.get_async_httpx_client()
        assert http.timeout.read == 5
        response = await list_invoices.asyncio_detailed(client=client)
    assert response.status_code == 200
    assert response.parsed.invoices[0].document_number == "1001"
    assert len(upstream.seen) == 2 and upstream.seen[0]["authorization"] == f"Bearer {TOKEN}"


def test_unknown_vendor_is_a_clear_error() -> None:
    from ledgermcp.server.catalog import UnknownVendorError
    from ledgermcp.server.sdk import client_for

    with pytest.raises(UnknownVendorError, match="generated vendors"):
        client_for("nosuchvendor", env={})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
