"""The tool-call pipeline: one explicit stage per concern, no `mcp` import.

    resolve   tool name -> tool-table entry (unknown or hidden tools are refused)
    validate  arguments against the tool's input schema (jsonschema), reserved arguments by their
              checks; failures -> VALIDATION_ERROR, nothing is sent
    prepare   binding + arguments -> PreparedRequest (server/requests.py)
    gate      ordered gates, each may stop the call with its own result (dry-run, approval, ...)
              or let it pass; `before_send` hooks run after the gates (snapshots)
    send      through an `Upstream`: a seam around any `httpx.AsyncClient`
    render    2xx -> structuredContent / embedded resource, then the shapers (server/shaping.py);
              else a stable error code (server/errors.py)
    observe   `after` hooks see every outcome (audit log)

Every exception is caught at `CallPipeline.call`: a result never carries a traceback, and every
message is scrubbed of the credentials the server knows.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from ledgermcp.server import bound, errors, render
from ledgermcp.server.catalog import Vendor
from ledgermcp.server.errors import ToolFailure
from ledgermcp.server.http.auth import BearerAuth
from ledgermcp.server.http.errors import RETRIES_KEY
from ledgermcp.server.limits import Limits, setting, size_text
from ledgermcp.server.render import ToolResult
from ledgermcp.server.requests import PreparedRequest, RequestBuildError, build_request
from ledgermcp.server.settings import VendorSettings, credential_env_names, load_settings
from ledgermcp.server.shaping import cap_result

STAGES = ("resolve", "validate", "prepare", "gate", "send", "render", "observe")


class UnknownToolError(LookupError):
    """The name is not a tool this server offers (unknown, or hidden by the selection)."""


@dataclass
class Call:
    """One tool call as it moves through the stages; gates and hooks read and annotate it."""

    tool: dict[str, Any]
    arguments: dict[str, Any]
    request: PreparedRequest | None = None
    context: Any = None  # the transport's request context (the MCP app passes its own), opaque here
    extras: dict[str, Any] = field(default_factory=dict)  # gates leave notes here (snapshot id, ...)
    started: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return str(self.tool["name"])

    @property
    def read_only(self) -> bool:
        return bool(self.tool["annotations"].get("readOnlyHint"))


# A gate returns None to let the call go on, or a result that ends it (a ToolResult, or any value
# the transport layer knows how to send, e.g. a request for human input).
Gate = Callable[[Call], Awaitable[Any]]
Hook = Callable[[Call], Awaitable[None]]
Observer = Callable[[Call, Any], Awaitable[None]]
# checks of the reserved arguments (validate stage): problems in the validator's shape
ReservedCheck = Callable[[Call], list[dict[str, str]]]
# reshapes a 2xx result (render stage), e.g. keeps only some fields of a read tool's answer
Shaper = Callable[[Call, ToolResult], ToolResult]


# --- validate -----------------------------------------------------------------------------

_JSON_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}
_EXAMPLES = {
    "string": '"text"',
    "integer": "42",
    "number": "1.5",
    "boolean": "true",
    "array": "[...]",
    "object": "{...}",
}


def _type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _field_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class ArgumentValidator:
    """Validators compiled once per tool; problems described as field + what is wrong + fix."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _validator(self, tool: Mapping[str, Any]) -> Any:
        name = str(tool["name"])
        validator = self._cache.get(name)
        if validator is None:
            from jsonschema import Draft202012Validator  # import on first call, not at start-up

            validator = Draft202012Validator(tool["input_schema"])
            self._cache[name] = validator
        return validator

    def problems(self, tool: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[dict[str, str]]:
        schema = tool["input_schema"]
        props: Mapping[str, Any] = schema.get("properties") or {}
        found: list[dict[str, str]] = []
        unknown = [k for k in arguments if k not in props]
        for key in unknown[:10]:
            valid = ", ".join(sorted(props)[:40]) or "none"
            key = key if len(key) <= 80 else f"{key[:80]}... ({len(key)} characters)"
            found.append(
                {
                    "field": key,
                    "problem": f"unknown argument '{key}'",
                    "fix": f"remove it; this tool accepts: {valid}",
                }
            )
        for err in sorted(
            self._validator(tool).iter_errors(dict(arguments)), key=lambda e: list(map(str, e.path))
        ):
            if err.validator == "additionalProperties" and not err.path:
                continue  # reported above, with the list of valid names
            found.append(self._describe(err))
            if len(found) >= 10:
                break
        return found

    @staticmethod
    def _describe(err: Any) -> dict[str, str]:
        where = _field_path(err.absolute_path)
        if err.validator == "required":
            missing = [
                r for r in err.validator_value if isinstance(err.instance, dict) and r not in err.instance
            ]
            # jsonschema reports each missing property as its own error, named only in the message
            named = [r for r in missing if str(err.message).startswith(repr(r))]
            name = (named or missing or [str(err.validator_value)])[0]
            full = f"{where}.{name}" if where else name
            sub = (err.schema.get("properties") or {}).get(name) or {}
            kind = sub.get("type")
            return {
                "field": full,
                "problem": f"missing required argument '{full}'",
                "fix": f"add '{full}'" + (f" ({kind})" if isinstance(kind, str) else ""),
            }
        if err.validator == "type":
            expected = err.validator_value
            exp = " or ".join(expected) if isinstance(expected, list) else str(expected)
            got = _type_name(err.instance)
            fix = f"pass {exp}"
            if exp == "string" and got in ("integer", "number"):
                fix = f'pass it as a string: "{err.instance}"'
            elif exp in ("integer", "number") and got == "string":
                fix = "pass a JSON number without quotes"
            elif isinstance(expected, str) and expected in _EXAMPLES:
                fix = f"pass {exp}, e.g. {_EXAMPLES[expected]}"
            return {
                "field": where or "(arguments)",
                "problem": f"'{where}' must be {exp}, got {got}",
                "fix": fix,
            }
        if err.validator == "enum":
            options = ", ".join(repr(v) for v in err.validator_value[:30])
            return {
                "field": where,
                "problem": f"'{where}' has a value that is not allowed",
                "fix": f"use one of: {options}",
            }
        if err.validator == "additionalProperties":
            return {
                "field": where,
                "problem": errors.scrub(err.message),
                "fix": "remove the properties the schema does not list",
            }
        return {
            "field": where or "(arguments)",
            "problem": errors.scrub(f"'{where}': {err.message}"),
            "fix": f"make '{where}' satisfy '{err.validator}: {err.validator_value}'",
        }


def validation_failure(tool: Mapping[str, Any], problems: list[dict[str, str]]) -> ToolFailure:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    fixes = "; ".join(f"{p['field']}: {p['fix']}" for p in problems)
    return ToolFailure(
        errors.VALIDATION_ERROR,
        f"{tool['name']}: {first['problem']}{more}",
        fixes,
        details={"field": first["field"], "problems": problems},
    )


def _longest_url_argument(call: Call) -> str:
    """The path or query argument that makes the URL long (for the message)."""
    params = [p for p in call.tool["binding"].get("params") or [] if p.get("in") in ("path", "query")]
    given = [(len(str(call.arguments[p["arg"]])), p["arg"]) for p in params if p["arg"] in call.arguments]
    return max(given)[1] if given else "(arguments)"


def body_size(request: PreparedRequest) -> int:
    """Bytes of the body `request.build` sends (JSON, form fields and files; without multipart framing)."""
    size = 0
    if request.has_json_body:
        import json

        size += len(json.dumps(request.json_body, ensure_ascii=False).encode("utf-8"))
    size += sum(len(k) + len(v.encode("utf-8")) + 2 for k, v in request.form)
    size += sum(len(f.content) for f in request.files)
    return size


def redact_body(body: bytes, content_type: str | None, secrets: Iterable[str]) -> bytes:
    """A text or JSON answer with every credential value the runtime knows replaced by
    `[redacted]` (a vendor that echoes the request's Authorization); binary documents are left as
    they are. `secrets`: the call's own, besides those registered with the HTTP stack."""
    mt = render.media_type(content_type)
    if mt and not (render.is_json(mt) or mt.startswith("text/") or mt.endswith("xml")):
        return body
    from ledgermcp.server.http.redact import known_secrets

    for secret in sorted({*secrets, *known_secrets()}, key=len, reverse=True):
        raw = secret.encode("utf-8")
        if len(raw) >= 4 and raw in body:
            body = body.replace(raw, b"[redacted]")
    return body


# --- send ---------------------------------------------------------------------------------


class Upstream:
    """The seam between the pipeline and the vendor: any `httpx.AsyncClient` (the vendor HTTP stack,
    a plain client, or one over the sandbox's transport)."""

    def __init__(self, client: Any, binder: Any = None) -> None:
        self.client = client
        self.binder = binder  # server/bound.py: fills the parameters the table binds

    async def send(self, request: PreparedRequest) -> Any:
        built = request.build(self.client)
        if self.binder is not None:
            self.binder.apply(built, request.tool)
        return await self.client.send(built)

    async def aclose(self) -> None:
        await self.client.aclose()


def open_client(
    vendor_info: Mapping[str, Any],
    settings: VendorSettings,
    *,
    env: Mapping[str, str] | None = None,
    transport: Any = None,
    timeout: float = 30.0,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """The vendor's `httpx.AsyncClient`: the single place where the HTTP stack is chosen.

    Normally the vendor HTTP stack (`ledgermcp.server.http.client.build_async_client`: auth from
    the environment, retries, rate limit). With a `transport` (the sandbox, tests) a plain client
    with the base URL and a timeout, and a bearer token only when one is configured."""
    if transport is None:
        from ledgermcp.server.http.client import build_async_client

        return build_async_client(
            vendor_info, base_url=settings.base_url, env=os.environ if env is None else env, auth=auth
        )
    from ledgermcp import __version__

    token = settings.credentials.get("access_token")
    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=httpx.Timeout(timeout),
        auth=BearerAuth(token) if token else None,
        transport=transport,
        headers={"User-Agent": f"ledgermcp/{__version__}"},
        follow_redirects=False,
    )


def failure_from_exception(exc: BaseException, tool: Mapping[str, Any]) -> ToolFailure:
    """A send-time exception as a ToolFailure, using the HTTP stack's own classification."""
    from ledgermcp.server.http.errors import StackError, classify_exception
    from ledgermcp.server.oauth.errors import OAuthError

    if isinstance(exc, OAuthError):  # a broken token chain, a missing login: nothing was sent
        return ToolFailure(exc.code, f"{tool.get('name')}: {exc.message}", exc.hint or "", sent=False)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        # refused while the request was built: nothing left
        return errors.from_exception(exc, tool=tool, sent=False)
    if not isinstance(exc, (httpx.HTTPError, StackError)):
        return errors.from_exception(exc, tool=tool, sent=True)
    f = classify_exception(exc)
    code = str(f.code)
    if code == "CONFIG_ERROR":
        code = errors.NETWORK_ERROR if isinstance(exc, httpx.HTTPError) else errors.UNAUTHORIZED
    details: dict[str, Any] = {"retries": f.retries} if f.retries else {}
    if f.retry_after is not None:
        details["retry_after_seconds"] = f.retry_after
    sent = bool(f.may_have_been_sent) or not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return ToolFailure(code, f"{tool.get('name')}: {f.message}", f.hint, sent=sent, details=details)


def call_timeout(client: Any) -> float | None:
    """The seconds one call may take on the wire, from the client's timeout (`--timeout`,
    `LEDGERMCP_<VENDOR>_TIMEOUT_MS`, default 30 s); None when the client has none."""
    timeout = getattr(client, "timeout", None)
    if not isinstance(timeout, httpx.Timeout):
        return None
    values = [v for v in (timeout.connect, timeout.read, timeout.write, timeout.pool) if v is not None]
    return max(values) if values else None


def remaining(call: Call) -> float:
    """Seconds left before the call's deadline (infinite when it has none)."""
    deadline = call.extras.get(DEADLINE_KEY)
    return math.inf if deadline is None else max(0.0, deadline - time.monotonic())


SECRETS_KEY = "secrets"  # call.extras: credentials of this call only (a forwarded Authorization)
DEADLINE_KEY = "deadline"  # call.extras: time.monotonic() by which everything on the wire must be done


# --- the pipeline -------------------------------------------------------------------------


class CallPipeline:
    def __init__(
        self,
        vendor: Vendor,
        upstream: Upstream,
        *,
        settings: VendorSettings | None = None,
        allowed: Iterable[str] | None = None,
        gates: Iterable[Gate] = (),
        before_send: Iterable[Hook] = (),
        after: Iterable[Observer] = (),
        limits: Limits | None = None,
    ) -> None:
        self.vendor = vendor
        self.limits = limits or Limits()
        self.downloads_dir: Any = None  # where large downloads are saved (None: the data directory's)
        self.upstream = upstream
        self.settings = settings or load_settings(vendor.info)
        self.allowed = set(allowed) if allowed is not None else None
        self.gates: list[Gate] = list(gates)
        self.before_send: list[Hook] = list(before_send)
        self.after: list[Observer] = list(after)
        self.validator = ArgumentValidator()
        # arguments the runtime itself reads (e.g. an approval token): taken out of the call's
        # arguments before validation and kept in `call.extras["reserved"]`
        self.reserved: set[str] = set()
        self.reserved_checks: list[ReservedCheck] = []
        self.shapers: list[Shaper] = []
        # one deadline per call: the read before a write, the request, its retries and reading the
        # whole answer must all end within this many seconds of the gates letting the call through
        self.timeout = call_timeout(upstream.client)

    # stages, each callable on its own -------------------------------------------------------

    def resolve(self, name: str, arguments: Mapping[str, Any] | None, context: Any = None) -> Call:
        if (self.allowed is not None and name not in self.allowed) or name not in self.vendor.by_name:
            shown = name if len(name) <= 80 else f"{name[:80]}... ({len(name)} characters)"
            raise UnknownToolError(f"unknown tool {shown!r}")
        args = dict(arguments or {})
        reserved = {key: args.pop(key) for key in list(args) if key in self.reserved}
        call = Call(self.vendor.tool(name), args, context=context)
        if reserved:
            call.extras["reserved"] = reserved
        return call

    def validate(self, call: Call) -> None:
        problems = self.validator.problems(call.tool, call.arguments)
        for check in self.reserved_checks:
            problems += check(call)
        if problems:
            raise validation_failure(call.tool, problems)

    def prepare(self, call: Call) -> PreparedRequest:
        try:
            call.request = build_request(call.tool, call.arguments)
        except RequestBuildError as exc:
            problem = {"field": exc.field, "problem": str(exc), "fix": exc.fix}
            raise validation_failure(call.tool, [problem]) from None
        self.check_size(call)
        binder = self.upstream.binder
        if binder is not None:
            binder.check(call.tool, call.arguments)
        return call.request

    def check_size(self, call: Call) -> None:
        """Refuse, before anything is sent, a URL or a body larger than the limits allow."""
        request = call.request
        assert request is not None
        url = len(request.target)
        if url > self.limits.max_url_chars:
            field = _longest_url_argument(call)
            name = setting("max_url_chars")
            raise validation_failure(
                call.tool,
                [
                    {
                        "field": field,
                        "problem": f"the request's path and query would be {url} characters, more than "
                        f"the {self.limits.max_url_chars} a URL may have ({name})",
                        "fix": f"shorten '{field}' (a value this long is not an id or a filter the vendor "
                        f"takes), or raise {name} if the vendor accepts longer URLs",
                    }
                ],
            )
        size = body_size(request)
        if size > self.limits.max_body_bytes:
            name = setting("max_body_bytes")
            raise validation_failure(
                call.tool,
                [
                    {
                        "field": "(body)",
                        "problem": f"the request body would be {size_text(size)}, more than the limit of "
                        f"{size_text(self.limits.max_body_bytes)} ({name})",
                        "fix": f"send less in one call (split it), or raise {name}",
                    }
                ],
            )

    async def gate(self, call: Call) -> Any:
        for gate in self.gates:
            outcome = await gate(call)
            if outcome is not None:
                return outcome
        if self.timeout is not None:  # the clock starts once no human is waited for
            call.extras[DEADLINE_KEY] = time.monotonic() + self.timeout
        for hook in self.before_send:
            await hook(call)
        return None

    async def send(self, call: Call) -> Any:
        assert call.request is not None
        try:
            with anyio.fail_after(remaining(call)):
                return await self.upstream.send(call.request)
        except ToolFailure:
            raise
        except TimeoutError:
            raise self.deadline_failure(call) from None
        except Exception as exc:
            raise failure_from_exception(exc, call.tool) from None

    def deadline_failure(self, call: Call) -> ToolFailure:
        from ledgermcp.server.http.env import env_names

        setting = env_names(self.vendor.info, "timeout_ms")[0]
        return ToolFailure(
            errors.TIMEOUT,
            f"{call.name}: no complete answer within the call's deadline of {self.timeout:g} s "
            f"(connecting, sending, waiting, reading and retries together; --timeout or {setting})",
            "Retry later; for a write, check first whether it took effect. A slow vendor may need a "
            "longer --timeout.",
            sent=True,
            details={"deadline_seconds": self.timeout},
        )

    def render(self, call: Call, response: Any) -> ToolResult:
        assert call.request is not None
        status = int(response.status_code)
        ctype = response.headers.get("content-type")
        body = bytes(response.content)
        attempts = 1 + int(getattr(response, "extensions", {}).get(RETRIES_KEY, 0) or 0)
        if 200 <= status < 300:
            body = self._redacted(call, ctype, body)
            expected = list(call.tool["binding"].get("responses") or [])
            if len(body) > self.limits.max_inline_bytes:
                try:
                    mt, _ = render.read_as_declared(ctype, body, expected)
                except render.UnreadableAnswer:
                    mt = "application/json"  # success() below reports it
                if not render.is_json(mt):
                    from ledgermcp.server import downloads

                    directory = self.downloads_dir or downloads.default_downloads_dir(self.vendor.name)
                    return downloads.linked(
                        call.name, status, mt, body, directory, self.limits.max_inline_bytes
                    )
            uri = f"ledgermcp://{self.vendor.name}{call.request.path}"
            result = render.success(
                tool=call.name,
                status=status,
                content_type=ctype,
                body=body,
                uri=uri,
                expected=expected,
                write=not call.read_only,
            )
            for shaper in self.shapers:
                result = shaper(call, result)
            if attempts > 1:
                result.meta["ledgermcp/attempts"] = attempts
            return cap_result(call, result, self.limits.max_result_bytes)
        secrets = self.secrets(call)
        message = errors.vendor_message(body, render.media_type(ctype))
        failure = errors.from_status(
            status,
            tool=call.tool,
            vendor=self.vendor.name,
            message=errors.scrub(message, secrets) if message else None,
            path_values=call.request.path_values,
            retry_after=response.headers.get("retry-after"),
            credential_env=credential_env_names(self.vendor.info),
            has_credentials=bool(self.settings.credentials),
        )
        failure.details["attempts"] = attempts
        if not call.request.retry_safe and (status in (408, 429) or status >= 500):
            failure.hint = (f"{failure.hint} " if failure.hint else "") + (
                f"It was sent once and not repeated: {call.name} is not safe to send twice. It may have "
                f"taken effect; check in {self.vendor.info.get('title') or self.vendor.name} before calling it again."
            )
        return render.failure(failure)

    # the whole run -------------------------------------------------------------------------

    async def call(self, name: str, arguments: Mapping[str, Any] | None, context: Any = None) -> Any:
        """Run every stage; returns a ToolResult (or a gate's own outcome). Raises only UnknownToolError."""
        return await self.run(self.resolve(name, arguments, context))

    async def run(self, call: Call, compose: Callable[[Call], None] | None = None) -> Any:
        """Every stage after resolve. `compose` stands in for validate + prepare when the runtime
        builds the call itself (restoring a snapshot): it sets the call's tool, arguments and request,
        or raises ToolFailure; gates, send, render and observers run as for any call."""
        binder = self.upstream.binder
        tenant = bound.CALL_TENANT.set(binder.override(call.tool, call.arguments) if binder else None)
        try:
            return await self._run(call, compose)
        finally:
            bound.CALL_TENANT.reset(tenant)

    async def _run(self, call: Call, compose: Callable[[Call], None] | None) -> Any:
        result: Any
        try:
            if compose is None:
                self.validate(call)
                self.prepare(call)
            else:
                compose(call)
            result = await self.gate(call)
            if result is None:
                call.extras["sent"] = True
                try:
                    response = await self.send(call)
                except ToolFailure as failure:
                    call.extras["sent"] = failure.sent  # e.g. a URL httpx refused: nothing left
                    raise
                call.extras["status"] = int(response.status_code)
                result = self.render(call, response)
        except ToolFailure as failure:
            result = render.failure(self._scrubbed(failure, call))
        except Exception as exc:  # the tool boundary: nothing escapes as a traceback
            result = render.failure(errors.from_exception(exc, tool=call.tool, sent=False))
        for observer in self.after:
            with contextlib.suppress(Exception):
                await observer(call, result)
        return result

    def secrets(self, call: Call) -> list[str]:
        """Every credential this call can carry: the server's own and the call's (forwarded ones)."""
        return [*self.settings.secret_values(), *call.extras.get(SECRETS_KEY, ())]

    def _redacted(self, call: Call, content_type: str | None, body: bytes) -> bytes:
        return redact_body(body, content_type, self.secrets(call))

    def _scrubbed(self, failure: ToolFailure, call: Call) -> ToolFailure:
        secrets = self.secrets(call)
        failure.message = errors.scrub(failure.message, secrets)
        if failure.vendor_message:
            failure.vendor_message = errors.scrub(failure.vendor_message, secrets)
        return failure
