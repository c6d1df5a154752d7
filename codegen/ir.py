"""The intermediate representation: plain data between the spec and every emitter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ledgermcp.codegen.effects import Decision
from ledgermcp.codegen.hints import Hints


@dataclass(frozen=True)
class Param:
    arg: str  # argument name in the tool's input schema
    name: str  # name on the wire
    location: str  # path | query | header | cookie
    required: bool
    style: str
    explode: bool
    # filled by the server, not by the caller (codegen/bound.py): "credential" or "tenant"
    bound: str | None = None
    credential: str | None = None  # for a credential: the configured value it takes ("api_key", ...)

    def to_table(self) -> dict[str, Any]:
        out = {"arg": self.arg, "name": self.name, "in": self.location, "required": self.required,
               "style": self.style, "explode": self.explode}  # fmt: skip
        if self.bound:
            out["bound"] = self.bound
        if self.credential:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True)
class Body:
    content_type: str
    required: bool
    wrapper: str | None  # the body is {wrapper: {...fields}}
    fields: dict[str, str]  # argument -> body property
    whole_body_arg: str | None  # non-object bodies travel whole in one argument


@dataclass(frozen=True)
class Binding:
    method: str
    path: str
    params: tuple[Param, ...]
    body: Body | None
    responses: tuple[str, ...]

    def to_table(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "params": [p.to_table() for p in self.params],
            "body": asdict(self.body) if self.body else None,
            "responses": list(self.responses),
        }


@dataclass(frozen=True)
class SnapshotTarget:
    method: str
    path: str
    params: dict[str, str]  # read path's parameter -> write tool's argument
    batch_arg: str | None
    read_tool: str | None
    restore_tool: str | None

    def to_table(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tags: tuple[str, ...]
    deprecated: bool

    @property
    def key(self) -> str:
        """How overlays and reports name an operation: stable across operationId renumbering."""
        return f"{self.method} {self.path}"


@dataclass
class Tool:
    name: str
    title: str
    description: str
    group: str
    kind: str
    operation: Operation
    hints: Hints
    input_schema: dict[str, Any]
    binding: Binding
    scopes: tuple[str, ...]
    snapshot: SnapshotTarget | None = None
    hint_sources: list[str] = field(default_factory=list)
    decision: Decision | None = None
    paging: dict[str, str] = field(default_factory=dict)  # role (page, limit, offset) -> argument

    @property
    def facts(self) -> dict[str, Any]:
        """What the operation does, as the runtime reads it (docs/effects.md)."""
        if self.decision is None:
            raise ValueError(f"tool {self.name!r} has no effect decision")
        restore = self.snapshot.restore_tool if self.snapshot else None
        facts = self.decision.facts(self.hints, restore_tool=restore)
        if self.paging:
            facts["paging"] = dict(self.paging)
        return facts

    @property
    def client_module(self) -> str:
        return f"api.{self.group}.{self.name}"

    def to_table(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "group": self.group,
            "operation_id": self.operation.operation_id,
            "kind": self.kind,
            "annotations": self.hints.annotations(self.title),
            "input_schema": self.input_schema,
            "binding": self.binding.to_table(),
            "facts": self.facts,
            "snapshot": self.snapshot.to_table() if self.snapshot else None,
            "scopes": list(self.scopes),
            "client_module": self.client_module,
        }


@dataclass
class VendorIR:
    name: str
    title: str
    spec_file: str
    spec_sha256: str
    base_url: str
    security_schemes: dict[str, Any]
    auth: dict[str, Any]
    rate_limit: dict[str, Any] | None
    env_aliases: dict[str, list[str]]
    groups: dict[str, str]
    tools: list[Tool]
    excluded: dict[str, str]  # operation key -> reason
    # what the server fills itself (codegen/bound.py `vendor_summary`); None when nothing is bound
    bound: dict[str, Any] | None = None

    @property
    def env_prefix(self) -> str:
        return "LEDGERMCP_" + self.name.upper().replace("-", "_")

    def vendor_table(self) -> dict[str, Any]:
        table = {
            "name": self.name,
            "title": self.title,
            "spec_file": self.spec_file,
            "spec_sha256": self.spec_sha256,
            "base_url": self.base_url,
            "env_prefix": self.env_prefix,
            "env_aliases": self.env_aliases,
            "security_schemes": self.security_schemes,
            "auth": self.auth,
            "rate_limit": self.rate_limit,
            "groups": self.groups,
            "excluded": self.excluded,
        }
        if self.bound:
            table["bound"] = self.bound
        return table
