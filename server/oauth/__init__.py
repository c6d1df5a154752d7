"""OAuth2 for vendors whose refresh tokens rotate: token stores, the rotating `httpx.Auth`,
profiles, login and doctor.

Importing this package is cheap: submodules are imported where they are used.
"""

from __future__ import annotations

__all__ = ["auth", "config", "doctor", "errors", "login", "profiles", "stores", "tokens"]
