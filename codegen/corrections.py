"""Corrections of the vendor's description, from the overlay's `[[corrections]]`.

Some descriptions say less than, or other than, what the vendor documents and its API accepts (an
id list typed as one integer, a file part typed as an object). A correction replaces one node of
the normalised description, says why, and is applied before anything else reads the description:
tools, typed client and the conformance check all see the corrected text. Each one is reported as
a diagnostic, so a correction is never silent.

    [[corrections]]
    operation = "DELETE /contacts/{contactIds}"   # optional: start at this operation
    at = "parameters/contactIds/schema"            # '/'-separated keys; '~1' is '/', '~0' is '~'
    value = { type = "string", pattern = "^[0-9]+(,[0-9]+)*$" }
    reason = "the parameter's own description says 'comma separated contact IDs'"

Without `operation`, `at` starts at the top of the description (`components/schemas/Invoice/...`).
Inside a list, a segment is an index, or for `parameters` the parameter's name. The node's parent
must exist; the node itself is replaced or added.

The other kind of correction, for updates that change only the fields they are given although the
description reuses the creation schema with its `required` list:

    [[corrections]]
    operation = ["PUT /3/customers/{CustomerNumber}", "PUT /3/articles/{ArticleNumber}"]
    partial_body = true
    reason = "..."

A third kind adds parameters the description leaves out (an API that pages every list although
its description names no paging parameter):

    [[corrections]]
    operation = "GET /3/*"                         # `*` matches any characters, `/` included
    answers_list = true                            # only the operations whose answer is a list
    add_parameters = [{ name = "page", in = "query", description = "...", schema = { type = "integer" } }]
    reason = "..."

An operation that already has a parameter of that name (in the same place, any letter case) keeps
its own: only the missing ones are added.

`operation` may list several operations (or patterns) that share one reason; each operation
corrected counts as one correction. A name must be an operation of the description, a pattern
must match at least one, and with `answers_list` a named operation must answer a list and a
pattern must match at least one that does: a selection that picks nothing stops generation.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError, Severity
from ledgermcp.codegen.normalize import HTTP_METHODS, REF_PREFIX

CORRECTION_KEYS = {"operation", "answers_list", "at", "value", "partial_body", "add_parameters", "reason"}
PARAMETER_KEYS = {"name", "in", "description", "schema"}
PARAMETER_PLACES = ("query", "header", "cookie")  # a path parameter would need a new path
PARTIAL_SUFFIX = "_Partial"


@dataclass(frozen=True)
class Correction:
    """One corrected place: an operation ("METHOD /path") or, with `operation` None, the document."""

    operation: str | None
    what: str
    reason: str

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(
            Severity.INFO,
            "overlay-correction",
            f"{self.what} corrected: {self.reason}",
            self.operation or "#",
        )


def correct(
    spec: dict[str, Any], corrections: list[dict[str, Any]], *, vendor: str
) -> tuple[dict[str, Any], list[Correction]]:
    """A corrected copy of `spec` and one `Correction` per corrected place (the input is not changed).
    Corrections apply in order: a later one selects from what the earlier ones left."""
    if not corrections:
        return spec, []
    if not isinstance(corrections, list):
        raise GenerationError(
            f"overlay for {vendor}: 'corrections' must be an array of tables ([[corrections]])"
        )
    out = copy.deepcopy(spec)
    applied = []
    for number, entry in enumerate(corrections, 1):
        label = f"overlay for {vendor}, correction {number}"
        _check_entry(entry, label)
        reason = str(entry["reason"])
        if entry.get("add_parameters"):
            added = [
                Correction(operation, what, reason)
                for operation in select_operations(out, entry, label)
                if (what := _add_parameters(out, operation, entry["add_parameters"], label))
            ]
            if not added:
                names = ", ".join(p["name"] for p in entry["add_parameters"])
                raise GenerationError(
                    f"{label}: every operation it selects already has {names}; remove the correction"
                )
            applied += added
            continue
        for operation in select_operations(out, entry, label) or [None]:
            if entry.get("partial_body"):
                what = _make_body_partial(out, operation, label)
            else:
                what = _replace(out, operation, entry, label)
            applied.append(Correction(operation, what, reason))
    return out, applied


def apply_corrections(
    spec: dict[str, Any], corrections: list[dict[str, Any]], *, vendor: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """`correct`, with each corrected place reported as a diagnostic."""
    out, applied = correct(spec, corrections, vendor=vendor)
    return out, [c.diagnostic() for c in applied]


def _check_entry(entry: Any, label: str) -> None:
    if not isinstance(entry, dict):
        raise GenerationError(f"{label}: must be a table with keys {sorted(CORRECTION_KEYS)}")
    unknown = set(entry) - CORRECTION_KEYS
    if unknown:
        raise GenerationError(
            f"{label}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CORRECTION_KEYS)}"
        )
    if not str(entry.get("reason", "")).strip():
        raise GenerationError(f"{label}: needs a non-empty 'reason' (why the description is wrong)")
    if not isinstance(entry.get("answers_list", False), bool):
        raise GenerationError(f"{label}: 'answers_list' must be true or false")
    if entry.get("answers_list") and "operation" not in entry:
        raise GenerationError(f"{label}: 'answers_list' chooses among operations: add 'operation'")
    if "add_parameters" in entry:
        if {"at", "value", "partial_body"} & set(entry) or "operation" not in entry:
            raise GenerationError(
                f"{label}: 'add_parameters' goes with 'operation' only (no 'at', 'value' or 'partial_body')"
            )
        _check_parameters(entry["add_parameters"], label)
    elif entry.get("partial_body"):
        if "at" in entry or "value" in entry or "operation" not in entry:
            raise GenerationError(f"{label}: 'partial_body' goes with 'operation' only (no 'at' or 'value')")
    elif "at" not in entry or "value" not in entry:
        raise GenerationError(
            f"{label}: needs 'at' and 'value' (or 'partial_body = true' or 'add_parameters' with 'operation')"
        )


def _check_parameters(params: Any, label: str) -> None:
    example = '{ name = "page", in = "query", description = "...", schema = { type = "integer" } }'
    if not isinstance(params, list) or not params:
        raise GenerationError(f"{label}: 'add_parameters' must be a non-empty array of tables like {example}")
    seen: set[tuple[str, str]] = set()
    for number, param in enumerate(params, 1):
        where = f"{label}, add_parameters {number}"
        if not isinstance(param, dict) or set(param) != PARAMETER_KEYS:
            given = sorted(param) if isinstance(param, dict) else type(param).__name__
            raise GenerationError(
                f"{where}: needs exactly the keys {sorted(PARAMETER_KEYS)} (given: {given}), e.g. {example}"
            )
        if not isinstance(param["name"], str) or not param["name"].strip():
            raise GenerationError(f"{where}: 'name' must be a non-empty string")
        if param["in"] not in PARAMETER_PLACES:
            raise GenerationError(
                f"{where}: 'in' must be one of {list(PARAMETER_PLACES)}, not {param['in']!r}"
            )
        if not isinstance(param["description"], str) or not param["description"].strip():
            raise GenerationError(f"{where}: 'description' must say what the parameter does")
        if not isinstance(param["schema"], dict) or not param["schema"]:
            raise GenerationError(f"{where}: 'schema' must be a table such as {{ type = \"integer\" }}")
        key = (param["in"], param["name"].lower())
        if key in seen:
            raise GenerationError(f"{where}: {param['in']} parameter {param['name']!r} is listed twice")
        seen.add(key)


# --- which operations a correction applies to ------------------------------------------------


def operation_keys(spec: dict[str, Any]) -> list[str]:
    """Every operation of the description as "METHOD /path"."""
    return [
        f"{method.upper()} {path}"
        for path, item in (spec.get("paths") or {}).items()
        if isinstance(item, dict)
        for method in HTTP_METHODS
        if isinstance(item.get(method), dict)
    ]


def select_operations(spec: dict[str, Any], entry: dict[str, Any], label: str) -> list[str]:
    """The operations a correction applies to, in the order named: its `operation` (one or a list of
    names and `*` patterns), narrowed by `answers_list`. Empty when it names none (a document place)."""
    named = entry.get("operation")
    if named is None:
        return []
    patterns = [str(o) for o in named] if isinstance(named, list) else [str(named)]
    lists_only = bool(entry.get("answers_list"))
    known = operation_keys(spec)
    chosen: list[str] = []
    for pattern in patterns:
        if "*" in pattern:
            regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
            matched = [k for k in known if regex.fullmatch(k)]
            if not matched:
                raise GenerationError(f"{label}: {pattern!r} matches no operation of the description")
            if lists_only:
                matched = [k for k in matched if answers_list(spec, k)]
                if not matched:
                    raise GenerationError(
                        f"{label}: none of the operations {pattern!r} matches answers a list "
                        "(an array, or an object carrying one); check the pattern or drop 'answers_list'"
                    )
        elif pattern not in known:
            raise GenerationError(
                f"{label}: the description has no operation {pattern!r}; "
                "name it 'METHOD /path' exactly as in the description"
            )
        elif lists_only and not answers_list(spec, pattern):
            raise GenerationError(
                f"{label}: {pattern} does not answer a list (an array, or an object carrying one); "
                "leave it out or drop 'answers_list'"
            )
        else:
            matched = [pattern]
        chosen += [k for k in matched if k not in chosen]
    return chosen


def answers_list(spec: dict[str, Any], operation: str) -> bool:
    """Whether the operation's success answer (JSON) is a list: an array, or an object whose
    properties are one array and otherwise only objects (`{"Invoices": [...], "MetaInformation": {...}}`,
    `{"items": [...], "pagination": {...}}`)."""
    method, _, path = operation.partition(" ")
    op = spec["paths"][path][method.lower()]
    for status, response in sorted((op.get("responses") or {}).items()):
        response = _deref(spec, response)
        if not str(status).startswith("2") or not isinstance(response, dict):
            continue
        for media, content in (response.get("content") or {}).items():
            if "json" not in media or not isinstance(content, dict):
                continue
            schema = _deref(spec, content.get("schema"))
            if not isinstance(schema, dict):
                return False
            if schema.get("type") == "array":
                return True
            kinds = [_kind(_deref(spec, s)) for s in (schema.get("properties") or {}).values()]
            return kinds.count("array") == 1 and all(k in ("array", "object") for k in kinds)
    return False


def _kind(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    return str(schema.get("type") or ("object" if "properties" in schema else ""))


def _deref(spec: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s ("#/components/..."); a reference that leads nowhere gives None."""
    for _ in range(20):  # a longer chain is a loop
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return None
        node = spec
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return None


