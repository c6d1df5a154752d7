"""`RotatingTokenAuth`: an `httpx.Auth` that keeps a vendor's OAuth2 tokens fresh when every
refresh rotates the refresh token (the old one dies the moment the new one is issued).

The rotation protocol, identical in the sync and async flows:

1. Use the in-memory access token while it is valid (refresh shortly before expiry).
2. Otherwise re-read the store; if the stored access token is valid, use it (no lock).
3. Otherwise take the store's cross-process lock for the vendor and profile, and re-read: if
   another process rotated meanwhile, use its tokens and stop.
4. If the record says the chain is broken (the vendor rejected its refresh token), fail at once
   with one error naming `ledgermcp login VENDOR`: no request is made, so nothing loops.
5. Write a "rotation pending" marker (fingerprint of the refresh token about to be spent, time,
   pid, host) — durably, before the request.
6. Send the refresh request. On success persist the new pair, clearing the marker, with the store's
   compare-and-set; only then is the new access token used. On a rejected grant persist the
   broken state (with whether a previous rotation had been interrupted) and raise.
7. Release the lock.

A 401 from the API triggers one forced renewal (unless another process already replaced the
rejected access token) and one retry; a second 401 is returned as is.

If a process dies between the vendor's rotation and step 6's write, the marker stays behind: the
next refresh then fails with invalid_grant and the error (and `ledgermcp doctor`) explains that an
interrupted rotation lost the new pair.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ledgermcp.server.oauth.config import OAuthSettings
from ledgermcp.server.oauth.endpoint import build_token_request, read_token_response, redact
from ledgermcp.server.oauth.errors import (
    NotLoggedIn,
    OAuthError,
    ReauthRequired,
    StaleWriteError,
    TokenEndpointError,
)
from ledgermcp.server.oauth.stores import DEFAULT_LOCK_TIMEOUT, Lease, TokenStore
from ledgermcp.server.oauth.tokens import TokenRecord, fingerprint

log = logging.getLogger("ledgermcp.oauth")


# Steps the protocol asks its driver to perform (the sync and async drivers differ only here).
@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass
class _Send:
    request: httpx.Request


@dataclass
class _Read:
    response: httpx.Response


def interrupted_explanation(pending: Mapping[str, Any]) -> str:
    started = pending.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "an unknown time"
    return (
        f"a token refresh started at {when} by process {pending.get('pid', '?')} on "
        f"{pending.get('host', '?')} never saved its result: the vendor most likely issued a new "
        "refresh token that was lost (crash or lost connection mid-rotation), which revoked the saved one"
    )


def _register_secrets(values: list[str]) -> None:
    """Hand credentials to the HTTP stack's log redaction (when that stack is present)."""
    try:
        from ledgermcp.server.http.redact import register_secrets
    except ImportError:
        return
    register_secrets(values)


