"""The HTTP stack stays below the MCP layer and away from build-time and generated code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ledgermcp.server.http as http_pkg

HTTP_DIR = Path(http_pkg.__file__).parent
FORBIDDEN_PREFIXES = ("mcp", "ledgermcp.codegen", "ledgermcp.server.app", "ledgermcp.server.cli")


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports would escape this check
                names.append("." * node.level + (node.module or ""))
            else:
                names.append(node.module or "")
    return names


def test_no_forbidden_imports() -> None:
    offenders = []
    for path in sorted(HTTP_DIR.glob("*.py")):
        for name in imported_modules(path):
            forbidden = name.startswith(".") or any(
                name == p or name.startswith(p + ".") for p in FORBIDDEN_PREFIXES
            )
            if name.startswith("ledgermcp.generated.") and ".client" in name:
                forbidden = True
            if forbidden:
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_importing_the_stack_loads_no_mcp() -> None:
    code = "import sys, ledgermcp.server.http.client; print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