# --- the kinds of correction --------------------------------------------------------------


def _add_parameters(spec: dict[str, Any], operation: str, params: list[dict[str, Any]], label: str) -> str:
    """Add the parameters the operation lacks; what was added ("" when it had them all)."""
    op, _ = _start(spec, operation, label)
    item = spec["paths"][operation.partition(" ")[2]]
    own = [_deref(spec, p) for p in [*(item.get("parameters") or []), *(op.get("parameters") or [])]]
    has = {(p.get("in"), str(p.get("name", "")).lower()) for p in own if isinstance(p, dict)}
    missing = [p for p in params if (p["in"], p["name"].lower()) not in has]
    if not missing:
        return ""
    op["parameters"] = [*(op.get("parameters") or []), *copy.deepcopy(missing)]
    places = sorted({p["in"] for p in missing})
    return f"{'/'.join(places)} parameter(s) {', '.join(p['name'] for p in missing)} added"


def _replace(spec: dict[str, Any], operation: str | None, entry: dict[str, Any], label: str) -> str:
    node, where = _start(spec, operation, label)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in str(entry["at"]).strip("/").split("/")]
    for part in parts[:-1]:
        node = _step(node, part, label, where)
        where += f"/{part}"
    _assign(node, parts[-1], copy.deepcopy(entry["value"]), label, where)
    return str(entry["at"])


