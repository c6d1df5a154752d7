"""`ledgermcp serve --spec FILE` and `ledgermcp tools --spec FILE`: any description served with the
runtime a committed vendor has, its tool table cached by the file's sha256.

The end-to-end test runs the real command as a subprocess and drives it with the official `mcp`
client over stdio; the cache tests call `server/spec_vendor.py` directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from ledgermcp.server import spec_vendor as spec_module
from ledgermcp.server.spec_vendor import SpecVendorError, spec_vendor

REPO = Path(__file__).resolve().parents[1]
XERO = "xero-accounting.openapi.yaml"

SMALL = """
openapi: 3.0.3
info: {title: Acme Books, version: "1"}
servers: [{url: "https://api.acme.test/v1"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Acme-Key}
paths:
  /customers:
    get:
      operationId: listCustomers
      summary: List customers
      responses: {"200": {description: ok, content: {application/json: {schema: {type: array, items: {type: object}}}}}}
    post:
      operationId: createCustomer
      summary: Create a customer
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties: {name: {type: string}, city: {type: string}}
      responses: {"201": {description: created}}
  /customers/{id}:
    get:
      operationId: getCustomer
      summary: Get a customer
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
"""


def spec_dir() -> Path:
    return Path(os.environ.get("LEDGERMCP_SPEC_DIR") or REPO / ".." / "shared" / "specs").resolve()


def xero_path() -> Path:
    path = spec_dir() / XERO
    if not path.is_file():
        pytest.fail(f"{path} is missing: put the vendors' descriptions there or set LEDGERMCP_SPEC_DIR")
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "acme-books.openapi.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    return {"LEDGERMCP_CACHE_DIR": str(tmp_path / "cache")}


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERMCP_")}
    env["LEDGERMCP_CACHE_DIR"] = str(tmp_path / "cache")
    env["LEDGERMCP_SANDBOX_JOURNAL"] = str(tmp_path / "sandbox.jsonl")
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- end to end ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_xero_description_served_over_stdio_lists_tools_and_creates_then_gets(tmp_path: Path) -> None:
    path = xero_path()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ledgermcp", "serve", "--spec", str(path), "--sandbox", "--mode", "full"],
        env=server_env(tmp_path),
        cwd=str(tmp_path),
    )
    async with Client(params, mode="auto", read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        names = {t.name for t in listed.tools}
        assert {"create_account", "get_account", "list_accounts", "list_contacts"} <= names
        assert len(names) > 200  # one tool per operation of the description (235)
        create = next(t for t in listed.tools if t.name == "create_account")
        assert create.annotations is not None and create.annotations.read_only_hint is False
        # the tenant header is filled by the server (LEDGERMCP_XERO_ACCOUNTING_TENANT_ID), never asked for
        assert not [t.name for t in listed.tools if "xero-tenant-id" in t.input_schema.get("properties", {})]

        made = await client.call_tool("create_account", {"Code": "200", "Name": "Sales", "Type": "REVENUE"})
        assert not made.is_error, made.content
        account_id = made.structured_content["item"]["AccountID"]

        got = await client.call_tool("get_account", {"AccountID": account_id})
        assert not got.is_error, got.content
        assert got.structured_content["item"]["Name"] == "Sales"

        # the runtime's validation holds for a description served as it is
        bad = await client.call_tool("get_account", {"AccountID": 7})
        assert bad.is_error and bad.structured_content["error"]["code"] == "VALIDATION_ERROR"
    journal = [json.loads(line) for line in (tmp_path / "sandbox.jsonl").read_text().splitlines()]
    assert [(r["method"], r["path"].split("?")[0]) for r in journal][-2:] == [
        ("PUT", "/api.xro/2.0/Accounts"),
        ("GET", f"/api.xro/2.0/Accounts/{account_id}"),
    ]
    cached = list((tmp_path / "cache" / "tables").glob("xero_accounting-*.json"))
    assert len(cached) == 1  # the start built the table and kept it


@pytest.mark.anyio
async def test_a_description_served_over_streamable_http(small: Path, tmp_path: Path) -> None:
    from test_remote_support import ServerProcess, clean_env

    env = {**clean_env(), "LEDGERMCP_CACHE_DIR": str(tmp_path / "cache")}
    server = ServerProcess(["--spec", str(small), "--name", "acme", "--sandbox"], env, tmp_path / "stderr")
    try:
        async with Client(server.url) as client:
            listed = await client.list_tools()
            assert {"create_customer", "get_customer", "list_customers"} <= {t.name for t in listed.tools}
            made = await client.call_tool("create_customer", {"name": "Acme", "city": "Lund"})
            assert not made.is_error, made.content
            (created,) = [v for v in made.structured_content.values() if isinstance(v, dict)]
            missing = await client.call_tool("create_customer", {"city": "Lund"})
            assert missing.structured_content["error"]["code"] == "VALIDATION_ERROR"
    finally:
        server.stop()
    assert created["name"] == "Acme"


@pytest.mark.anyio
async def test_credentials_and_base_url_come_from_the_names_variables(small: Path, tmp_path: Path) -> None:
    """Not the sandbox: a real HTTP upstream on 127.0.0.1, reached with LEDGERMCP_ACME_* as set."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from secret_scan import register_secret

    key = "acme-key-5f0e9b2c71"
    register_secret(key, "LEDGERMCP_ACME_API_KEY")
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = b'[{"id": "1", "name": "Acme"}]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    env = server_env(
        tmp_path,
        LEDGERMCP_ACME_BASE_URL=f"http://127.0.0.1:{upstream.server_address[1]}/v1",
        LEDGERMCP_ACME_API_KEY=key,
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ledgermcp", "serve", "--spec", str(small), "--name", "acme", "--mode", "full"],
        env=env,
        cwd=str(tmp_path),
    )
    try:
        async with Client(params, mode="auto", read_timeout_seconds=60) as client:
            listed = await client.call_tool("list_customers", {})
            assert not listed.is_error, listed.content
    finally:
        upstream.shutdown()
        upstream.server_close()
    assert [(r["path"], r.get("x-acme-key")) for r in seen] == [("/v1/customers", key)]
    assert key not in json.dumps(listed.structured_content)


