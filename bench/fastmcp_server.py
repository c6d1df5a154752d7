"""The comparison server: FastMCP's `from_openapi` on a vendor description, pointed at the stub.

Runs with the FastMCP virtualenv's interpreter (the harness makes it), so it imports nothing of
ledgermcp. The harness hands it the description already normalised by
`ledgermcp.codegen.normalize.normalise` (the same fixes our generator applies: string keys where
YAML read integers, `*/*` request bodies as JSON, schema names with dots made safe), because
FastMCP's parser rejects or skips parts of the raw vendor files.

Everything else is FastMCP's default `from_openapi` (every operation a tool, output schemas and
response validation on); only the banner and its update check are off, as they are cosmetic and
would reach for the network. Over HTTP it serves Streamable HTTP at `/mcp`, stateless with JSON
responses like `ledgermcp serve --transport http`, so both answer each POST on its own.

    python bench/fastmcp_server.py --spec SPEC.json --base-url http://127.0.0.1:PORT
        [--transport stdio|http] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="normalised OpenAPI description (JSON)")
    parser.add_argument("--base-url", required=True, help="upstream base URL (the stub)")
    parser.add_argument("--name", default="vendor")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")

    import httpx2
    from fastmcp import FastMCP

    with open(args.spec, encoding="utf-8") as fh:
        spec = json.load(fh)
    client = httpx2.AsyncClient(base_url=args.base_url, timeout=30.0)
    server = FastMCP.from_openapi(spec, client=client, name=args.name)
    if args.transport == "stdio":
        server.run(transport="stdio", show_banner=False)
    else:
        server.run(
            transport="http",
            show_banner=False,
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            stateless_http=True,
            json_response=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
