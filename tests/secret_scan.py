"""The suite-wide secret scan: no credential the tests use may show up in anything the runtime
produces for people or machines to read.

What is collected, across the whole test session (tests/conftest.py installs it):

* every log record that reaches the root logger, at every level (the root logger is set to DEBUG
  for the session), formatted with its exception text;
* every tool result: what `CallPipeline.call` returns in-process, what the official MCP client
  receives (`ClientSession.call_tool`, in-process and from subprocess servers), and the raw JSON-RPC
  answers tests fetch from an `/mcp` endpoint with httpx;
* every pre-write snapshot (`SnapshotStore.save`) and audit log (`AuditLog.write`) written
  in-process, and, at the end of each test and of the session, every snapshot file, JSON-lines file
  (audit logs, sandbox journals) and server stderr file under pytest's temporary directories;
* the stdout/stderr pytest captured for each test (subprocesses included), and what tests read
  with `capsys.readouterr()`.

What counts as a secret: every credential the runtime registered for redaction
(`ledgermcp.server.http.redact`), every token `tests/oauth_server.py` issues, its client secret
and the Basic credentials made from it, values of secret-looking environment variables set with
`monkeypatch.setenv` or passed to `test_remote_support.clean_env`, secret-looking upper-case
constants of the collected test modules (`*_TOKEN`, `*_SECRET`, `*PASSWORD`, `*API_KEY`), and
whatever a test registers with `register_secret`.

`SessionSecretScan.pytest_sessionfinish` fails the session (exit status 1) and prints where each
secret appeared; `tests/test_zz_secret_scan.py`, collected last, asserts the same on what has been
collected by then. A `SecretScanner` used as `with scanner.capturing():` takes every record for
itself while the block runs, so a test can plant a leak without the session seeing it.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import functools
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MIN_SECRET_LENGTH = 6  # shorter values occur by accident (and the tests use none as credentials)
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIALS?)$", re.IGNORECASE)
SNAPSHOT_FILE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9_]{1,64}-[0-9a-f]{8}\.json$")
_SEPARATOR = "\x00"
_RUN = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class Finding:
    label: str  # which secret (never the value)
    source: str  # where it appeared
    excerpt: str  # the surroundings, with the secret masked

    def __str__(self) -> str:
        return f"{self.label} in {self.source}: ...{self.excerpt}..."


def preview(secret: str) -> str:
    return f"{secret[:4]}…({len(secret)} chars)"


class SecretScanner:
    """A registry of secret values plus every text collected; `findings()` says which secret
    appeared where."""

    def __init__(self, name: str = "isolated") -> None:
        self.name = name
        self.context = ""  # e.g. the running test, appended to each source
        self.counts: Counter[str] = Counter()  # records collected, by kind
        self._lock = threading.RLock()
        self._secrets: dict[str, str] = {}
        self._secret_sources: list[Callable[[], Iterable[tuple[str, str]]]] = []
        self._texts: dict[str, str] = {}  # text -> where it was first seen

    # -- secrets ---------------------------------------------------------------------------------

    def register(self, value: Any, label: str) -> None:
        if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.setdefault(value.strip(), label)

    def add_secret_source(self, source: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """`source()` yields (value, label) pairs; asked at scan time (a registry that grows)."""
        self._secret_sources.append(source)

    def secrets(self) -> dict[str, str]:
        for source in self._secret_sources:
            for value, label in source():
                self.register(value, label)
        with self._lock:
            return dict(self._secrets)

    # -- texts -----------------------------------------------------------------------------------

    def record(self, kind: str, text: str, detail: str = "") -> None:
        if not text:
            return
        where = (
            kind + (f" [{detail}]" if detail else "") + (f" during {self.context}" if self.context else "")
        )
        with self._lock:
            self.counts[kind] += 1
            self._texts.setdefault(text, where)

    def record_file(self, path: Path | str, kind: str) -> None:
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return
        if self is not _session_scanner():
            _CLAIMED.add(str(path.resolve()))
        self.record(kind, text, str(path))

    def sweep(self, root: Path | str) -> None:
        """Read the files under `root` that the runtime writes for people to read: snapshots,
        JSON-lines logs (audit, sandbox journal) and server stderr. Token stores are not among
        them: keeping secrets is their job."""
        for folder, _dirs, files in os.walk(root):
            for name in files:
                kind = _file_kind(name)
                path = Path(folder, name)
                if kind and str(path.resolve()) not in _CLAIMED:
                    self.record_file(path, kind)

    def contains(self, value: str) -> bool:
        """Did any collected text carry `value`?"""
        with self._lock:
            return any(value in text for text in self._texts)

    # -- the scan --------------------------------------------------------------------------------

    def findings(self, per_secret: int = 3) -> list[Finding]:
        secrets = self.secrets()
        with self._lock:
            items = list(self._texts.items())
        if not secrets or not items:
            return []
        starts: list[int] = []
        offset = 0
        for text, _ in items:
            starts.append(offset)
            offset += len(text) + len(_SEPARATOR)
        haystack = _SEPARATOR.join(text for text, _ in items)
        found: list[Finding] = []
        for secret in _present(secrets, haystack):
            label = secrets[secret]
            seen_sources: set[str] = set()
            at = haystack.find(secret)
            while at != -1 and len(seen_sources) < per_secret:
                index = bisect.bisect_right(starts, at) - 1
                text, where = items[index]
                if where not in seen_sources:
                    seen_sources.add(where)
                    local = at - starts[index]
                    excerpt = text[max(0, local - 60) : local + len(secret) + 60]
                    excerpt = excerpt.replace(secret, f"<{preview(secret)}>").replace("\n", "\\n")
                    found.append(Finding(f"{label} {preview(secret)}", where, excerpt))
                at = haystack.find(secret, at + 1)
        return sorted(found, key=lambda f: (f.label, f.source))

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        return f"{len(self.secrets())} secrets checked against {kinds or 'nothing'}"

    def report(self, findings: list[Finding]) -> str:
        lines = [f"{len(findings)} secret leak(s) found ({self.summary()}):"]
        lines += [f"  - {f}" for f in findings]
        return "\n".join(lines)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[SecretScanner]:
        """Every record made by the hooks goes to this scanner only, until the block ends."""
        _ACTIVE.append(self)
        try:
            yield self
        finally:
            _ACTIVE.remove(self)


def _present(secrets: dict[str, str], haystack: str) -> list[str]:
    """The secrets that occur in `haystack`. Most are made of URL-safe characters only; such a
    secret can only occur inside a run of those characters, and the distinct runs of the whole
    session are a tiny fraction of its text, so they are searched instead of the haystack."""
    runs = _SEPARATOR.join({run for run in _RUN.findall(haystack) if len(run) >= MIN_SECRET_LENGTH})
    return [s for s in secrets if (s in runs if _RUN.fullmatch(s) else s in haystack)]


def _file_kind(name: str) -> str | None:
    if SNAPSHOT_FILE.match(name):
        return "snapshot file"
    if name.endswith(".jsonl"):
        return "json-lines log file"
    if name == "stderr" or name.endswith(".stderr"):
        return "server stderr"
    return None


# -- the active scanner and the helpers fixtures call -------------------------------------------

_ACTIVE: list[SecretScanner] = []
_CLAIMED: set[str] = set()  # files recorded by an isolated scanner: its planted leaks, not ours


def current() -> SecretScanner | None:
    return _ACTIVE[-1] if _ACTIVE else None


def _session_scanner() -> SecretScanner | None:
    return _ACTIVE[0] if _ACTIVE else None


def claim_if_isolated(path: Path | str) -> None:
    """A file written while an isolated scanner captures holds its planted leaks: no sweep reads it."""
    if current() is not _session_scanner():
        _CLAIMED.add(str(Path(path).resolve()))


def register_secret(value: Any, label: str) -> None:
    """Tell the scan about a credential a test uses (the session's scanner, and the one
    capturing right now if that is another)."""
    for scanner in {id(s): s for s in (_session_scanner(), current()) if s is not None}.values():
        scanner.register(value, label)


def register_env_secrets(env: dict[str, str], label: str = "environment") -> None:
    for name, value in env.items():
        if SECRET_NAME.search(name):
            register_secret(value, f"{label} {name}")


def record(kind: str, text: str, detail: str = "") -> None:
    scanner = current()
    if scanner is not None:
        scanner.record(kind, text, detail)


def record_file(path: Path | str, kind: str) -> None:
    scanner = current()
    if scanner is not None:
        scanner.record_file(path, kind)


def basic_credentials(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# -- hooks into the runtime, the MCP SDK, httpx and pytest --------------------------------------


class _RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, rec: logging.LogRecord) -> None:
        try:
            text = self.format(rec)
        except Exception:  # a malformed record: logging itself reports it to the other handlers
            return
        record("log record", text, f"{rec.name} {rec.levelname}")


class Hooks:
    """Wraps the points where results, snapshots and audit lines are produced; `uninstall` puts
    every original back."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]  # KeyError: the hook point moved; update this module
        setattr(owner, name, functools.wraps(original)(make(original)))
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        from mcp.client.session import ClientSession

        from ledgermcp.server.calls import CallPipeline
        from ledgermcp.server.safety.audit import AuditLog
        from ledgermcp.server.safety.snapshots import SnapshotStore

        handler = _RecordingHandler()
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self._undo.append(lambda: (root.removeHandler(handler), root.setLevel(level)))

        def pipeline_call(original: Any) -> Any:
            async def call(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
                result = await original(self, name, *args, **kwargs)
                wire = result.to_wire() if hasattr(result, "to_wire") else result
                record("tool result", _json(wire), name)
                return result

            return call

        def session_call_tool(original: Any) -> Any:
            async def call_tool(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
                result = await original(self, name, *args, **kwargs)
                dump = getattr(result, "model_dump_json", None)
                record("MCP client result", dump() if dump else _json(result), name)
                return result

            return call_tool

        def snapshot_save(original: Any) -> Any:
            def save(self: Any, *args: Any, **kwargs: Any) -> Any:
                path = original(self, *args, **kwargs)
                record_file(path, "snapshot file")
                return path

            return save

        def audit_write(original: Any) -> Any:
            def write(self: Any, entry: Any, *args: Any, **kwargs: Any) -> Any:
                original(self, entry, *args, **kwargs)
                # the line just appended (re-reading the whole file each time would grow quadratically)
                record("audit log", _json(entry), str(self.path))
                claim_if_isolated(self.path)

            return write

        self._wrap(CallPipeline, "call", pipeline_call)
        self._wrap(ClientSession, "call_tool", session_call_tool)
        self._wrap(SnapshotStore, "save", snapshot_save)
        self._wrap(AuditLog, "write", audit_write)
        self._install_http()
        self._install_pytest()
        self._install_oauth_server()

    def _install_http(self) -> None:
        """Raw JSON-RPC answers from an `/mcp` endpoint that tests fetch with httpx themselves."""
        import httpx

        def seen(response: Any) -> None:
            if response.request.url.path.endswith("/mcp") and hasattr(response, "_content"):
                record("MCP HTTP answer", response.text, f"{response.request.method} {response.status_code}")

        def sync_send(original: Any) -> Any:
            def send(self: Any, *args: Any, **kwargs: Any) -> Any:
                response = original(self, *args, **kwargs)
                seen(response)
                return response

            return send

        def async_send(original: Any) -> Any:
            async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
                response = await original(self, *args, **kwargs)
                seen(response)
                return response

            return send

        self._wrap(httpx.Client, "send", sync_send)
        self._wrap(httpx.AsyncClient, "send", async_send)

    def _install_pytest(self) -> None:
        def readouterr(original: Any) -> Any:
            def read(self: Any) -> Any:
                out = original(self)
                for part in out:
                    if isinstance(part, str):
                        record("captured output", part, "capsys/capfd")
                return out

            return read

        def setenv(original: Any) -> Any:
            def set_(self: Any, name: str, value: str, *args: Any, **kwargs: Any) -> None:
                if SECRET_NAME.search(name):
                    register_secret(value, f"monkeypatch.setenv {name}")
                original(self, name, value, *args, **kwargs)

            return set_

        self._wrap(pytest.CaptureFixture, "readouterr", readouterr)
        self._wrap(pytest.MonkeyPatch, "setenv", setenv)

    def _install_oauth_server(self) -> None:
        import oauth_server

        register_secret(oauth_server.CLIENT_SECRET, "oauth_server.CLIENT_SECRET")
        register_secret(
            basic_credentials(oauth_server.CLIENT_ID, oauth_server.CLIENT_SECRET),
            "Basic credentials of oauth_server.CLIENT_ID/CLIENT_SECRET",
        )

        def new_secret(original: Any) -> Any:
            def issue(self: Any, prefix: str) -> str:
                value = original(self, prefix)
                register_secret(value, f"token issued by oauth_server ({prefix}...)")
                return value

            return issue

        self._wrap(oauth_server.OAuthTestServer, "_new_secret", new_secret)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def runtime_registered_secrets() -> Iterable[tuple[str, str]]:
    """Every credential the runtime registered for redaction. The registry has no public reader;
    reading it here keeps the scan complete without adding one to the runtime for tests only."""
    from ledgermcp.server.http import redact

    with redact._lock:
        values = list(redact._secrets)
    return [(v, "credential registered by the runtime") for v in values]


def module_constants(module: Any) -> Iterable[tuple[str, str]]:
    for name, value in vars(module).items():
        if name.isupper() and isinstance(value, str) and SECRET_NAME.search(name):
            yield value, f"{module.__name__}.{name}"


# -- the pytest plugin -------------------------------------------------------------------------


class SessionSecretScan:
    """Runs the scan over the whole session; registered by tests/conftest.py."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.scanner = SecretScanner("session")
        self.scanner.add_secret_source(runtime_registered_secrets)
        self.hooks = Hooks()
        self.basetemp: Path | None = None
        self.extra_roots: list[Path] = []  # other folders the runtime writes to during the session
        self.findings: list[Finding] = []
        self.finished = False
        self.scan_seconds = 0.0
        self._capture = contextlib.ExitStack()

    def start(self) -> None:
        self._capture.enter_context(self.scanner.capturing())
        self.hooks.install()

    def stop(self) -> None:
        self.hooks.uninstall()
        self._capture.close()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        modules = {id(m): m for item in session.items if (m := getattr(item, "module", None)) is not None}
        for module in modules.values():
            for value, label in module_constants(module):
                self.scanner.register(value, label)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self.scanner.context = item.nodeid
        try:
            return (yield)
        finally:
            self.scanner.context = f"after {item.nodeid}"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        # before the tmp_path fixture's own teardown, which may remove it (retention policy)
        tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
        if isinstance(tmp_path, Path) and tmp_path.is_dir():
            self.scanner.sweep(tmp_path)
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for title, content in report.sections:
            if title.startswith("Captured std"):
                self.scanner.record("captured output", content, f"{report.nodeid} {title}")

    def scan(self) -> list[Finding]:
        for root in [self.basetemp, *self.extra_roots]:
            if root is not None and root.is_dir():
                self.scanner.sweep(root)
        return self.scanner.findings()

    @pytest.hookimpl(tryfirst=True)  # before the tmpdir plugin may remove the base temp directory
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.scanner.context = "session end"
        began = time.perf_counter()
        self.findings = self.scan()
        self.scan_seconds = time.perf_counter() - began
        self.finished = True
        self.stop()
        if self.findings and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.finished:
            return
        if self.findings:
            terminalreporter.write_sep("=", "secret scan FAILED", red=True, bold=True)
            terminalreporter.write_line(self.scanner.report(self.findings))
        else:
            terminalreporter.write_line(
                f"secret scan: no leaks ({self.scanner.summary()}; {self.scan_seconds:.1f} s)"
            )


PLUGIN_NAME = "ledgermcp-secret-scan"


def install_plugin(config: pytest.Config) -> SessionSecretScan:
    plugin = SessionSecretScan(config)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    plugin.start()
    config.add_cleanup(plugin.stop)
    return plugin


def session_plugin(config: pytest.Config) -> SessionSecretScan | None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin if isinstance(plugin, SessionSecretScan) else None
