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

`operation` may list several operations that share one reason; each counts as one correction.
"""

from __future__ import annotations

import copy
from typing import Any

from ledgermcp.codegen.diagnostics import Diagnostic, GenerationError, Severity
from ledgermcp.codegen.normalize import HTTP_METHODS, REF_PREFIX

CORRECTION_KEYS = {"operation", "at", "value", "partial_body", "reason"}
PARTIAL_SUFFIX = "_Partial"


def corrected_operations(entry: dict[str, Any]) -> list[str]:
    """The operations one correction names (`operation` may be one "METHOD /path" or a list)."""
    operation = entry.get("operation")
    if operation is None:
        return []
    return [str(o) for o in operation] if isinstance(operation, list) else [str(operation)]


def apply_corrections(
    spec: dict[str, Any], corrections: list[dict[str, Any]], *, vendor: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """A corrected copy of `spec` and one diagnostic per corrected place (the input is not changed)."""
    if not corrections:
        return spec, []
    if not isinstance(corrections, list):
        raise GenerationError(
            f"overlay for {vendor}: 'corrections' must be an array of tables ([[corrections]])"
        )
    out = copy.deepcopy(spec)
    diags = []
    for number, entry in enumerate(corrections, 1):
        label = f"overlay for {vendor}, correction {number}"
        _check_entry(entry, label)
        for operation in corrected_operations(entry) or [None]:
            if entry.get("partial_body"):
                what = _make_body_partial(out, operation, label)
            else:
                what = _replace(out, operation, entry, label)
            diags.append(
                Diagnostic(
                    Severity.INFO,
                    "overlay-correction",
                    f"{what} corrected: {entry['reason']}",
                    operation or "#",
                )
            )
    return out, diags


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
    if entry.get("partial_body"):
        if "at" in entry or "value" in entry or not corrected_operations(entry):
            raise GenerationError(f"{label}: 'partial_body' goes with 'operation' only (no 'at' or 'value')")
    elif "at" not in entry or "value" not in entry:
        raise GenerationError(f"{label}: needs 'at' and 'value' (or 'partial_body = true' with 'operation')")


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
    return "request body (partial)"


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
