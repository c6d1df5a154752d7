"""What `ledgermcp serve` imports before it serves: only what serving needs (start-up time is
mostly imports; bench/ measures it, these tests keep the heavy ones out)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from ledgermcp.server import cli

# serve over stdio until stdin closes, then write the imported modules and what httpx.main is
LAUNCHER = """
import atexit, json, sys
def _dump():
    import httpx
    with open(sys.argv[1], "w") as fh:
        json.dump({"modules": sorted(k for k, v in sys.modules.items() if v), "httpx_main": httpx.main.__module__}, fh)
atexit.register(_dump)
from ledgermcp.server.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_each_verb_is_registered_by_the_module_the_map_names() -> None:
    registered = {}
    for module_name in cli.VERB_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"ledgermcp.{module_name}").register(subparsers)
        for verb in subparsers.choices:
            registered[verb] = module_name
    assert registered == cli.VERBS


def test_a_named_verb_builds_only_its_own_parser_and_the_full_one_has_all() -> None:
    serve_only = cli.build_parser("serve")
    verbs = next(a for a in serve_only._actions if isinstance(a, argparse._SubParsersAction))
    assert list(verbs.choices) == ["serve"]
    full = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(full.choices) == list(cli.VERBS)
    unknown = next(
        a for a in cli.build_parser("nosuchverb")._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert list(unknown.choices) == list(cli.VERBS)  # so the error lists every verb


def test_serve_imports_neither_the_generator_nor_httpx_command_line(tmp_path: Path) -> None:
    out = tmp_path / "imports.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERMCP_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(out), "serve", "fortnox", "--sandbox"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    modules = set(record["modules"])
    assert "ledgermcp.generated.fortnox.tools" in modules and "httpx" in modules
    heavy = (
        "ledgermcp.codegen",
        "ledgermcp.generated.fortnox.client",
        "openapi_python_client",
        "rich",
        "pygments",
    )
    assert sorted(m for m in modules if m.startswith(heavy)) == []
    assert sorted(m for m in modules if m.startswith("ledgermcp.server.cli_")) == [
        "ledgermcp.server.cli_options",
        "ledgermcp.server.cli_serve",
    ]
    assert record["httpx_main"] == "httpx"  # httpx's stub, not httpx._main
