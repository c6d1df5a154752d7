"""The stored record: one vendor and profile's tokens, how they were obtained, and the markers the
rotation protocol leaves (a rotation in progress, a chain known to be broken)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

FORMAT_VERSION = 1


def fingerprint(secret: str | None) -> str | None:
    """A short, non-reversible tag for a secret, safe to store and to print."""
    if not secret:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TokenRecord:
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    expires_at: float | None = None  # epoch seconds; None: unknown (valid until the API says 401)
    obtained_at: float | None = None
    scope: tuple[str, ...] | None = None  # granted scopes, when the token endpoint said
    # how the tokens came: "authorization_code", "client_credentials", "env" (seeded from the
    # environment); decides how they are renewed and whether the environment may replace them
    origin: str = "authorization_code"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    env_seed: str | None = None  # fingerprint of the environment refresh token already consumed
    # a rotation was started and has not been written back: {"started_at", "pid", "host", "refresh"}
    pending: dict[str, Any] | None = None
    # the token endpoint rejected the refresh token: {"at", "error", "interrupted"}
    broken: dict[str, Any] | None = None
    generation: int = 0  # +1 on every write; the stores' compare-and-set is on it
    updated_at: float | None = None

    # -- state -------------------------------------------------------------------------------
    def lifetime(self) -> float | None:
        if self.expires_at is None or self.obtained_at is None:
            return None
        return self.expires_at - self.obtained_at

    def access_valid(self, now: float | None = None, margin: float = 60.0) -> bool:
        """An access token that will still be valid `margin` seconds from now (the margin shrinks
        for short-lived tokens, to a tenth of their lifetime)."""
        if not self.access_token:
            return False
        if self.expires_at is None:
            return True
        now = time.time() if now is None else now
        life = self.lifetime()
        if life is not None:
            margin = min(margin, max(life, 0) / 10)
        return now < self.expires_at - margin

    def renewable(self) -> bool:
        """Can new tokens be had without the user? (Client credentials may come from the
        environment, so a client-credentials record always counts.)"""
        return self.origin == "client_credentials" or bool(self.refresh_token)

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.refresh_token, self.client_secret) if s]

    def evolve(self, **changes: Any) -> TokenRecord:
        return replace(self, **changes)

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scope"] = list(self.scope) if self.scope is not None else None
        data["format"] = FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenRecord:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("scope") is not None:
            values["scope"] = tuple(values["scope"])
        return cls(**values)

    def describe(self) -> str:
        """A one-line summary without secrets."""
        parts = [f"origin={self.origin}", f"generation={self.generation}"]
        if self.expires_at is not None:
            parts.append(f"access expires in {int(self.expires_at - time.time())}s")
        parts.append(f"refresh token {'present' if self.refresh_token else 'absent'}")
        if self.pending:
            parts.append("rotation interrupted")
        if self.broken:
            parts.append("refresh token rejected")
        return ", ".join(parts)


def parse_scope(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(s for s in value.replace(",", " ").split() if s)
    if isinstance(value, list | tuple):
        return tuple(str(s) for s in value)
    return None
