"""The benchmark harness: ledgermcp against FastMCP's OpenAPI server (see bench/README.md)."""
