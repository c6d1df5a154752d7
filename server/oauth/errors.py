"""Errors raised by the OAuth layer. Every one carries a stable `code` and a `hint` that says how to
fix it; none of them ever contains a token or a client secret."""

from __future__ import annotations


class OAuthError(Exception):
    """Base class. `code` follows the runtime's error codes; `hint` is one line for the user."""

    code = "UNAUTHORIZED"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class ReauthRequired(OAuthError):
    """The stored credentials can no longer be renewed: the user must log in again."""


class TokenEndpointError(OAuthError):
    """The token endpoint failed in a way that may pass (network, 5xx, malformed answer)."""

    code = "UPSTREAM_ERROR"


class NotLoggedIn(ReauthRequired):
    """No tokens for this vendor and profile, and none in the environment."""


class StoreError(OAuthError):
    """A token store could not be read or written."""

    code = "STORE_ERROR"


class StoreUnavailable(StoreError):
    """The chosen store cannot work here (no keyring backend, no Redis URL, Redis down)."""


class StaleWriteError(StoreError):
    """A write lost its compare-and-set: the lease expired, or another writer got in first."""


class LockTimeout(StoreError):
    """The refresh lock was not obtained in time."""


class ProfileError(OAuthError):
    """The active profile cannot be determined safely."""

    code = "CONFIGURATION_ERROR"


class LoginError(OAuthError):
    """`ledgermcp login` failed."""
