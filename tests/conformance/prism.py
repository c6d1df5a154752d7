"""Prism (`@stoplight/prism-cli`): installed into a local folder, run as a mock server on 127.0.0.1.

The version is pinned by `package.json` and `package-lock.json` beside this file (Prism 5.14.2
with the prism-* packages it was released with, the last line that runs on Node 20); `npm ci
--prefix` installs exactly that tree into `<work>/node_modules`, once: a stamp with the lockfile's
hash makes the next run skip it. Nothing is installed globally and no install script runs.

In mock mode Prism validates each request against the description (path, method, parameters,
body, content type, security) and says what is wrong (see exchanges.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
MANIFESTS = ("package.json", "package-lock.json")
START_TIMEOUT = 180.0  # seconds; the Fortnox description takes Prism some 10-20 s to load


class PrismError(RuntimeError):
    """Prism could not be installed or started; the message says why and what to do."""


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SCARF_ANALYTICS": "false", "npm_config_update_notifier": "false", "NO_COLOR": "1"})
    return env


def install(work: Path) -> Path:
    """Install the pinned Prism under `work` (skipped when already there); returns its CLI script."""
    npm = shutil.which("npm")
    node = shutil.which("node")
    if not npm or not node:
        raise PrismError(
            "node and npm are needed to run Prism; install Node.js 18.20 or newer (e.g. apt-get install nodejs npm)"
        )
    work.mkdir(parents=True, exist_ok=True)
    lock = (HERE / "package-lock.json").read_bytes()
    stamp = work / ".installed-lock-sha256"
    cli = work / "node_modules" / "@stoplight" / "prism-cli" / "dist" / "index.js"
    digest = hashlib.sha256(lock).hexdigest()
    if cli.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return cli
    for name in MANIFESTS:
        shutil.copyfile(HERE / name, work / name)
    cmd = [
        npm,
        "ci",
        "--prefix",
        str(work),
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
    ]
    proc = subprocess.run(cmd, env=_quiet_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not cli.is_file():
        raise PrismError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}"
        )
    stamp.write_text(digest + "\n")
    return cli


def version(cli: Path) -> str:
    proc = subprocess.run(
        ["node", str(cli), "--version"], env=_quiet_env(), capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "unknown"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_all(servers: list[PrismServer], timeout: float = START_TIMEOUT) -> None:
    """Wait until every server listens (they load side by side); raise for the first that fails."""
    deadline = time.monotonic() + timeout
    while not all([server.ready() for server in servers]):
        if time.monotonic() > deadline:
            late = next(server for server in servers if not server.started_in)
            raise PrismError(f"Prism did not start within {timeout:.0f} s on {late.url}:\n{late.log_tail()}")
        time.sleep(0.2)


class PrismServer:
    """One `prism mock` process for one description; use as a context manager (stops it)."""

    def __init__(self, cli: Path, spec: Path, log: Path) -> None:
        self.cli, self.spec, self.log_path = cli, spec, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrismServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "node",
                    str(self.cli),
                    "mock",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    str(self.spec),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_quiet_env(),
            )
        return self

    def ready(self) -> bool:
        """True once Prism listens (and notes how long loading took); raises if it died."""
        assert self.process is not None
        if self.started_in:
            return True
        if self.process.poll() is not None:
            raise PrismError(
                f"Prism exited with {self.process.returncode} while loading {self.spec}:\n{self.log_tail()}"
            )
        if "Prism is listening" in self.log_path.read_text(errors="replace") and self._accepts():
            self.started_in = time.monotonic() - self._started
            return True
        return False

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        wait_all([self], timeout)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> PrismServer:
        if self.process is None:
            self.start()
        self.wait_ready()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
