"""The typed SDK on the vendor HTTP stack: one call gives a ready generated client.

    from ledgermcp.server.sdk import client_for
    from ledgermcp.generated.fortnox.client.api.invoices import list_invoices

    client = client_for("fortnox")
    response = list_invoices.sync_detailed(client=client)

`client_for` returns the `Client` class of `ledgermcp.generated.<vendor>.client` (from
openapi-python-client) with the vendor HTTP stack's httpx clients installed, sync and async, so a
generated call gets exactly what an MCP tool gets: auth from the environment (or `auth=`), retries
of idempotent requests, the vendor's client-side rate limit, and the timeout. The generated
`AuthenticatedClient` is not used: auth lives in the stack, where it also covers token refresh.

Settings, strongest first: the keyword arguments, the environment (`LEDGERMCP_<VENDOR>_BASE_URL`,
`LEDGERMCP_<VENDOR>_ACCESS_TOKEN`, `LEDGERMCP_<VENDOR>_TIMEOUT_MS`, ...; `ledgermcp tools VENDOR
--env` lists them), the vendor table.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["client_for"]


def client_for(
    vendor: str,
    *,
    base_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
    auth: httpx.Auth | None = None,
    env: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    raise_on_unexpected_status: bool = False,
    transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
    **stack_options: Any,
) -> Any:
    """A generated `Client` for `vendor` whose requests go through the vendor HTTP stack.

    `vendor`: a generated vendor id (`fortnox`, `smallinvoice`). `timeout` in seconds (or an
    `httpx.Timeout`). `auth` replaces the environment-derived auth (e.g. an OAuth2 flow).
    `transport` / `async_transport` replace the network under the stack (tests). `stack_options`
    go to both `build_sync_client` and `build_async_client` as they are (`retry=`, `rate_limit=`,
    `clock=`). A generated call is retried only when its operation may be repeated (the tool
    table's `facts.retry`, found by method and path): a GET that sends an e-mail never is.

    Use it as a context manager (`with client_for(...) as c:` or `async with`) to close the
    connections, or call `close()` / `await aclose()` on the result's httpx clients.
    """
    from ledgermcp.server.catalog import load_vendor
    from ledgermcp.server.http.client import build_async_client, build_sync_client, resolve_base_url
    from ledgermcp.server.http.retry import RetryRoutes

    loaded = load_vendor(vendor)
    info = loaded.info
    environ = os.environ if env is None else env
    url = resolve_base_url(info, base_url, env=environ)
    common: dict[str, Any] = {
        "base_url": url,
        "timeout": timeout,
        "auth": auth,
        "env": environ,
        "headers": headers,
        # a generated call is retried only where its operation may be repeated
        "retry_routes": RetryRoutes(loaded.tools, httpx.URL(url).path),
    }
    sync_http = build_sync_client(info, **common, transport=transport, **stack_options)
    async_http = build_async_client(info, **common, transport=async_transport, **stack_options)

    generated = importlib.import_module(f"ledgermcp.generated.{vendor}.client")
    client = generated.Client(
        base_url=url, timeout=sync_http.timeout, raise_on_unexpected_status=raise_on_unexpected_status
    )
    client.set_httpx_client(sync_http)
    client.set_async_httpx_client(async_http)
    return client
