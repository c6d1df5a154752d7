"""Response shaping for read tools: answers sized for a model's context.

Two reserved arguments, listed in the schemas of read tools and taken out of the arguments before
validation (like `_approval`), then applied to a 2xx JSON answer in the render stage:

    fields       ["Name", "City"]: keep only these fields of the entity, or of each listed item
    include_raw  true: the vendor's answer unchanged (no summary, no cut)

Without them a list answer is summarised: each item keeps its plain values (text, numbers,
booleans; not links, empty values or nested objects), and at most `LIST_LIMIT` items are shown.
Whatever was left out is named in a note (text and `structuredContent["_view"]`) together with the
arguments that fetch the rest: the vendor's own paging parameters (Fortnox `page`/`limit`,
smallinvoice `limit`/`offset`), `fields` or `include_raw`.

No `mcp` import; the pipeline calls `check` in its validate stage and `shape` in its render stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ledgermcp.server import render
from ledgermcp.server.render import ToolResult

FIELDS_ARG = "fields"
RAW_ARG = "include_raw"
SHAPING_ARGS = (FIELDS_ARG, RAW_ARG)
LIST_LIMIT = 25  # items shown of a list answer unless include_raw
VIEW_KEY = "_view"  # where the note goes in structuredContent

# the listed schemas of the reserved arguments
# (no descriptions: they would repeat on every read tool; the server's instructions explain them once)
# `fields` is listed as a string (the check also takes a list): the shortest form a model reads right
FIELDS_SCHEMA = {"type": "string"}
RAW_SCHEMA = {"type": "boolean"}
INSTRUCTIONS = (
    'Read tools take `fields`: comma-separated names of the fields to keep, e.g. "Name,Total". '
    f"List answers show at most {LIST_LIMIT} items, "
    "summarised, with a note saying how to page; `include_raw: true` returns the answer unchanged."
)


def is_shapeable(tool: Mapping[str, Any]) -> bool:
    """A read tool whose answer is JSON: shaping applies (downloads and writes are left alone)."""
    if not (tool.get("annotations") or {}).get("readOnlyHint") or tool.get("kind") == "download":
        return False
    responses = [
        str(r).split(";", 1)[0].strip().lower() for r in (tool.get("binding") or {}).get("responses") or []
    ]
    return not responses or any(render.is_json(r) for r in responses)


def listed_arguments(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The shaping arguments a tool's listed schema shows (none for writes and downloads)."""
    if not is_shapeable(tool):
        return {}
    if tool.get("kind") == "list":
        return {FIELDS_ARG: FIELDS_SCHEMA, RAW_ARG: RAW_SCHEMA}
    return {FIELDS_ARG: FIELDS_SCHEMA}


# --- check (validate stage) ---------------------------------------------------------------


def _field_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    return None


def check(tool: Mapping[str, Any], reserved: Mapping[str, Any]) -> list[dict[str, str]]:
    """Problems with the shaping arguments of one call, in the validator's shape."""
    problems: list[dict[str, str]] = []
    given = [a for a in SHAPING_ARGS if a in reserved]
    if given and not is_shapeable(tool):
        for arg in given:
            problems.append(
                {
                    "field": arg,
                    "problem": f"'{arg}' only applies to read tools that answer JSON",
                    "fix": f"remove '{arg}'",
                }
            )
        return problems
    if FIELDS_ARG in reserved and not _field_list(reserved[FIELDS_ARG]):
        problems.append(
            {
                "field": FIELDS_ARG,
                "problem": "'fields' must be a non-empty list of field names",
                "fix": 'pass e.g. ["Name", "City"]',
            }
        )
    if RAW_ARG in reserved and not isinstance(reserved[RAW_ARG], bool):
        problems.append(
            {"field": RAW_ARG, "problem": "'include_raw' must be a boolean", "fix": "pass true or false"}
        )
    return problems


# --- shape (render stage) -----------------------------------------------------------------


def find_list(data: Any) -> tuple[str | None, list[Any]] | None:
    """The list an answer carries: the answer itself, or its one list-of-objects member."""
    if isinstance(data, list):
        return None, data
    if isinstance(data, dict):
        lists = [(k, v) for k, v in data.items() if isinstance(v, list) and (not v or isinstance(v[0], dict))]
        if len(lists) == 1:
            return lists[0]
    return None


def _entity(data: Any) -> tuple[str | None, Any]:
    """A single entity and its wrapper key (`{"Customer": {...}}`, `{"item": {...}}`)."""
    if isinstance(data, dict) and len(data) == 1:
        ((key, inner),) = data.items()
        if isinstance(inner, dict):
            return key, inner
    return None, data


def _pick(item: Any, fields: Sequence[str], missing: set[str]) -> Any:
    if not isinstance(item, dict):
        return item
    lower = {k.lower(): k for k in item}
    out: dict[str, Any] = {}
    for f in fields:
        key = f if f in item else lower.get(f.lower())
        if key is None:
            missing.add(f)
        else:
            out[key] = item[key]
    return out


