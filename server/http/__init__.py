"""The vendor HTTP stack: one httpx client per vendor, shared by MCP tools and the typed SDK.

Layers, outermost first (each in its own module, each testable with `httpx.MockTransport`):

    auth (httpx.Auth)  ->  retry  ->  rate limit  ->  network transport

Rate limiting sits *under* retry so that every attempt, re-sent ones included, takes a slot in
the vendor's window; the auth flow's own requests (an OAuth2 token fetch) pass through the same
layers. `client.build_async_client` / `client.build_sync_client` assemble the stack.

Nothing here imports `mcp`, `ledgermcp.codegen` or a generated `client/` package.
"""
