"""The typed SDK type-checks as the README installs it (`pip install -e .`): `mypy --strict` on the
examples of docs/sdk.md and the README, run outside the clone so only the installed package can
be found. A loop that skips the error case must fail the same check: mypy really sees the types."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

UNCHECKED = """from ledgermcp.generated.fortnox.client.api.invoices import list_invoices
from ledgermcp.server.sdk import client_for

with client_for("fortnox") as client:
    response = list_invoices.sync_detailed(client=client)
    for invoice in response.parsed.invoices or []:
        print(invoice.document_number)
"""


def examples(path: Path) -> list[str]:
    return [b for b in re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S) if "ledgermcp" in b]


def test_documented_examples_pass_mypy_strict_against_the_installed_package(tmp_path: Path) -> None:
    files = []
    for source in (ROOT / "docs" / "sdk.md", ROOT / "README.md"):
        for i, code in enumerate(examples(source)):
            file = tmp_path / f"{source.stem.lower()}_{i}.py"
            file.write_text(code)
            files.append(file.name)
    assert "sdk_0.py" in files and "readme_0.py" in files
    (tmp_path / "unchecked.py").write_text(UNCHECKED)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy"),
            *files,
            "unchecked.py",
        ],
        cwd=tmp_path,  # outside the clone: the package is found only through the install
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = done.stdout + done.stderr
    assert "import-not-found" not in report and "Cannot find implementation" not in report, report
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert errors and all(line.startswith("unchecked.py:") for line in errors), report
    assert any("FortnoxErrorInformationWrap" in line and "invoices" in line for line in errors), report