def _is_plain(key: str, value: Any) -> bool:
    if key.startswith("@") or value is None or value == "" or isinstance(value, (dict, list)):
        return False
    return not (isinstance(value, str) and value.startswith(("http://", "https://")))


def summarise(item: Any, left_out: set[str]) -> Any:
    if not isinstance(item, dict):
        return item
    out = {}
    for key, value in item.items():
        if _is_plain(key, value):
            out[key] = value
        elif isinstance(value, (dict, list)) and value:
            left_out.add(key)
    return out


def _paging(call: Any) -> tuple[str | None, str | None, str | None]:
    """(page, limit, offset) arguments of the list, as the generator found them (`facts.paging`)."""
    roles = (call.tool.get("facts") or {}).get("paging") or {}
    return roles.get("page"), roles.get("limit"), roles.get("offset")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _position(data: Any) -> tuple[int | None, int | None, int | None]:
    """(total items, pages, current page) as far as the answer says: Fortnox's `MetaInformation`
    (`@TotalResources`, `@TotalPages`, `@CurrentPage`) or a `pagination` object (`total`, `pages`, `page`)."""
    meta = data.get("MetaInformation") if isinstance(data, dict) else None
    pagination = data.get("pagination") if isinstance(data, dict) else None
    if isinstance(meta, dict):
        found = (meta.get("@TotalResources"), meta.get("@TotalPages"), meta.get("@CurrentPage"))
    elif isinstance(pagination, dict):
        found = (pagination.get("total"), pagination.get("pages"), pagination.get("page"))
    else:
        found = (None, None, None)
    total, pages, current = (v if isinstance(v, int) and not isinstance(v, bool) else None for v in found)
    return total, pages, current


def _page_size(
    call: Any, limit_arg: str, returned: int, position: tuple[int | None, int | None, int | None]
) -> int | None:
    """The page size of this call: the argument given, else what the answer tells (a page before the
    last is full; the last holds what the others leave), else None. A short last page is no measure."""
    if limit_arg in call.arguments:
        return _int(call.arguments[limit_arg], returned)
    total, pages, current = position
    if pages is None or current is None or current > pages:
        return None
    if current < pages or pages == 1:
        return returned
    if total is None:
        return None
    size, rest = divmod(total - returned, pages - 1)
    return size if rest == 0 and size >= returned else None