# --- the cache ----------------------------------------------------------------------------------


def counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    real = spec_module.build_entry

    def build(path: Path, name: str, key: str) -> dict[str, Any]:
        built.append(name)
        return real(path, name, key)

    monkeypatch.setattr(spec_module, "build_entry", build)
    return built


def test_second_start_reads_the_cached_table_and_builds_nothing(
    small: Path, cache: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = counting_builds(monkeypatch)
    first = spec_vendor(small, env=cache)
    second = spec_vendor(small, env=cache)
    assert built == ["acme_books"]
    assert second.tools == first.tools and second.info == first.info
    assert {t["name"] for t in first.tools} == {"list_customers", "create_customer", "get_customer"}
    assert first.env_prefix == "LEDGERMCP_ACME_BOOKS"


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b'{"format": 1}',
        b"\xff\xfe binary",
        "truncated",
        "other key",
        "tool without schema",
    ],
)
def test_a_damaged_cache_entry_is_rebuilt_never_trusted(
    small: Path, cache: dict[str, str], monkeypatch: pytest.MonkeyPatch, damage: Any
) -> None:
    built = counting_builds(monkeypatch)
    good = spec_vendor(small, env=cache)
    (entry,) = (Path(cache["LEDGERMCP_CACHE_DIR"]) / "tables").glob("acme_books-*.json")
    text = entry.read_bytes()
    if damage == "truncated":
        data = text[: len(text) // 2]
    elif damage == "other key":
        doc = json.loads(text)
        doc["key"] = "0" * 32
        data = json.dumps(doc).encode()
    elif damage == "tool without schema":
        doc = json.loads(text)
        del doc["tools"][0]["input_schema"]
        data = json.dumps(doc).encode()
    else:
        data = damage
    entry.write_bytes(data)
    again = spec_vendor(small, env=cache)
    assert built == ["acme_books", "acme_books"]
    assert again.tools == good.tools
    assert json.loads(entry.read_bytes()) == json.loads(text)  # rewritten whole


def test_a_changed_file_a_new_name_or_another_generator_builds_again(
    small: Path, cache: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = counting_builds(monkeypatch)
    spec_vendor(small, env=cache)
    spec_vendor(small, "acme", env=cache)
    small.write_text(SMALL.replace("List customers", "List all customers"))
    changed = spec_vendor(small, env=cache)
    monkeypatch.setattr(spec_module, "generator_fingerprint", lambda: "9.9.9+other")
    spec_vendor(small, env=cache)
    assert built == ["acme_books", "acme", "acme_books", "acme_books"]
    assert changed.tool("list_customers")["title"] == "List all customers"


def test_name_sets_the_vendor_and_its_variables(small: Path, cache: dict[str, str]) -> None:
    vendor = spec_vendor(small, "acme", env=cache)
    assert vendor.name == "acme" and vendor.env_prefix == "LEDGERMCP_ACME"
    with pytest.raises(SpecVendorError, match="not a vendor name"):
        spec_vendor(small, "Acme-Books", env=cache)


def test_a_read_only_cache_folder_costs_a_rebuild_not_the_start(small: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    vendor = spec_vendor(small, env={"LEDGERMCP_CACHE_DIR": str(blocker)})
    assert "create_customer" in vendor.by_name


# --- the command line ---------------------------------------------------------------------------


def test_tools_and_serve_share_the_spec_vendor(small: Path, tmp_path: Path) -> None:
    env = server_env(tmp_path)
    listed = cli("tools", "--spec", str(small), "--name", "acme", "--format", "json", "--mode", "full",
                 env=env, cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert {t["name"] for t in json.loads(listed.stdout)} == {
        "list_customers", "create_customer", "get_customer"
    }  # fmt: skip
    variables = cli("tools", "--spec", str(small), "--name", "acme", "--env", env=env, cwd=tmp_path)
    assert "LEDGERMCP_ACME_API_KEY" in variables.stdout and "X-Acme-Key" in variables.stdout
    assert "LEDGERMCP_CACHE_DIR" in variables.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--spec", "missing.yaml"], "--spec missing.yaml: no such file"),
        (["serve", "fortnox", "--spec", "x.yaml"], "name a VENDOR or give --spec FILE (not both)"),
        (["serve"], "name a VENDOR or give --spec FILE (not both)"),
        (["serve", "fortnox", "--name", "acme"], "--name goes with --spec FILE"),
        (["serve", "--spec", "BROKEN", "--sandbox"], "not valid YAML at line"),
        (["tools", "--spec", "SMALL", "--name", "9lives"], "'9lives' is not a vendor name"),
    ],
)
def test_bad_input_is_named_without_a_traceback(
    small: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\npaths:\n  /a: [unclosed\n")
    args = [{"BROKEN": str(broken), "SMALL": str(small)}.get(a, a) for a in args]
    result = cli(*args, env=server_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
