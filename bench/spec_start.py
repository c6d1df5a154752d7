"""Start-up of `ledgermcp serve --spec FILE` against a committed vendor: launch -> tools/list answered.

    python -m bench.spec_start [--runs 5] [--spec PATH] [--vendor fortnox]

Three servers, each started `--runs` times in alternation, all with `--sandbox` and the default
mode, driven by the official `mcp` client (spawn, initialize, tools/list):

- `spec, first start`: the cache folder is emptied before each start, so the tool table is built;
- `spec, cached`: the table built by an earlier start is read from the cache;
- `<vendor>`: the committed vendor's generated table.

Prints the median, minimum and maximum of each, in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: str


async def cold_start(server: Server) -> dict[str, float]:
    """Seconds from just before the spawn to the answered tools/list, and the tools it listed."""
    params = StdioServerParameters(
        command=server.argv[0], args=server.argv[1:], env=server.env, cwd=server.cwd
    )
    started = time.perf_counter()
    async with Client(params, mode="auto", read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        took = time.perf_counter() - started
    if not listed.tools:
        raise RuntimeError(f"{server.label}: tools/list is empty")
    return {"seconds": took, "tools": len(listed.tools)}


def _spec_default() -> Path:
    folder = Path(os.environ.get("LEDGERMCP_SPEC_DIR") or REPO.parent / "shared" / "specs")
    return folder / "xero-accounting.openapi.yaml"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", type=Path, default=None)
    parser.add_argument("--vendor", default="fortnox")
    args = parser.parse_args(argv)
    spec = args.spec or _spec_default()
    work = Path(tempfile.mkdtemp(prefix="ledgermcp-spec-start-"))
    cold_cache, warm_cache = work / "cold-cache", work / "warm-cache"
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERMCP_")}
    base["LEDGERMCP_DATA_DIR"] = str(work / "data")

    def server(label: str, argv: list[str], cache: Path) -> Server:
        env = {**base, "LEDGERMCP_CACHE_DIR": str(cache)}
        return Server(label, [sys.executable, "-m", "ledgermcp", *argv], env, str(work))

    serve_spec = ["serve", "--spec", str(spec), "--sandbox"]
    servers = [
        server("spec, first start", serve_spec, cold_cache),
        server("spec, cached", serve_spec, warm_cache),
        server(args.vendor, ["serve", args.vendor, "--sandbox"], warm_cache),
    ]
    await cold_start(servers[1])  # fills the warm cache; not counted
    times: dict[str, list[float]] = {s.label: [] for s in servers}
    tools: dict[str, float] = {}
    try:
        for i in range(args.runs):
            for s in servers[i % 3 :] + servers[: i % 3]:
                if s is servers[0]:
                    shutil.rmtree(cold_cache, ignore_errors=True)
                result = await cold_start(s)
                times[s.label].append(result["seconds"])
                tools[s.label] = result["tools"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"launch -> tools/list answered, {args.runs} runs each ({spec.name}; --sandbox, default mode)")
    for label, samples in times.items():
        print(
            f"  {label:<18} median {statistics.median(samples):.3f} s  min {min(samples):.3f}  "
            f"max {max(samples):.3f}  ({tools[label]:.0f} tools listed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