class RotatingTokenAuth(httpx.Auth):
    """Bearer auth backed by a `TokenStore`, safe across threads, processes and hosts."""

    def __init__(
        self,
        settings: OAuthSettings,
        store: TokenStore,
        *,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.key = settings.store_key
        self._cached: TokenRecord | None = None
        self.refreshes = 0  # token requests this instance made (for tests and doctor)
        _register_secrets(settings.secrets())

    def stored_tenant(self) -> str | None:
        """The tenant this profile's login recorded (`ledgermcp login --tenant-id`), if any."""
        try:
            record = self.store.load(self.key)
        except Exception:  # an unreadable store shows up on the first request, with its own message
            return None
        return record.tenant_id if record is not None else None

    # -- store-side steps ------------------------------------------------------------------------
    def _load(self) -> TokenRecord | None:
        record = self._load_raw()
        if record is not None:
            _register_secrets(record.secrets())
        return record

    def _load_raw(self) -> TokenRecord | None:
        """The stored record, or one seeded from the environment when the environment carries a
        refresh token this profile has not consumed yet and no login has superseded it."""
        record = self.store.load(self.key)
        env_rt = self.settings.env_refresh_token
        if env_rt:
            seed = fingerprint(env_rt)
            if record is None:
                return TokenRecord(
                    access_token=self.settings.env_access_token,
                    refresh_token=env_rt,
                    origin="env",
                    env_seed=seed,
                    client_id=None,
                )
            if record.origin == "env" and record.env_seed != seed:
                log.info(
                    self.settings.tag(
                        f"{self.key}: a new refresh token in the environment replaces the stored one"
                    )
                )
                return TokenRecord(
                    refresh_token=env_rt, origin="env", env_seed=seed, generation=record.generation
                )
        elif record is None and self.settings.env_access_token:
            return TokenRecord(access_token=self.settings.env_access_token, origin="env")
        return record

    def _acquire(self) -> Lease:
        return self.store.acquire(self.key, self.lock_timeout)

    def _save(self, record: TokenRecord, lease: Lease) -> TokenRecord:
        return self.store.save(self.key, record, lease)

    def _rescue(self, spent_refresh: str | None, new: TokenRecord) -> TokenRecord:
        """Our lease lapsed (Redis: paused past the lock's expiry) after the vendor rotated. The new
        pair is the only valid one; write it if, and only if, the stored record still holds the
        refresh token we spent — then no one else can have a working pair to lose."""
        with self.store.locked(self.key, self.lock_timeout) as lease:
            current = self.store.load(self.key)
            current_rt = current.refresh_token if current else None
            if current_rt != spent_refresh:
                raise StaleWriteError(
                    self.settings.tag(f"{self.key} was replaced while this refresh was in flight")
                )
            return self.store.save(
                self.key, new.evolve(generation=current.generation if current else 0), lease
            )

    # -- decisions -------------------------------------------------------------------------------
    def _usable(self, record: TokenRecord | None, rejected: str | None) -> bool:
        if record is None or not record.access_token:
            return False
        if rejected is not None and record.access_token == rejected:
            return False
        return record.access_valid(self.clock(), self.settings.refresh_margin)

    def _secrets(self, record: TokenRecord | None = None) -> list[str | None]:
        out: list[str | None] = list(self.settings.secrets())
        if record is not None:
            out.extend(record.secrets())
        if self._cached is not None:
            out.extend(self._cached.secrets())
        return out

    def _broken_error(self, record: TokenRecord) -> ReauthRequired:
        broken = record.broken or {}
        what = (
            f"the {self.settings.vendor} refresh token was rejected ({broken.get('error', 'invalid_grant')})"
        )
        if broken.get("interrupted"):
            what += f"; {interrupted_explanation(broken['interrupted'])}"
        return ReauthRequired(
            self.settings.tag(what), hint=f"run `{self.settings.login_command}` to log in again"
        )

    def _grant_request(self, record: TokenRecord) -> httpx.Request:
        s = self.settings
        client_id = s.client_id or record.client_id
        client_secret = s.client_secret or record.client_secret
        if record.origin == "client_credentials":
            grant = {"grant_type": "client_credentials"}
            if s.scopes and s.token_request == "json":
                grant["scope"] = " ".join(s.scopes)
        else:
            if not record.refresh_token:
                raise ReauthRequired(
                    s.tag(f"no refresh token for {s.vendor} and the access token expired"),
                    hint=f"run `{s.login_command}`",
                )
            grant = {"grant_type": "refresh_token", "refresh_token": record.refresh_token}
        if not client_id or not client_secret:
            raise OAuthError(
                s.tag(f"no OAuth client id/secret for {s.vendor}"),
                hint=f"set {s.env_prefix}_CLIENT_ID and {s.env_prefix}_CLIENT_SECRET, or run `{s.login_command}`",
            )
        return build_token_request(
            s,
            grant,
            client_id=client_id,
            client_secret=client_secret,
            tenant_id=s.tenant_id or record.tenant_id,
        )

    # -- the protocol ----------------------------------------------------------------------------
    def _renew(self, rejected: str | None) -> Generator[Any, Any, TokenRecord]:
        s = self.settings
        record = yield _Call(self._load)
        if self._usable(record, rejected):
            self._cached = record
            return record
        if record is None:
            raise NotLoggedIn(s.tag(f"not logged in to {s.vendor}"), hint=f"run `{s.login_command}`")
        if record.broken:
            raise self._broken_error(record)
        lease: Lease = yield _Call(self._acquire)
        try:
            record = yield _Call(self._load)
            if record is None:
                raise NotLoggedIn(s.tag(f"not logged in to {s.vendor}"), hint=f"run `{s.login_command}`")
            if self._usable(record, rejected):
                log.debug(s.tag(f"{self.key}: tokens already renewed by another process"))
                self._cached = record
                return record
            if record.broken:
                raise self._broken_error(record)
            token_request = self._grant_request(record)
            interrupted = record.pending
            spent = record.refresh_token
            marker = {
                "started_at": self.clock(),
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "refresh": fingerprint(spent),
            }
            record = yield _Call(self._save, (record.evolve(pending=marker), lease))
            self.refreshes += 1
            response: httpx.Response = yield _Send(token_request)
            yield _Read(response)
            answer = read_token_response(response, self._secrets(record), self.clock())
            if answer.tokens is None:
                if answer.rejected and record.origin != "client_credentials":
                    broken = {"at": self.clock(), "error": answer.error, "interrupted": interrupted}
                    record = yield _Call(self._save, (record.evolve(pending=None, broken=broken), lease))
                    self._cached = None
                    err = self._broken_error(record)
                    log.error(str(err))
                    raise err
                detail = f"{answer.error}" + (f": {answer.description}" if answer.description else "")
                if answer.bad_client or answer.rejected:
                    raise ReauthRequired(
                        s.tag(f"the {s.vendor} token endpoint refused the client credentials ({detail})"),
                        hint=f"check {s.env_prefix}_CLIENT_ID / _CLIENT_SECRET, then run `{s.login_command}`",
                    )
                raise TokenEndpointError(
                    s.tag(f"the {s.vendor} token endpoint answered {answer.status} ({detail})"),
                    hint="try again later",
                )
            t = answer.tokens
            new = record.evolve(
                access_token=t["access_token"],
                refresh_token=t["refresh_token"] or record.refresh_token,
                token_type=t["token_type"],
                expires_at=t["expires_at"]
                if t["expires_at"] is not None or s.access_lifetime is None
                else t["obtained_at"] + s.access_lifetime,
                obtained_at=t["obtained_at"],
                scope=t["scope"] if t["scope"] is not None else record.scope,
                pending=None,
                broken=None,
            )
            try:
                saved = yield _Call(self._save, (new, lease))
            except StaleWriteError:
                log.warning(
                    s.tag(f"{self.key}: refresh lock lapsed during the refresh; re-checking before writing")
                )
                self.store.release(lease)  # whatever is left of it; the rescue takes a new one
                saved = yield _Call(self._rescue, (spent, new))
            self._cached = saved
            _register_secrets(saved.secrets())
            log.info(s.tag(f"{self.key}: tokens renewed (generation {saved.generation})"))
            return saved
        finally:
            self.store.release(lease)

    def _flow(self, request: httpx.Request) -> Generator[Any, Any, None]:
        record = self._cached
        if not self._usable(record, None):
            record = yield from self._renew(None)
        assert record is not None
        self._authorize(request, record)
        response: httpx.Response = yield _Send(request)
        if response.status_code != 401 or not record.renewable():
            return
        record = yield from self._renew(record.access_token)
        self._authorize(request, record)
        yield _Send(request)

    def _authorize(self, request: httpx.Request, record: TokenRecord) -> None:
        kind = record.token_type if record.token_type.lower() != "bearer" else "Bearer"
        request.headers["Authorization"] = f"{kind} {record.access_token}"
        tenant = self.settings.tenant_id or record.tenant_id
        if record.origin == "client_credentials" and tenant and self.settings.tenant_header:
            request.headers.setdefault(self.settings.tenant_header, tenant)

    # -- drivers ---------------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        protocol = self._flow(request)
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = protocol.throw(error) if error is not None else protocol.send(value)
                except StopIteration:
                    return
                value, error = None, None
                try:
                    if isinstance(step, _Send):
                        value = yield step.request
                    elif isinstance(step, _Read):
                        step.response.read()
                    else:
                        value = step.fn(*step.args)
                except Exception as exc:
                    error = exc
        finally:
            protocol.close()

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        import anyio.to_thread

        protocol = self._flow(request)
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = protocol.throw(error) if error is not None else protocol.send(value)
                except StopIteration:
                    return
                value, error = None, None
                try:
                    if isinstance(step, _Send):
                        value = yield step.request
                    elif isinstance(step, _Read):
                        await step.response.aread()
                    else:
                        value = await anyio.to_thread.run_sync(functools.partial(step.fn, *step.args))
                except Exception as exc:
                    error = exc
        finally:
            protocol.close()

    # -- helpers for callers ---------------------------------------------------------------------
    def token(self, client: httpx.Client, *, force: bool = False) -> TokenRecord:
        """A valid token record now, renewing it through `client` if needed (or if `force`):
        the same protocol as the request flow, without an API request."""
        protocol = self._renew(self._cached.access_token if force and self._cached else None)
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = protocol.throw(error) if error is not None else protocol.send(value)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                value, error = None, None
                try:
                    if isinstance(step, _Send):
                        value = client.send(step.request)
                    elif isinstance(step, _Read):
                        step.response.read()
                    else:
                        value = step.fn(*step.args)
                except Exception as exc:
                    error = exc
        finally:
            protocol.close()

    def redact(self, text: str) -> str:
        return redact(text, self._secrets())


def auth_for_vendor(
    info: Mapping[str, Any],
    profile: str | None = None,
    *,
    store: TokenStore | None = None,
    env: Mapping[str, str] | None = None,
) -> RotatingTokenAuth:
    """The auth for a generated vendor's `VENDOR` dict, the resolved profile and the configured
    store (`LEDGERMCP_TOKEN_STORE`)."""
    from ledgermcp.server.oauth.config import settings_from_vendor
    from ledgermcp.server.oauth.profiles import resolve_profile
    from ledgermcp.server.oauth.stores import open_store

    if profile is None:
        profile = resolve_profile(env=env).name
    settings = settings_from_vendor(info, profile, env)
    return RotatingTokenAuth(settings, store or open_store(env=env))


def auth_for_serve(
    info: Mapping[str, Any],
    profile_flag: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    store: TokenStore | None = None,
    stream: Any = None,
) -> tuple[Any, RotatingTokenAuth | None]:
    """What `serve` calls at start: resolve the profile strictly (a corrupt pointer raises
    `ProfileError`), print the non-default profile's banner on stderr, and return the rotating auth
    when this vendor and profile have OAuth tokens (stored, or a refresh token in the environment);
    `None` leaves the static, environment-derived auth in charge."""
    from ledgermcp.server.oauth.config import is_oauth_vendor, settings_from_vendor
    from ledgermcp.server.oauth.profiles import announce, resolve_profile
    from ledgermcp.server.oauth.stores import open_store

    choice = resolve_profile(profile_flag, env)
    announce(choice, stream)
    if not is_oauth_vendor(info):
        return choice, None
    settings = settings_from_vendor(info, choice.name, env)
    store = store or open_store(env=env)
    if store.load(settings.store_key) is None and not settings.env_refresh_token:
        return choice, None
    return choice, RotatingTokenAuth(settings, store)