def next_page(call: Any, data: Any, returned: int, shown: int) -> tuple[dict[str, Any] | None, int | None]:
    """(arguments that fetch what follows the items shown, total count when the vendor says).

    Pages when the operation takes a page number and a page size (Fortnox `page`/`limit`; its
    `offset` is left alone), else `offset`/`limit` (smallinvoice), else a page number alone."""
    page_arg, limit_arg, offset_arg = _paging(call)
    total, pages, current = _position(data)
    args = call.arguments
    cut = shown < returned
    if page_arg and (limit_arg or not offset_arg):
        if cut:
            if not limit_arg:
                return None, total
            # the first item not shown, as a page of `shown` items when it starts one
            page = _int(args.get(page_arg), 1)
            size = returned if page == 1 else _page_size(call, limit_arg, returned, (total, pages, current))
            start = (page - 1) * size + shown if size is not None else -1
            if start > 0 and start % shown == 0:
                return {page_arg: start // shown + 1, limit_arg: shown}, total
            return None, total
        current = current if current is not None else _int(args.get(page_arg), 1)
        if pages is not None and current < pages:
            out: dict[str, Any] = {page_arg: current + 1}
            if limit_arg and limit_arg in args:
                out[limit_arg] = args[limit_arg]
            return out, total
        return None, total
    if offset_arg and limit_arg:
        start = _int(args.get(offset_arg), 0)
        if cut:
            return {offset_arg: start + shown, limit_arg: shown}, total
        if total is not None and start + returned < total:
            return {offset_arg: start + returned, limit_arg: _int(args.get(limit_arg), returned)}, total
    return None, total


def shape(call: Any, result: ToolResult) -> ToolResult:
    """Apply `fields`, the list summary and cut, and `include_raw` to a read tool's JSON answer."""
    if result.is_error or result.structured is None or not is_shapeable(call.tool):
        return result
    reserved = call.extras.get("reserved") or {}
    raw = reserved.get(RAW_ARG) is True
    fields = _field_list(reserved.get(FIELDS_ARG)) if FIELDS_ARG in reserved else None
    data: Any = result.structured  # a bare list answer arrives as {"items": [...]}
    is_list = call.tool.get("kind") == "list"
    bare_list = set(data) == {"items"} and isinstance(data["items"], list)
    found = find_list(data) if is_list or bare_list else None
    if (raw and not fields) or (found is None and not fields) or (found is not None and not found[1]):
        return result
    if found is not None and not (is_list or fields) and len(found[1]) <= LIST_LIMIT:
        return result  # a short list from a get: nothing to shape
    view: dict[str, Any] = {}
    notes: list[str] = []
    missing: set[str] = set()
    if found is not None:
        key, items = found
        returned = len(items)
        shown_items = items if raw else items[:LIST_LIMIT]
        if fields:
            shown_items = [_pick(i, fields, missing) for i in shown_items]
        elif is_list:
            left_out: set[str] = set()
            shown_items = [summarise(i, left_out) for i in shown_items]
            view["summarised"] = True
            if left_out:
                view["left_out"] = sorted(left_out)
            notes.append(
                "items summarised"
                + (f" (left out: {', '.join(sorted(left_out))})" if left_out else "")
                + "; pass fields=[...] to choose fields or include_raw=true for everything"
            )
        shown = len(shown_items)
        nxt, total = next_page(call, data, returned, shown)
        view.update({"shown": shown, "returned": returned})
        if total is not None:
            view["total"] = total
        if shown < returned:
            notes.insert(0, f"showing {shown} of {returned} items")
        if nxt:
            view["next"] = nxt
            how = ", ".join(f"{k}={json.dumps(v)}" for k, v in nxt.items())
            notes.append(f"for the next items call again with {how}")
        elif shown < returned:
            notes.append("pass include_raw=true for all items")
        data = {"items": shown_items} if key is None else {**data, key: shown_items}
    else:
        key, entity = _entity(data)
        picked = _pick(entity, fields or [], missing)
        data = {key: picked} if key is not None else picked
    if missing:
        view["unknown_fields"] = sorted(missing)
        notes.append(f"no such field(s): {', '.join(sorted(missing))}")
    if notes:
        view["note"] = "; ".join(notes)
    structured = render.structured_of(data)
    if view:
        structured = {**structured, VIEW_KEY: view}
    headline = result.content[0]["text"].split("\n", 1)[0] if result.content else call.name
    text = render.json_text(headline + (f" ({view['note']})" if "note" in view else ""), data)
    return ToolResult([{"type": "text", "text": text}], structured, meta=dict(result.meta))


def install(pipeline: Any) -> None:
    """Reserve the shaping arguments on a `CallPipeline` and apply them in its render stage."""
    pipeline.reserved.update(SHAPING_ARGS)
    pipeline.reserved_checks.append(lambda call: check(call.tool, call.extras.get("reserved") or {}))
    pipeline.shapers.append(shape)


# --- the size of any result (render stage, after the shapers) --------------------------------


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def fit(value: Any, budget: int, omitted: list[str], where: str = "") -> Any:
    """`value` cut to about `budget` characters of JSON: objects keep their first fields that fit,
    lists their first items, long strings their start. Paths of what was left out go to `omitted`."""
    if _size(value) <= budget:
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        used = 2
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            cost = _size(key) + 2
            if used + cost + 8 > budget:
                omitted.append(path)
                continue
            cut = fit(item, budget - used - cost, omitted, path)
            out[key] = cut
            used += cost + _size(cut)
        return out
    if isinstance(value, list):
        kept: list[Any] = []
        used = 2
        for i, item in enumerate(value):
            size = _size(item) + 1
            if used + size > budget:
                if not kept and budget - used > 64:
                    kept.append(fit(item, budget - used, omitted, f"{where}[{i}]"))
                omitted.append(f"{where}[{len(kept)}:] ({len(value) - len(kept)} of {len(value)} items)")
                break
            kept.append(item)
            used += size
        return kept
    if isinstance(value, str):
        omitted.append(f"{where} (text cut at {max(0, budget - 16)} of {len(value)} characters)")
        return value[: max(0, budget - 16)] + " ..."
    return value


def cap_result(call: Any, result: ToolResult, limit: int) -> ToolResult:
    """Cut a result whose JSON is larger than `limit` characters (LEDGERMCP_MAX_RESULT_BYTES), with
    a note on what was left out and how to get the rest: `fields`, paging, a narrower read."""
    if result.structured is None or result.is_error:
        return result
    size = _size(result.structured)
    if size <= limit:
        return result
    from ledgermcp.server.limits import setting, size_text

    omitted: list[str] = []
    data = fit(result.structured, max(256, limit - 2048), omitted)  # room for the note
    ways = []
    if is_shapeable(call.tool):
        ways.append('pass `fields` with only the fields you need (e.g. "Name,Total")')
    if call.tool.get("kind") == "list":
        ways.append("ask for fewer items per page with the paging arguments")
    ways.append(f"or the server owner can raise {setting('max_result_bytes')}")
    note = (
        f"answer cut: {size_text(size)} of JSON is more than the {size_text(limit)} a result may carry; "
        f"to get the rest, {'; '.join(ways)}"
    )
    view = dict(data.get(VIEW_KEY) or {}) if isinstance(data, dict) else {}
    view.update(cut=True, bytes=size, limit=limit, left_out=omitted[:20], note=note)
    structured = {**(data if isinstance(data, dict) else {"items": data}), VIEW_KEY: view}
    headline = result.content[0]["text"].split("\n", 1)[0] if result.content else call.name
    text = render.json_text(f"{headline} ({note})", data)
    return ToolResult([{"type": "text", "text": text}], structured, meta=dict(result.meta))
