"""Normalised spec + overlay -> VendorIR: names, groups, hints, bindings, snapshot targets, scopes."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from ledgermcp.codegen import effects
from ledgermcp.codegen import hints as hint_rules
from ledgermcp.codegen.bound import CREDENTIAL, TENANT, BoundRules, vendor_summary
from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError, Severity
from ledgermcp.codegen.ir import Binding, Body, Operation, Param, SnapshotTarget, Tool, VendorIR
from ledgermcp.codegen.naming import (
    effect_verb,
    is_param,
    name_from_operation_id,
    name_from_path,
    path_segments,
    shorten,
    snake,
    valid_name,
)
from ledgermcp.codegen.normalize import operations
from ledgermcp.codegen.schemas import SchemaConverter, prune_defs, safe_arg_name, short_text

OVERLAY_SECTIONS = {"vendor", "groups", "scopes", "operations", "exclude", "corrections"}
OVERLAY_VENDOR_KEYS = {
    "title", "naming", "strip_path_prefixes", "group_strip_prefixes", "env_aliases", "rate_limit", "auth",
    "base_url", "default_scopes", "tenant_header", "tenant_override",
}  # fmt: skip
OVERLAY_OPERATION_KEYS = {"name", "group", "hints", "snapshot", "scopes", "reason", "description", "effect"}
BINARY_TYPES = ("application/pdf", "image/", "application/octet-stream", "text/csv", "application/zip")
# The query parameters that page a list, by role (wire names, lower case).
PAGING_ROLES = {
    "page": ("page",),
    "limit": ("limit", "per_page", "pagesize", "page_size"),
    "offset": ("offset", "start"),
}
BATCH_ARG = re.compile(r"ids$", re.IGNORECASE)
DOT_SEGMENTS = (".", "..")


def template(path: str) -> str:
    """A path with parameter names erased: `/a/{x}` and `/a/{y}` are the same resource."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def build_ir(
    spec: dict[str, Any], overlay: dict[str, Any], *, vendor: str, spec_file: str, spec_sha256: str
) -> tuple[VendorIR, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    _check_overlay_shape(overlay)
    settings = overlay.get("vendor", {})
    op_overlays: dict[str, dict[str, Any]] = overlay.get("operations", {})
    exclusions: dict[str, str] = overlay.get("exclude", {})
    all_ops = operations(spec)
    keys = {f"{m} {p}" for m, p, _, _ in all_ops}
    for key in [*op_overlays, *exclusions]:
        if key not in keys:
            raise GenerationError(
                f"overlay for {vendor} names operation {key!r}, which the spec does not have. "
                "Operations are named 'METHOD /path' exactly as in the spec; fix or remove that entry "
                f"in specs/{vendor}/overlay.toml."
            )
    for key, reason in exclusions.items():
        if not isinstance(reason, str) or not reason.strip():
            raise GenerationError(
                f"overlay for {vendor}: exclusion of {key!r} needs a reason (a non-empty string)"
            )

    converter = SchemaConverter(spec)
    bound_rules = BoundRules.of(spec, settings)
    templates = {template(p) for _, p, _, _ in all_ops}
    strip = list(settings.get("strip_path_prefixes", []))
    naming = settings.get("naming", "path")
    top_collections = {_top_collection(p, strip) for _, p, _, _ in all_ops} - {None}

    drafts = []
    for method, path, op, item in all_ops:
        key = f"{method} {path}"
        if key in exclusions:
            continue
        custom = op_overlays.get(key, {})
        has_children = any(t.startswith(template(path).rstrip("/") + "/{}") for t in templates)
        decision = effects.settle(
            effects.classify(
                _shape(converter, method, path, op, item, has_children, _links(path, top_collections))
            ),
            custom.get("effect"),
            key,
            custom.get("reason"),
        )
        name = custom.get("name") or _derive_name(method, path, op, naming, strip, has_children, decision)
        if decision.review and decision.decided_by == "evidence":
            diags.append(
                Diagnostic(
                    Severity.WARNING,
                    "effect-review",
                    f"{decision.effect}: {decision.review}; evidence: "
                    + "; ".join(str(e) for e in decision.evidence)
                    + '. Settle it with effect = "..." and a reason in the overlay if this is wrong',
                    key,
                )
            )
        drafts.append((method, path, op, item, custom, name, has_children, decision))

    names = _unique_names(drafts, diags)
    tools: list[Tool] = []
    groups: dict[str, str] = {}
    for (method, path, op, item, custom, _, _, decision), name in zip(drafts, names, strict=True):
        operation = Operation(
            method=method,
            path=path,
            operation_id=str(op.get("operationId", "")),
            summary=short_text(op.get("summary"), 120),
            description=short_text(op.get("description")),
            tags=tuple(op.get("tags", [])),
            deprecated=bool(op.get("deprecated")),
        )
        group, group_title = _group(operation, custom, overlay, settings)
        groups.setdefault(group, group_title)
        input_schema, binding = _binding_and_schema(converter, method, path, op, item, diags, bound_rules)
        responses = binding.responses
        binary_only = bool(responses) and all(r.startswith(BINARY_TYPES) for r in responses)
        kind = _kind(decision.effect, name, binary_only)
        base = decision.hints()
        ext = next((op[e] for e in hint_rules.SPEC_EXTENSIONS if isinstance(op.get(e), dict)), None)
        final, sources = hint_rules.layer(
            base,
            (f"spec extension on {operation.key}", ext),
            (f"overlay for {operation.key}", custom.get("hints")),
        )
        hint_rules.check_consistent(name, method, final)
        title = operation.summary.rstrip(".") or name.replace("_", " ").capitalize()
        tool = Tool(
            name=name,
            title=title,
            description=custom.get("description") or _describe(operation, kind, binding),
            group=group,
            kind=kind,
            operation=operation,
            hints=final,
            input_schema=input_schema,
            binding=binding,
            scopes=_scopes(op, spec, custom, overlay, group, settings),
            hint_sources=sources,
            decision=decision,
            paging=paging_roles(binding) if kind == "list" else {},
        )
        tools.append(tool)
    _attach_snapshots(tools, op_overlays, diags)
    tools.sort(key=lambda t: t.name)
    servers = spec.get("servers") or [{"url": "/"}]
    base_url = settings.get("base_url") or _server_url(servers[0])
    ir = VendorIR(
        name=vendor,
        title=settings.get("title", vendor.capitalize()),
        spec_file=spec_file,
        spec_sha256=spec_sha256,
        base_url=base_url,
        security_schemes=spec.get("components", {}).get("securitySchemes", {}),
        auth=dict(settings.get("auth", {})),
        rate_limit=dict(settings["rate_limit"]) if settings.get("rate_limit") else None,
        env_aliases={k: list(v) for k, v in settings.get("env_aliases", {}).items()},
        groups=dict(sorted(groups.items())),
        tools=tools,
        excluded=dict(sorted(exclusions.items())),
        bound=vendor_summary(tools, bound_rules),
    )
    return ir, diags


def _check_overlay_shape(overlay: dict[str, Any]) -> None:
    unknown = set(overlay) - OVERLAY_SECTIONS
    if unknown:
        raise GenerationError(
            f"overlay: unknown section(s) {sorted(unknown)}; allowed: {sorted(OVERLAY_SECTIONS)}"
        )
    unknown = set(overlay.get("vendor", {})) - OVERLAY_VENDOR_KEYS
    if unknown:
        raise GenerationError(
            f"overlay [vendor]: unknown key(s) {sorted(unknown)}; allowed: {sorted(OVERLAY_VENDOR_KEYS)}"
        )
    for key, entry in overlay.get("operations", {}).items():
        bad = set(entry) - OVERLAY_OPERATION_KEYS
        if bad:
            raise GenerationError(
                f"overlay [operations.{key!r}]: unknown key(s) {sorted(bad)}; allowed: {sorted(OVERLAY_OPERATION_KEYS)}"
            )
        if "name" in entry and not valid_name(entry["name"]):
            raise GenerationError(
                f"overlay [operations.{key!r}]: name {entry['name']!r} must match ^[a-z][a-z0-9_]*$, "
                "be at most 64 characters and not end in _<digits>"
            )


def _derive_name(
    method: str,
    path: str,
    op: dict[str, Any],
    naming: str,
    strip: list[str],
    has_children: bool,
    decision: effects.Decision,
) -> str:
    if naming == "operation_id":
        name = name_from_operation_id(str(op.get("operationId", "")))
        if name:
            # A GET of a collection is a list, whatever the operationId's verb.
            if (
                method == "GET"
                and name.startswith("get_")
                and not is_param(path.rstrip("/").rsplit("/", 1)[-1])
            ):
                name = "list_" + name[4:] if has_children or name.endswith("s") else name
            return shorten(effect_verb(name, decision.effect))
    return shorten(
        name_from_path(
            method,
            path,
            strip_prefixes=strip,
            has_children=has_children,
            effect=decision.effect,
            verb=decision.verb,
        )
    )


def _top_collection(path: str, strip: list[str]) -> str | None:
    """The first resource segment of a path (`/3/customers/{id}` -> `customers`)."""
    segments = [s for s in path_segments(path, strip) if not is_param(s)]
    return segments[0].lower() if segments else None


def _links(path: str, top_collections: set[str | None]) -> bool:
    """`/ContactGroups/{id}/Contacts`: the records under the item are ones that exist on their own."""
    segments = path.strip("/").split("/")
    return (
        len(segments) >= 3
        and is_param(segments[-2])
        and not is_param(segments[-1])
        and segments[-1].lower() in top_collections
        and segments[-1].lower() != segments[0].lower()
    )


def paging_roles(binding: Binding) -> dict[str, str]:
    """The arguments that page a list: {"page": arg, "limit": arg, "offset": arg}, as far as it has them."""
    by_name = {p.name.lower(): p.arg for p in binding.params if p.location == "query"}
    roles = {}
    for role, names in PAGING_ROLES.items():
        arg = next((by_name[n] for n in names if n in by_name), None)
        if arg is not None:
            roles[role] = arg
    return roles


def _kind(effect: str, name: str, binary_only: bool) -> str:
    """The tool's kind (list, get, download, create, update, delete or action), from its effect."""
    if effect in ("read", "export"):
        if binary_only:
            return "download"
        return "list" if name.startswith("list_") else "get"
    if effect in ("create", "update", "delete"):
        return effect
    return "action"


def _shape(
    converter: SchemaConverter,
    method: str,
    path: str,
    op: dict[str, Any],
    item: dict[str, Any],
    has_children: bool,
    links_existing: bool = False,
) -> effects.OperationShape:
    return effects.OperationShape(
        method=method,
        path=path,
        operation_id=str(op.get("operationId") or ""),
        summary=str(op.get("summary") or ""),
        description=str(op.get("description") or ""),
        has_children=has_children,
        action_values=_action_values(converter, path, op, item),
        flags=_flags(converter, op, item),
        body_fields=_body_fields(converter, op),
        links_existing=links_existing,
        query_params=_query_params(converter, op, item),
        extension=op.get(effects.EFFECT_EXTENSION),
    )


def _parameters(converter: SchemaConverter, op: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters with the path item's, `$ref`s resolved."""
    return [
        _resolve_param(converter, raw) or {}
        for raw in [*item.get("parameters", []), *op.get("parameters", [])]
    ]


def _request_body(converter: SchemaConverter, op: dict[str, Any]) -> dict[str, Any]:
    request = op.get("requestBody")
    if isinstance(request, dict) and "$ref" in request:
        request = converter.request_bodies.get(str(request["$ref"]).rsplit("/", 1)[-1], {})
    return request if isinstance(request, dict) else {}


def _body_properties(converter: SchemaConverter, op: dict[str, Any]) -> dict[str, Any]:
    """Top-level properties of the first object body the operation takes."""
    for media in (_request_body(converter, op).get("content") or {}).values():
        shape = converter.object_properties((media or {}).get("schema") or {})
        if shape:
            return dict(shape[0])
    return {}


def _flags(converter: SchemaConverter, op: dict[str, Any], item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(p.get("name", ""))
        for p in _parameters(converter, op, item)
        if converter.resolve(p.get("schema") or {}).get("type") == "boolean"
    )


def _query_params(converter: SchemaConverter, op: dict[str, Any], item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(p.get("name")) for p in _parameters(converter, op, item) if p.get("in") == "query")


def _body_fields(converter: SchemaConverter, op: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_body_properties(converter, op))


_LISTED = re.compile(r"^\s*[-*]\s*`?([a-z][a-z0-9_]*)`?\s*$", re.MULTILINE)


def _action_values(
    converter: SchemaConverter, path: str, op: dict[str, Any], item: dict[str, Any]
) -> tuple[str, ...]:
    """The actions an `{action}` path parameter or a body's `action` field takes: its enum, else the
    values its description (or the operation's) lists one per line."""
    sources: list[tuple[dict[str, Any], str]] = []
    for p in _parameters(converter, op, item):
        if p.get("in") == "path" and str(p.get("name", "")).lower() in effects.ACTION_PARAMS:
            sources.append((converter.resolve(p.get("schema") or {}), str(p.get("description") or "")))
            sources.append(({}, str(op.get("description") or "")))
    action = _body_properties(converter, op).get("action")
    if action is not None:
        prop = converter.resolve(action)
        sources.append((prop, str(prop.get("description") or "")))
    values: list[str] = []
    for schema, text in sources:
        found = [str(v) for v in schema.get("enum") or []] or _LISTED.findall(text)
        values += [v for v in found if v not in values]
    return tuple(values)


def _unique_names(drafts: list[tuple[Any, ...]], diags: list[Diagnostic]) -> list[str]:
    """Resolve clashes in turn: the deeper path gets `_by_<params>`; a PATCH beside a PUT becomes
    `patch_`; then a readable operationId is used. What still clashes needs an overlay name."""
    names = [d[5] for d in drafts]
    fixed = {i for i, d in enumerate(drafts) if d[4].get("name")}

    def by_depth(i: int, name: str, group: list[int]) -> str | None:
        depth = {j: drafts[j][1].count("{") for j in group}
        if depth[i] == min(depth.values()):
            return None
        params = re.findall(r"\{([^}]+)\}", drafts[i][1])[min(depth.values()) :]
        return f"{name}_by_{'_and_'.join(snake(p) for p in params)}"

    def patch_beside_put(i: int, name: str, group: list[int]) -> str | None:
        return (
            "patch_" + name[len("update_") :]
            if drafts[i][0] == "PATCH" and name.startswith("update_")
            else None
        )

    def from_operation_id(i: int, name: str, group: list[int]) -> str | None:
        alt = name_from_operation_id(str(drafts[i][2].get("operationId", "")))
        return alt if alt and alt not in names else None

    for strategy in (by_depth, patch_beside_put, from_operation_id):
        groups: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(names):
            groups[n].append(i)
        for name, group in groups.items():
            if len(group) < 2:
                continue
            for i in group:
                new = None if i in fixed else strategy(i, name, group)
                if new:
                    names[i] = shorten(new)
                    diags.append(
                        Diagnostic(
                            Severity.INFO,
                            "name-clash-resolved",
                            f"{name!r} taken; named {names[i]!r}",
                            f"{drafts[i][0]} {drafts[i][1]}",
                        )
                    )
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        d = drafts[i]
        if n in seen:
            a = drafts[seen[n]]
            raise GenerationError(
                f"two operations would both be named {n!r}: {a[0]} {a[1]} and {d[0]} {d[1]}. "
                'Give one of them a name in the vendor overlay: [operations."METHOD /path"] name = "..."'
            )
        if not valid_name(n):
            raise GenerationError(
                f"derived name {n!r} for {d[0]} {d[1]} is not a valid tool name; set one in the overlay"
            )
        seen[n] = i
    return names


def _group(
    op: Operation, custom: dict[str, Any], overlay: dict[str, Any], settings: dict[str, Any]
) -> tuple[str, str]:
    tag = op.tags[0] if op.tags else "default"
    if custom.get("group"):
        gid = custom["group"]
    elif tag in overlay.get("groups", {}):
        gid = overlay["groups"][tag]
    else:
        stripped = tag
        for prefix in settings.get("group_strip_prefixes", []):
            if stripped.startswith(prefix):
                stripped = stripped[len(prefix) :]
                break
        gid = snake(stripped) or "default"
    return gid, gid.replace("_", " ").capitalize()


def _scopes(
    op: dict[str, Any],
    spec: dict[str, Any],
    custom: dict[str, Any],
    overlay: dict[str, Any],
    group: str,
    settings: dict[str, Any],
) -> tuple[str, ...]:
    if "scopes" in custom:
        return tuple(custom["scopes"])
    found: list[str] = []
    for requirement in op.get("security", spec.get("security", [])) or []:
        for scopes in requirement.values():
            found += [s for s in scopes if s not in found]
    if found:
        return tuple(found)
    return tuple(overlay.get("scopes", {}).get(group, settings.get("default_scopes", [])))


def _server_url(server: dict[str, Any]) -> str:
    url = str(server.get("url", "/"))
    for var, spec in (server.get("variables") or {}).items():
        url = url.replace("{" + var + "}", str(spec.get("default", "")))
    return url.rstrip("/")


def _binding_and_schema(
    converter: SchemaConverter,
    method: str,
    path: str,
    op: dict[str, Any],
    item: dict[str, Any],
    diags: list[Diagnostic],
    bound_rules: BoundRules | None = None,
) -> tuple[dict[str, Any], Binding]:
    where = f"{method} {path}"
    bound_rules = bound_rules or BoundRules(schemes={})
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    taken: set[str] = set()
    conditional: list[str] = []  # required inside an optional body: required once the body is sent
    params: list[Param] = []
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        p = _resolve_param(converter, raw)
        if p and p.get("in") in ("path", "query", "header", "cookie"):
            merged[(p["in"], p["name"])] = p
    for (location, wire), p in sorted(merged.items(), key=lambda kv: (kv[0][0] != "path", 0)):
        arg = safe_arg_name(wire, taken)
        is_required = bool(p.get("required")) or location == "path"
        bound, credential = bound_rules.decide(wire, location) or (None, None)
        if bound is not None:
            filled = f"the configured {credential}" if bound == CREDENTIAL else "the configured tenant"
            listed = (
                "an optional argument" if bound == TENANT and bound_rules.tenant_override else "no argument"
            )
            diags.append(
                Diagnostic(
                    Severity.INFO,
                    f"bound-{bound}",
                    f"{location} parameter {wire!r} is filled from {filled} ({listed})",
                    where,
                )
            )
        elif arg != wire:
            diags.append(
                Diagnostic(
                    Severity.INFO,
                    "argument-renamed",
                    f"{location} parameter {wire!r} is argument {arg!r}",
                    where,
                )
            )
        if bound is None or (bound == TENANT and bound_rules.tenant_override):
            schema = converter.convert(p.get("schema", {"type": "string"}), defs)
            desc = short_text(p.get("description"))
            if bound == TENANT:  # optional: the configured tenant unless a call names another
                schema["description"] = (
                    f"{desc.rstrip('.')}. " if desc else ""
                ) + "Default: the tenant the server is configured for; give it only to act on another."
            elif desc and "description" not in schema:
                schema["description"] = desc
            properties[arg] = _sendable(schema, location, is_required and bound is None)
            if is_required and bound is None:
                required.append(arg)
        style = p.get("style") or ("simple" if location in ("path", "header") else "form")
        explode = p.get("explode", style == "form")
        params.append(
            Param(
                arg=arg,
                name=wire,
                location=location,
                required=is_required,
                style=style,
                explode=bool(explode),
                bound=bound,
                credential=credential if bound == CREDENTIAL else None,
            )
        )

    body = None
    request = _request_body(converter, op)
    if request.get("content"):
        content = request["content"]
        ctype = next(
            (
                c
                for c in ("application/json", "multipart/form-data", "application/x-www-form-urlencoded")
                if c in content
            ),
            next(iter(content)),
        )
        media_schema = (content.get(ctype) or {}).get("schema") or {}
        body_required = bool(request.get("required"))
        body = _flatten_body(
            converter, media_schema, ctype, body_required, properties, required, conditional, taken, defs,
            diags, where,
        )  # fmt: skip

    responses = []
    for code, resp in sorted((op.get("responses") or {}).items()):
        if str(code).startswith("2") and isinstance(resp, dict):
            for media in resp.get("content") or {}:
                if media not in responses:
                    responses.append(media)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if conditional:
        # The body goes out as soon as one of its arguments is given (server/requests.py); from
        # then on the description requires these. No body argument given: no body, nothing required.
        others = [p.arg for p in params if p.arg in properties]
        schema["if"] = {"propertyNames": {"enum": others}} if others else {"maxProperties": 0}
        schema["else"] = {"required": conditional}
    schema["additionalProperties"] = False
    kept = prune_defs(schema, defs)
    if kept:
        schema["$defs"] = kept
    return schema, Binding(
        method=method, path=path, params=tuple(params), body=body, responses=tuple(responses)
    )


def _sendable(schema: dict[str, Any], location: str, required: bool) -> dict[str, Any]:
    """Refuse, before anything is sent, values that cannot travel as the parameter they are for.

    An empty path segment or a dot segment ("." or "..", which URL normalisation and servers
    resolve as "here" and "one up") reaches another resource: `/invoices/` is the list,
    `/invoices/../bookkeep` is `/bookkeep`. A required array parameter given as [] is simply
    missing from the request."""
    kind = schema.get("type")
    if location == "path" and kind == "string" and not ({"enum", "format", "not"} & set(schema)):
        return {
            **schema,
            "minLength": max(1, int(schema.get("minLength", 0))),
            "not": {"enum": list(DOT_SEGMENTS)},
        }
    if required and location != "path" and kind == "array" and not schema.get("minItems"):
        return {**schema, "minItems": 1}
    return schema


def _resolve_param(converter: SchemaConverter, raw: dict[str, Any]) -> dict[str, Any] | None:
    if "$ref" in raw:
        return converter.parameters.get(str(raw["$ref"]).rsplit("/", 1)[-1])
    return raw


def _flatten_body(
    converter: SchemaConverter, media_schema: dict[str, Any], ctype: str, body_required: bool,
    properties: dict[str, Any], required: list[str], conditional: list[str], taken: set[str],
    defs: dict[str, Any], diags: list[Diagnostic], where: str,
) -> Body:  # fmt: skip
    """Body properties become top-level arguments; a one-property wrapper object is unwrapped.

    A property the body schema requires is a required argument when the body is; in an optional
    body it lands in `conditional` (required as soon as any body argument is given)."""
    shape = converter.object_properties(media_schema)
    wrapper = None
    if shape and len(shape[0]) == 1:
        ((only, inner),) = shape[0].items()
        inner_shape = converter.object_properties(inner)
        if inner_shape and inner_shape[0]:
            wrapper, shape = only, inner_shape
    if not shape or not shape[0]:
        arg = safe_arg_name("body", taken)
        properties[arg] = converter.convert(media_schema, defs) or {"description": "Request body"}
        if body_required:
            required.append(arg)
        return Body(content_type=ctype, required=body_required, wrapper=None, fields={}, whole_body_arg=arg)
    props, inner_required = shape
    fields: dict[str, str] = {}
    for prop, sub in props.items():
        if converter.is_read_only(sub):
            continue
        candidate = prop if prop not in taken else f"body_{prop}"
        arg = safe_arg_name(candidate, taken)
        if arg != prop:
            diags.append(
                Diagnostic(
                    Severity.INFO, "argument-renamed", f"body property {prop!r} is argument {arg!r}", where
                )
            )
        properties[arg] = converter.convert(sub, defs)
        fields[arg] = prop
        if prop in inner_required:
            (required if body_required else conditional).append(arg)
    return Body(
        content_type=ctype, required=body_required, wrapper=wrapper, fields=fields, whole_body_arg=None
    )


def _describe(op: Operation, kind: str, binding: Binding) -> str:
    """The vendor's own words. What the operation does to the world is in the tool's facts and
    hints; the listing says it from them (server/compact.py), so no sentence here repeats it."""
    parts = [op.summary.rstrip(".") + "." if op.summary else ""]
    if op.description and op.description.rstrip(".").lower() != op.summary.rstrip(".").lower():
        parts.append(op.description)
    if kind == "download":
        parts.append(f"Returns the file ({', '.join(binding.responses)}).")
    if op.deprecated:
        parts.append("Deprecated by the vendor.")
    return " ".join(p for p in parts if p)


def _attach_snapshots(
    tools: list[Tool], op_overlays: dict[str, dict[str, Any]], diags: list[Diagnostic]
) -> None:
    """Find, for each mutating tool, the GET that reads the entity it changes."""
    reads: dict[str, Tool] = {}
    writes: dict[str, Tool] = {}
    for t in tools:
        tpl = template(t.binding.path)
        if t.binding.method == "GET" and tpl.endswith("}") and t.kind != "download":
            reads.setdefault(tpl, t)
        if t.kind == "update" and t.binding.method in ("PUT", "PATCH", "POST"):
            writes.setdefault(tpl, t)
    for t in tools:
        if t.hints.read_only:
            continue
        custom = op_overlays.get(t.operation.key, {}).get("snapshot")
        if custom is False:
            continue
        wants = (
            t.binding.method in ("PUT", "PATCH", "DELETE")
            or t.kind == "action"
            or (t.binding.method == "POST" and "{" in t.binding.path)
        )
        if not wants and not custom:
            continue
        read = None
        if isinstance(custom, dict) and custom.get("path"):
            read = reads.get(template(custom["path"]))
            if read is None:
                raise GenerationError(
                    f"overlay snapshot path {custom['path']!r} for {t.name} is not a GET of the spec"
                )
        else:
            for candidate in _snapshot_candidates(t.binding.path):
                read = reads.get(template(candidate))
                if read is not None:
                    break
        if read is None:
            if t.binding.method in ("PUT", "PATCH", "DELETE") or t.hints.destructive:
                diags.append(
                    Diagnostic(
                        Severity.WARNING,
                        "no-snapshot-target",
                        f"{t.name}: no GET reads the entity it changes; snapshots are off for it",
                        t.operation.key,
                    )
                )
            continue
        write_params = [p for p in t.binding.params if p.location == "path"]
        read_params = [p for p in read.binding.params if p.location == "path"]
        if len(write_params) < len(read_params):
            continue
        mapping = {rp.name: wp.arg for rp, wp in zip(read_params, write_params, strict=False)}
        last_arg = mapping.get(read_params[-1].name) if read_params else None
        batch = last_arg if last_arg and BATCH_ARG.search(last_arg) and t.binding.method == "DELETE" else None
        # only what an update can write back: an irreversible effect (a delete, a booking, a
        # send) keeps its snapshot as a record, not as something to restore
        restorable = t.decision is not None and t.decision.effect in ("update", "state")
        restore = writes.get(template(read.binding.path)) if restorable else None
        if restore is not None and not _restore_covers(t, read, restore):
            restore = None
        t.snapshot = SnapshotTarget(
            method="GET", path=read.binding.path, params=mapping, batch_arg=batch,
            read_tool=read.name, restore_tool=restore.name if restore else None,
        )  # fmt: skip


def _restore_covers(write: Tool, read: Tool, restore: Tool) -> bool:
    """Whether writing the snapshot back with `restore` undoes `write`: the write changes the
    entity the read returns (same path), or every field it sends is one the restore can send. An
    action on a sub-path (a status change, "mark as printed", tags) changes what the entity's
    update cannot write back; its snapshot stays a record, and the plan does not promise a restore."""
    if template(write.binding.path) == template(read.binding.path):
        return True
    sent = set(write.binding.body.fields.values()) if write.binding.body else set()
    can = set(restore.binding.body.fields.values()) if restore.binding.body else set()
    return bool(sent) and sent <= can


def _snapshot_candidates(path: str) -> list[str]:
    """The path itself, then without an action segment, then each shorter prefix ending in an id."""
    segments = path.strip("/").split("/")
    out = ["/" + "/".join(segments)]
    for i, seg in enumerate(segments):
        if not is_param(seg) and i + 1 < len(segments) and is_param(segments[i + 1]) and i > 0:
            out.append("/" + "/".join(segments[:i] + segments[i + 1 :]))
    for end in range(len(segments) - 1, 0, -1):
        if is_param(segments[end - 1]):
            out.append("/" + "/".join(segments[:end]))
    return out
