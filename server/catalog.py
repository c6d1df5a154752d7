"""Find and load a vendor's generated tool table (plain data; never imports its `client/`)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any


class UnknownVendorError(LookupError):
    """Raised when no generated package exists for the requested vendor."""


@dataclass(frozen=True)
class Vendor:
    """A vendor's metadata and its tools, as the generator wrote them."""

    info: dict[str, Any]
    tools: list[dict[str, Any]]
    by_name: dict[str, dict[str, Any]] = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def env_prefix(self) -> str:
        return str(self.info["env_prefix"])

    def tool(self, name: str) -> dict[str, Any]:
        return self.by_name[name]


def available_vendors() -> list[str]:
    """Vendors with a generated package, sorted."""
    import ledgermcp.generated as generated

    return sorted(m.name for m in pkgutil.iter_modules(generated.__path__) if m.ispkg)


def load_vendor(name: str) -> Vendor:
    """Import `ledgermcp.generated.<name>.tools` and wrap it; a clear error for unknown names."""
    if name not in available_vendors():
        from ledgermcp.server.toolspec import nearest_names

        known = ", ".join(available_vendors()) or "none"
        close = nearest_names(name, available_vendors(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownVendorError(f"unknown vendor {name!r}; {hint}generated vendors: {known}")
    module = importlib.import_module(f"ledgermcp.generated.{name}.tools")
    tools: list[dict[str, Any]] = module.TOOLS
    return Vendor(info=module.VENDOR, tools=tools, by_name={t["name"]: t for t in tools})
