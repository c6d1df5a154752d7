"""Fill the parameters the tool table marks as bound: credentials and the tenant.

The generator decides which parameters the server fills (codegen/bound.py) and records it in each
tool's `binding.params` (`"bound": "credential"` with the `"credential"` kind it takes, or
`"bound": "tenant"`) and in the vendor's `bound` summary. This module only reads those marks:

- a credential parameter is filled from the configured credential of its kind
  (`LEDGERMCP_<VENDOR>_API_KEY`, `_PASSWORD`, `_API_SECRET`, `_ACCESS_TOKEN` as `Bearer ...`);
  `authorization` is left to the HTTP stack's auth, which writes that header itself;
- a tenant parameter is filled from `LEDGERMCP_<VENDOR>_TENANT_ID`, else the tenant the profile's
  stored login recorded; a call that names a tenant in the optional override argument (when the
  table lists one) uses that one instead, for each of its requests.

Values are added when the request is sent (`Upstream.send`), so they are never part of a
`PreparedRequest`: a dry-run plan, an approval prompt, a snapshot or the audit log never shows a
credential. Every request of a call is filled the same way, the snapshot's pre-read included: the
call's tenant is held in a context variable for the time the call runs.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

from ledgermcp.server import errors
from ledgermcp.server.errors import ToolFailure

CREDENTIAL = "credential"
TENANT = "tenant"

# the tenant the running call names in its override argument (None: the configured tenant)
CALL_TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ledgermcp_call_tenant", default=None
)


def bound_params(tool: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in (tool.get("binding") or {}).get("params") or [] if p.get("bound")]


class Binder:
    """The values bound parameters take for one server: its credentials and its tenant."""

    def __init__(
        self,
        vendor: Any,
        credentials: Mapping[str, str],
        *,
        tenant: str | None = None,
        require_tenant: bool = True,
    ) -> None:
        self.vendor = vendor
        self.credentials = dict(credentials)
        self.tenant = tenant or None
        self.require_tenant = require_tenant
        if self.credentials:
            from ledgermcp.server.http.redact import register_secrets

            register_secrets(list(self.credentials.values()))

    def __repr__(self) -> str:
        return f"Binder(vendor={self.vendor.name!r}, tenant={self.tenant!r}, credentials=[redacted])"

    @property
    def tenant_variable(self) -> str:
        return f"{self.vendor.env_prefix}_TENANT_ID"

    def override(self, tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
        """The tenant a call names in its override argument, if the tool offers one and it is given."""
        for param in bound_params(tool):
            if param["bound"] == TENANT and arguments.get(param["arg"]) not in (None, ""):
                return str(arguments[param["arg"]])
        return None

    def check(self, tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
        """Refuse, before anything is sent, a call whose operation needs a tenant nobody named."""
        if not self.require_tenant or self.tenant or self.override(tool, arguments):
            return
        needs = [p for p in bound_params(tool) if p["bound"] == TENANT and p.get("required")]
        if not needs:
            return
        header = needs[0]["name"]
        title = self.vendor.info.get("title") or self.vendor.name
        also = f", or pass '{needs[0]['arg']}' for this call" if self._listed(tool, needs[0]) else ""
        raise ToolFailure(
            errors.UNAUTHORIZED,
            f"{tool['name']}: no {title} tenant is configured; the {header!r} header names the "
            "tenant every call acts on",
            f"the server owner sets {self.tenant_variable} to the tenant's id{also}; nothing was sent",
            sent=False,
        )

    @staticmethod
    def _listed(tool: Mapping[str, Any], param: Mapping[str, Any]) -> bool:
        return param["arg"] in ((tool.get("input_schema") or {}).get("properties") or {})

    def value(self, param: Mapping[str, Any]) -> str | None:
        if param["bound"] == TENANT:
            return CALL_TENANT.get() or self.tenant
        kind = param.get("credential")
        if kind == "access_token":
            token = self.credentials.get("access_token")
            return f"Bearer {token}" if token and param["name"].lower() == "authorization" else token
        if kind == "authorization":  # written by the HTTP stack's auth
            return None
        return self.credentials.get(str(kind)) if kind else None

    def apply(self, request: Any, tool_name: str) -> None:
        """Add the bound parameters of `tool_name` that `request` (an `httpx.Request`) lacks."""
        tool = self.vendor.by_name.get(tool_name)
        if tool is None:
            return
        for param in bound_params(tool):
            value = self.value(param)
            if not value:
                continue
            name, where = str(param["name"]), param.get("in")
            if where == "header" and name not in request.headers:
                request.headers[name] = value
            elif where == "query" and name not in request.url.params:
                request.url = request.url.copy_merge_params({name: value})
            elif where == "cookie":
                existing = request.headers.get("Cookie")
                cookie = f"{name}={value}"
                request.headers["Cookie"] = f"{existing}; {cookie}" if existing else cookie


def binder_for(vendor: Any, credentials: Mapping[str, str], **kwargs: Any) -> Binder | None:
    """A binder when the vendor's table binds any parameter, else None (nothing to fill)."""
    if not vendor.info.get("bound"):
        return None
    return Binder(vendor, credentials, **kwargs)
