"""Hand-written runtime: MCP app, transports, auth, safety, CLI."""
