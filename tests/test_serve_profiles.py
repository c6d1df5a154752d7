"""`serve` and the OAuth profile rules: an unreadable pointer refuses to start; tokens from a
profile's store reach the vendor through the HTTP stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _serve(
    tmp_path: Path, *extra: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LEDGERMCP_", "FORTNOX_", "SMALLINVOICE_"))
    }
    env.update(
        LEDGERMCP_CONFIG_DIR=str(tmp_path / "config"),
        LEDGERMCP_DATA_DIR=str(tmp_path / "data"),
        **(env_extra or {}),
    )
    return subprocess.run(
        [sys.executable, "-m", "ledgermcp", "serve", "fortnox", *extra],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreadable_profile_pointer_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "active-profile").write_text("not a valid name!\n")
    done = _serve(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "refusing to start" in done.stderr
    assert "Traceback" not in done.stderr


def test_explicit_profile_is_named_on_stderr(tmp_path: Path) -> None:
    # An empty stdin ends the stdio session at once; the banner comes before that.
    done = _serve(tmp_path, "--profile", "acme")
    assert "acme" in done.stderr
    assert "Traceback" not in done.stderr
