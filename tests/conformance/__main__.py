"""`python -m conformance [VENDOR ...]` (with `tests/` on the path; `nox -s conformance` does this).

Installs the pinned Prism, starts one mock server per vendor on 127.0.0.1, sends every tool and
every typed-client function to it and writes a report per vendor. Exit status 0 only when every
vendor's canary was rejected and every call was accepted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ledgermcp.codegen.vendor_config import project_root, vendor_names
from ledgermcp.server.catalog import load_vendor

from . import prism
from .described import write_for_prism
from .report import passed, render, write
from .runner import HarnessError, run_vendor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("vendors", nargs="*", help="vendors to check (default: every vendor in specs/)")
    parser.add_argument("--examples", type=int, default=6, help="argument sets per tool (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the argument generator (default 0)")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for Prism, its logs and the reports (default .conformance/)",
    )
    args = parser.parse_args(argv)
    root = project_root()
    work = (args.work or root / ".conformance").resolve()
    vendors = args.vendors or vendor_names(root)
    started = time.monotonic()

    def say(message: str) -> None:
        print(message, flush=True)

    try:
        cli = prism.install(work)
    except prism.PrismError as exc:
        say(f"error: {exc}")
        return 2
    prism_version = prism.version(cli)
    say(f"Prism {prism_version} ready in {time.monotonic() - started:.1f} s ({work / 'node_modules'})")

    described = {v: write_for_prism(v, work / "specs") for v in vendors}
    servers = {
        v: prism.PrismServer(cli, described[v].path, work / "logs" / f"prism-{v}.log").start()
        for v in vendors
    }
    ok = True
    try:
        prism.wait_all(list(servers.values()))
        for vendor in vendors:
            server = servers[vendor]
            say(
                f"[{vendor}] Prism serving {described[vendor].path.name} on {server.url} (loaded in {server.started_in:.1f} s)"
            )
            try:
                run = run_vendor(load_vendor(vendor), server.url, args.examples, args.seed)
            except HarnessError as exc:
                say(f"error: {vendor}: the check itself failed: {exc}")
                ok = False
                continue
            text = render(run, described[vendor], prism_version, args.examples)
            text_path, json_path = write(run, described[vendor], text, work / "reports")
            say(text)
            say(f"[{vendor}] report: {text_path} and {json_path}")
            ok = ok and passed(run)
            server.stop()
    except prism.PrismError as exc:
        say(f"error: {exc}")
        ok = False
    finally:
        for server in servers.values():
            server.stop()
    say(f"conformance: {'every vendor passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
