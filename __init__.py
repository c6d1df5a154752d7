"""ledgermcp: typed SDKs and safe MCP servers generated from vendors' OpenAPI descriptions.

This file is the `ledgermcp` package itself: setup.py maps the repository root to it, so the
top-level folders become `ledgermcp.codegen`, `ledgermcp.server` and `ledgermcp.generated`.
"""

__version__ = "0.1.0"