def _make_body_partial(spec: dict[str, Any], operation: str | None, label: str) -> str:
    """The operation's request body without `required` lists (the body object's, and for a
    one-property wrapper such as {"Customer": {...}} the wrapped object's too). A referenced
    component is not changed: a `<name>_Partial` copy is added and referenced instead, so the
    other operations that use the component keep its requirements."""
    op, _ = _start(spec, operation, label)
    body = op.get("requestBody")
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict) or "$ref" in body:
        raise GenerationError(f"{label}: {operation} has no inline request body to make partial")
    for media in body["content"].values():
        if isinstance(media, dict) and isinstance(media.get("schema"), dict):
            media["schema"] = _partial(spec, media["schema"], unwrap=True, label=label)
    return "request body: fields optional (partial update)"


def _partial(spec: dict[str, Any], schema: dict[str, Any], *, unwrap: bool, label: str) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith(REF_PREFIX):
            raise GenerationError(f"{label}: cannot follow {ref!r}")
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        name = ref[len(REF_PREFIX) :]
        partial_name = name + PARTIAL_SUFFIX
        if partial_name not in components:
            components[partial_name] = {}  # placeholder first: recursive schemas terminate
            components[partial_name] = _partial_copy(spec, components[name], unwrap=unwrap, label=label)
        return {"$ref": REF_PREFIX + partial_name}
    return _partial_copy(spec, schema, unwrap=unwrap, label=label)


