"""Session-wide test plugins: the secret scan (tests/secret_scan.py), which fails the session when a
credential the tests use appears in a log record, a tool result, a snapshot or an audit line."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import secret_scan


def pytest_configure(config: pytest.Config) -> None:
    secret_scan.install_plugin(config)
    # Default data, state, config and cache folders (token stores, snapshots, audit log, approval
    # key, tool tables built from --spec) live in a folder of this run, also for the servers the
    # tests start: nothing lands in $HOME.
    home = Path(tempfile.mkdtemp(prefix="ledgermcp-test-home-"))
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(home / var.lower())
    plugin = secret_scan.session_plugin(config)
    if plugin is not None:
        plugin.extra_roots.append(home)  # swept by the secret scan at the session's end
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.fixture(scope="session", autouse=True)
def _secret_scan_basetemp(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> None:
    """Tell the scan where this session's temporary files live (swept at the end)."""
    plugin = secret_scan.session_plugin(pytestconfig)
    if plugin is not None:
        plugin.basetemp = tmp_path_factory.getbasetemp()
