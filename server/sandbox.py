"""A simulated vendor built from the tool table: `ledgermcp serve VENDOR --sandbox`.

The sandbox is an `httpx.MockTransport` handler, so a sandboxed call runs the same validation,
request building, sending and rendering as a real one; only the bytes never leave the process.

Routing: every tool's binding is a route (method + path template). Collections are path templates
with their parameters filled in: `/3/customers` holds the entities that `/3/customers/{CustomerNumber}`
reads, updates and deletes; `/receivables/invoices/7/payments` is a separate collection from
`/receivables/invoices/8/payments`. Comma-separated ids in a DELETE path delete several.

Shapes: the tool table has no response schemas yet, so answers are shaped from what it does have.
A vendor whose bodies use a wrapper (`binding.body.wrapper`, Fortnox) answers `{"Customer": {...}}`
and lists as `{"Customers": [...], "MetaInformation": {...}}`; a vendor without wrappers
(smallinvoice) answers `{"item": {...}}` and lists as `{"items": [...], "pagination": {...}}`.
Lists page as the vendors do: `limit` items (100 unless given) from `offset`, or of page `page`
(which wins over `offset`), with the total, page count and current page in the wrapper.
Entities hold what was sent (the flattened body fields) plus the id. Downloads answer a small
document of the declared media type (PDF, PNG, CSV).

Every request is recorded in `requests` (and, with a journal path, appended to a JSONL file), so
tests can assert that nothing was sent.

Bounds (server/limits.py), so a long session cannot grow the process without limit: at most
`LEDGERMCP_SANDBOX_MAX_ENTITIES` entities per collection (a create beyond it is refused with 422,
saying so), entities of at most `LEDGERMCP_SANDBOX_MAX_ENTITY_BYTES` of JSON (a larger create or
update is refused with 422), and the last `LEDGERMCP_SANDBOX_MAX_HISTORY` requests in `requests`
(older ones are dropped; a warning says so once).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from ledgermcp.server.catalog import Vendor
from ledgermcp.server.limits import Limits, setting, size_text

log = logging.getLogger("ledgermcp.sandbox")

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
_PARAM = re.compile(r"\{([^}/]+)\}")


def _plural(word: str) -> str:
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _media(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@dataclass
class Route:
    tool: dict[str, Any]
    method: str
    template: str
    pattern: re.Pattern[str]
    params: list[str]
    literal: int  # characters of literal text: more literal wins (`/contacts/letters` over `/contacts/{id}`)

    @classmethod
    def of(cls, tool: dict[str, Any]) -> Route:
        template = str(tool["binding"]["path"])
        regex, params, literal, pos = "", [], 0, 0
        for m in _PARAM.finditer(template):
            regex += re.escape(template[pos : m.start()])
            literal += m.start() - pos
            regex += f"(?P<p{len(params)}>[^/]+)"
            params.append(m.group(1))
            pos = m.end()
        regex += re.escape(template[pos:])
        literal += len(template) - pos
        return cls(
            tool,
            str(tool["binding"]["method"]).upper(),
            template,
            re.compile("^" + regex.rstrip("/") + "/?$"),
            params,
            literal,
        )


@dataclass
class Collection:
    key: str  # the concrete path of the collection
    template: str
    id_field: str
    id_integer: bool
    wrapper: str | None
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1


class SandboxVendor:
    """An in-memory vendor answering every operation of a tool table."""

    def __init__(
        self,
        vendor: Vendor,
        *,
        base_url: str | None = None,
        journal: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.vendor = vendor
        self.limits = limits or Limits()
        self.dropped_requests = 0  # requests no longer in `requests` (the history bound)
        base = base_url if base_url is not None else str(vendor.info.get("base_url") or "")
        self.base_path = httpx.URL(base).path.rstrip("/") if base else ""
        self.journal = journal
        self.routes = sorted((Route.of(t) for t in vendor.tools), key=lambda r: -r.literal)
        self.wrapped_vendor = any((t["binding"].get("body") or {}).get("wrapper") for t in vendor.tools)
        self.collections: dict[str, Collection] = {}
        self.singletons: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()
        self._item_params = self._index_item_params()

    # --- plumbing -------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def reset(self) -> None:
        with self._lock:
            self.collections.clear()
            self.singletons.clear()
            self.requests.clear()

    def _record(self, request: httpx.Request) -> None:
        self.requests.append(request)
        if len(self.requests) > self.limits.sandbox_max_history:
            del self.requests[0]
            if not self.dropped_requests:
                log.warning(
                    "the sandbox keeps the last %d requests (%s); older ones are dropped",
                    self.limits.sandbox_max_history,
                    setting("sandbox_max_history"),
                )
            self.dropped_requests += 1
        if self.journal:
            line = {"method": request.method, "path": request.url.path, "query": request.url.query.decode()}
            with open(self.journal, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._record(request)
            try:
                return self._dispatch(request)
            except Exception as exc:  # a sandbox bug must look like a vendor 500, not crash the server
                return self._error(500, f"sandbox failure: {type(exc).__name__}")

    # --- shapes ---------------------------------------------------------------------------

    def _json(self, status: int, data: Any) -> httpx.Response:
        return httpx.Response(status, json=data, headers={"Content-Type": "application/json; charset=utf-8"})

    def _error(self, status: int, message: str) -> httpx.Response:
        if self.wrapped_vendor:
            body: dict[str, Any] = {"ErrorInformation": {"Error": 1, "Message": message, "Code": status}}
        else:
            body = {"code": status, "message": message}
        return self._json(status, body)

    def _one(self, coll: Collection | None, entity: dict[str, Any], status: int = 200) -> httpx.Response:
        if coll is not None and coll.wrapper:
            return self._json(status, {coll.wrapper: entity})
        if self.wrapped_vendor:
            return self._json(status, entity)
        return self._json(status, {"item": entity})

    def _many(
        self, coll: Collection, items: list[dict[str, Any]], total: int, offset: int, limit: int
    ) -> httpx.Response:
        if coll.wrapper:
            pages = max(1, -(-total // max(limit, 1)))
            meta = {
                "@TotalResources": total,
                "@TotalPages": pages,
                "@CurrentPage": offset // max(limit, 1) + 1,
            }
            return self._json(200, {_plural(coll.wrapper): items, "MetaInformation": meta})
        if self.wrapped_vendor:
            return self._json(200, items)
        pages = max(1, -(-total // max(limit, 1)))
        url = f"{self.base_path}{coll.key}"
        pagination = {
            "page": offset // max(limit, 1) + 1,
            "pages": pages,
            "total": total,
            "first": f"{url}?offset=0&limit={limit}",
            "last": f"{url}?offset={(pages - 1) * limit}&limit={limit}",
        }
        return self._json(200, {"items": items, "pagination": pagination})

    # --- collections ----------------------------------------------------------------------

    def _index_item_params(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """collection template -> [(item param name, a tool using it)], GET first."""
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        order = {"GET": 0, "PUT": 1, "PATCH": 2, "DELETE": 3, "POST": 4}
        for r in sorted(self.routes, key=lambda r: order.get(r.method, 9)):
            m = re.match(r"^(.*)/\{([^}/]+)\}$", r.template)
            if m:
                out.setdefault(m.group(1), []).append((m.group(2), r.tool))
        return out

    def _collection(self, template: str, key: str) -> Collection:
        coll = self.collections.get(key)
        if coll is not None:
            return coll
        id_field, id_integer = "id", True
        candidates = self._item_params.get(template, [])
        wrapper = None
        related = [
            r.tool for r in self.routes if r.template == template or r.template.startswith(template + "/{")
        ]
        for tool in related:
            body = tool["binding"].get("body") or {}
            if body.get("wrapper") and r_is_entity_path(tool["binding"]["path"], template):
                wrapper = body["wrapper"]
                break
        if candidates:
            param, tool = candidates[0]
            create_fields = set()
            for t in related:
                create_fields |= set(((t["binding"].get("body") or {}).get("fields") or {}).values())
            if (
                param in create_fields
                or param.lower() in ("id", "ids")
                or not param.endswith(("Id", "Ids", "_id"))
            ):
                id_field = param
            arg = next(
                (p["arg"] for p in tool["binding"].get("params") or [] if p.get("name") == param), param
            )
            schema = ((tool.get("input_schema") or {}).get("properties") or {}).get(arg) or {}
            id_integer = schema.get("type") == "integer"
        coll = Collection(key, template, id_field, id_integer, wrapper)
        self.collections[key] = coll
        return coll

    # --- dispatch -------------------------------------------------------------------------

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_matched = False
        for r in self.routes:
            m = r.pattern.match(path)
            if not m:
                continue
            path_matched = True
            if r.method == method:
                values = {name: unquote(m.group(f"p{i}")) for i, name in enumerate(r.params)}
                return r, values, True
        return None, {}, path_matched

    def _too_big(self, body: Any) -> httpx.Response | None:
        """422 for an entity larger than the sandbox keeps."""
        size = len(json.dumps(body, separators=(",", ":"), default=str))
        limit = self.limits.sandbox_max_entity_bytes
        if size <= limit:
            return None
        return self._error(
            422,
            f"the sandbox keeps entities of at most {size_text(limit)} of JSON ({setting('sandbox_max_entity_bytes')}); "
            f"this one would be {size_text(size)}",
        )

    def _body(self, request: httpx.Request, route: Route) -> Any:
        raw = request.content
        ctype = _media(request.headers.get("content-type"))
        if not raw:
            return {}
        if ctype.startswith("multipart/"):
            names = re.findall(rb'filename="([^"]*)"', raw)
            return {
                "file": {"name": names[0].decode("utf-8", "replace") if names else None, "bytes": len(raw)}
            }
        if ctype == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode()))
        data = json.loads(raw)
        wrapper = (route.tool["binding"].get("body") or {}).get("wrapper")
        if wrapper and isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
        return data

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        if self.base_path and raw_path.startswith(self.base_path):
            raw_path = raw_path[len(self.base_path) :] or "/"
        route, values, path_known = self._match(request.method, raw_path)
        if route is None:
            if path_known:
                return self._error(405, f"method {request.method} not allowed on {raw_path}")
            return self._error(404, f"no such endpoint: {raw_path}")
        kind = route.tool.get("kind") or ""
        item = bool(re.search(r"/\{[^}/]+\}$", route.template))
        concrete = _fill(route.template, values)
        query = dict(request.url.params)

        if kind == "list" or (not kind and route.method == "GET" and not item):
            coll = self._collection(route.template, concrete)
            return self._list(coll, query)
        if kind == "create" or (route.method == "POST" and not item and kind not in ("action", "download")):
            if item and route.method == "POST":
                return self._create(
                    route,
                    request,
                    _parent(route.template),
                    _parent_concrete(route.template, values),
                    forced_id=values[route.params[-1]],
                )
            return self._create(route, request, route.template, concrete)
        if kind == "get" or kind == "update" or kind == "delete":
            if not item:
                return self._singleton(route, request, concrete)
            coll = self._collection(_parent(route.template), _parent_concrete(route.template, values))
            ident = values[route.params[-1]]
            if kind == "get":
                entity = coll.entities.get(ident)
                if entity is None:
                    return self._not_found(coll, ident)
                return self._one(coll, entity)
            if kind == "update":
                entity = coll.entities.get(ident)
                if entity is None:
                    return self._not_found(coll, ident)
                body = self._body(request, route)
                if isinstance(body, dict):
                    refused = self._too_big({**entity, **body})
                    if refused is not None:
                        return refused
                    entity.update({k: v for k, v in body.items() if k != coll.id_field})
                return self._one(coll, entity)
            ids = [i.strip() for i in ident.split(",") if i.strip()]
            missing = [i for i in ids if i not in coll.entities]
            if missing:
                return self._not_found(coll, ",".join(missing))
            for i in ids:
                del coll.entities[i]
            return httpx.Response(204)
        return self._action(route, request, values)

    def _not_found(self, coll: Collection, ident: str) -> httpx.Response:
        noun = coll.wrapper or coll.template.rstrip("/").rsplit("/", 1)[-1]
        return self._error(404, f"{noun} {ident} not found")

    def _list(self, coll: Collection, query: Mapping[str, str]) -> httpx.Response:
        items = list(coll.entities.values())
        total = len(items)
        try:
            offset = max(0, int(query.get("offset", 0)))
            limit = int(query.get("limit", 100))
            if "page" in query:
                offset = (max(1, int(query["page"])) - 1) * limit
        except ValueError:
            return self._error(400, "offset, limit and page must be integers")
        return self._many(coll, items[offset : offset + limit], total, offset, limit)

    def _create(
        self, route: Route, request: httpx.Request, template: str, key: str, forced_id: str | None = None
    ) -> httpx.Response:
        coll = self._collection(template, key)
        if len(coll.entities) >= self.limits.sandbox_max_entities:
            return self._error(
                422,
                f"the sandbox keeps at most {self.limits.sandbox_max_entities} entities per collection "
                f"({setting('sandbox_max_entities')}); {coll.key} is full: delete some first",
            )
        body = self._body(request, route)
        refused = self._too_big(body)
        if refused is not None:
            return refused
        entity: dict[str, Any] = dict(body) if isinstance(body, dict) else {"value": body}
        given = forced_id if forced_id is not None else entity.get(coll.id_field)
        if given not in (None, ""):
            ident = str(given)
            if ident in coll.entities:
                return self._error(409, f"{coll.id_field} {ident} is already in use")
            value: Any = int(ident) if coll.id_integer and ident.isdigit() else ident
        else:
            while str(coll.next_id) in coll.entities:
                coll.next_id += 1
            value = coll.next_id if coll.id_integer else str(coll.next_id)
            ident = str(coll.next_id)
            coll.next_id += 1
        entity = {coll.id_field: value, **{k: v for k, v in entity.items() if k != coll.id_field}}
        coll.entities[ident] = entity
        return self._one(coll, entity, 201)

    def _singleton(self, route: Route, request: httpx.Request, key: str) -> httpx.Response:
        state = self.singletons.setdefault(key, {})
        if route.method in ("PUT", "PATCH", "POST"):
            body = self._body(request, route)
            if isinstance(body, dict):
                refused = self._too_big({**state, **body})
                if refused is not None:
                    return refused
                state.update(body)
        wrapper = (route.tool["binding"].get("body") or {}).get("wrapper")
        return self._json(
            200, {wrapper: state} if wrapper else (state if self.wrapped_vendor else {"item": state})
        )

    def _action(self, route: Route, request: httpx.Request, values: dict[str, str]) -> httpx.Response:
        """Downloads and actions on an entity (`/invoices/{id}/print`, `/invoices/{id}/bookkeep`)."""
        coll, entity = None, None
        m = re.match(r"^(.*)/\{([^}/]+)\}(/[^{}]*)$", route.template)
        if m:
            coll = self._collection(m.group(1), _fill(m.group(1), values))
            ident = values[m.group(2)]
            ids = [i for i in ident.split(",") if i]
            missing = [i for i in ids if i not in coll.entities]
            if missing:
                return self._not_found(coll, ",".join(missing))
            entity = coll.entities.get(ids[0]) if ids else None
        declared = [_media(t) for t in route.tool["binding"].get("responses") or []]
        binary = [t for t in declared if t and "json" not in t and t != "*/*"]
        if binary:
            mt = binary[0]
            if mt == "application/pdf":
                content = PDF_BYTES
            elif mt == "image/png":
                content = PNG_BYTES
            elif mt.startswith("text/"):
                rows = [entity] if entity else []
                keys = list(rows[0]) if rows else ["id"]
                content = (
                    ",".join(keys)
                    + "\n"
                    + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n" for r in rows)
                ).encode()
            else:
                content = PDF_BYTES if "pdf" in mt else b"\x00sandbox\x00"
            return httpx.Response(200, content=content, headers={"Content-Type": mt})
        if route.method in ("PUT", "PATCH", "POST") and entity is not None:
            body = self._body(request, route)
            if isinstance(body, dict) and body:
                refused = self._too_big({**entity, **body})
                if refused is not None:
                    return refused
                entity.update({k: v for k, v in body.items() if coll is None or k != coll.id_field})
        if entity is not None:
            return self._one(coll, entity)
        if route.method == "DELETE":
            return httpx.Response(204)
        body = self._body(request, route)
        return self._json(200, body if isinstance(body, dict) and body else {"ok": True})


def r_is_entity_path(path: str, template: str) -> bool:
    """The collection itself or one of its items (not a deeper action)."""
    return path == template or bool(re.fullmatch(re.escape(template) + r"/\{[^}/]+\}", path))


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _parent(template: str) -> str:
    return template.rsplit("/", 1)[0]


def _parent_concrete(template: str, values: Mapping[str, str]) -> str:
    return _fill(_parent(template), values)
