"""The floor: a bare `mcp` low-level server with one tool that GETs a customer from the stub.

No tool table, no validation, no safety gates: what any Python MCP server on the official SDK
pays at least for starting and for one call over stdio. The harness reports it next to the two
servers so their numbers can be read against it.

    python -m bench.floor_server http://127.0.0.1:PORT
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> int:
    import anyio
    import httpx
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    base_url = sys.argv[1]
    tool = types.Tool(
        name="get_customer",
        description="Retrieve a customer by number.",
        input_schema={
            "type": "object",
            "properties": {"CustomerNumber": {"type": "string"}},
            "required": ["CustomerNumber"],
        },
    )

    async def serve() -> None:
        async with httpx.AsyncClient(base_url=base_url) as upstream:

            async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
                return types.ListToolsResult(tools=[tool])

            async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
                number = (params.arguments or {}).get("CustomerNumber", "")
                response = await upstream.get(f"/3/customers/{number}")
                return types.CallToolResult(
                    content=[types.TextContent(text=response.text)], is_error=response.status_code >= 400
                )

            server: Server[Any] = Server("floor", on_list_tools=on_list_tools, on_call_tool=on_call_tool)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