def _partial_copy(
    spec: dict[str, Any], schema: dict[str, Any], *, unwrap: bool, label: str
) -> dict[str, Any]:
    # without its title the copy's class is named after its own key, not after the original's title
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("required", "title")}
    if "allOf" in out:
        out["allOf"] = [_partial(spec, part, unwrap=unwrap, label=label) for part in out["allOf"]]
    props = out.get("properties")
    if unwrap and isinstance(props, dict) and len(props) == 1:
        ((key, inner),) = props.items()
        if isinstance(inner, dict):
            props[key] = _partial(spec, inner, unwrap=False, label=label)
    return out


def _start(spec: dict[str, Any], operation: Any, label: str) -> tuple[Any, str]:
    if operation is None:
        return spec, "#"
    method, _, path = str(operation).partition(" ")
    item = spec.get("paths", {}).get(path)
    if method.lower() not in HTTP_METHODS or not isinstance(item, dict) or method.lower() not in item:
        raise GenerationError(
            f"{label}: the description has no operation {operation!r}; "
            "name it 'METHOD /path' exactly as in the description"
        )
    # its own copy: a node shared with other operations (YAML anchors) must not change for them too
    item[method.lower()] = copy.deepcopy(item[method.lower()])
    return item[method.lower()], str(operation)


def _step(node: Any, part: str, label: str, where: str) -> Any:
    if isinstance(node, dict):
        if "$ref" in node and part not in node:
            raise GenerationError(
                f"{label}: {where} is a $ref to {node['$ref']}; correct that component instead"
            )
        if part not in node:
            raise GenerationError(f"{label}: {where} has no {part!r} (keys: {sorted(node)[:20]})")
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, label, where)]
    raise GenerationError(f"{label}: {where} is a {type(node).__name__}, not an object or a list")


def _index(node: list[Any], part: str, label: str, where: str) -> int:
    if part.isdigit() and int(part) < len(node):
        return int(part)
    named = [i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == part]
    if len(named) != 1:
        names = [item.get("name") for item in node if isinstance(item, dict)]
        raise GenerationError(f"{label}: {where} has no single entry named {part!r} (names: {names})")
    return named[0]


def _assign(node: Any, part: str, value: Any, label: str, where: str) -> None:
    if isinstance(node, dict) and "$ref" in node:
        raise GenerationError(f"{label}: {where} is a $ref to {node['$ref']}; correct that component instead")
    if isinstance(node, dict):
        node[part] = value
    elif isinstance(node, list):
        node[_index(node, part, label, where)] = value
    else:
        raise GenerationError(f"{label}: {where} is a {type(node).__name__}; cannot set {part!r} in it")
