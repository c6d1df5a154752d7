"""Session-wide test plugins: the secret scan (tests/secret_scan.py), which fails the session when a
credential the tests use appears in a log record, a tool result, a snapshot or an audit line."""

from __future__ import annotations

import pytest
import secret_scan


def pytest_configure(config: pytest.Config) -> None:
    secret_scan.install_plugin(config)


@pytest.fixture(scope="session", autouse=True)
def _secret_scan_basetemp(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> None:
    """Tell the scan where this session's temporary files live (swept at the end)."""
    plugin = secret_scan.session_plugin(pytestconfig)
    if plugin is not None:
        plugin.basetemp = tmp_path_factory.getbasetemp()
