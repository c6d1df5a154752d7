"""The listed form of a tool: what a model needs to call it, and nothing it would read twice.

`tools/list` goes into the model's context on every turn, so the listing drops what repeats or
carries no meaning for a caller, computed once at start-up from the generated table:

- schema noise: number formats that only name a machine width (`int32`, `double`), length caps so
  large that no argument meets them, `additionalProperties: false`, `type: string` beside an enum
  of strings, empty descriptions, descriptions and titles that only repeat the name;
- `$defs` names shortened to their last word, identical definitions merged, and a definition used
  only once written in place;
- descriptions: HTML and entities turned into text; the sentences the generator adds to restate a
  hint (every tool carries all four hints, so "Adds data" says nothing new) dropped, and the
  irreversibility note shortened; sentences about the HTTP exchange or its error codes, sentences
  that only restate the tool's name ("Retrieve a single invoice." on get_invoice: such a tool
  is listed without a description) and sentences whose words all recur in a longer one dropped;
  field descriptions that only repeat the field's and the tool's names dropped;
- the tool `title` and the annotation `title`, which repeat the description's first sentence.

Kept: names, types, `required`, enums, formats that say how to write a value (`date`,
`date-time`, `uuid`, `email`, ...), bounds a caller can meet, descriptions, all four hints.
Validation never sees this form: the pipeline checks arguments against the generated schema.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# formats that only name a storage width: `type` already tells the caller what to send
WIDTH_FORMATS = frozenset({"int32", "int64", "float", "double"})
# a string cap at or above this is a storage limit no real argument reaches (addresses, remarks)
LONG_TEXT = 1000
# what the generator forbids in path values (`.` and `..` would change the path)
DOT_SEGMENTS = {"enum": [".", ".."]}
# schema keywords whose value is a schema, a list of schemas, or a map of name -> schema
_SUB_SCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
# the note the listing writes for an irreversible tool (its hints say destructive as well)
IRREVERSIBLE = "Irreversible."
_DEF_REF = re.compile(r"^#/\$defs/(.+)$")
_TAG = re.compile(r"<[^>]+>")
# "identifies the invoice" on an id argument says no more than the argument's and the tool's names
_SAYS_NOTHING = re.compile(r"^identifies the [\w ]+\.?$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# words that carry no meaning of their own in a field's description ("filter by zip code")
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "by",
        "for",
        "to",
        "in",
        "on",
        "is",
        "are",
        "or",
        "and",
        "filter",
        "filters",
        "array",
        "list",
        "value",
        "values",
        "field",
        "given",
        "specific",
        "which",
        "this",
        "that",
        "number",
        "id",
        "ids",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")


def _says_only(text: str, names: str, filler: frozenset[str] = _FILLER) -> bool:
    """True when every meaningful word of `text` is already part of `names`."""
    squashed = re.sub(r"[^a-z0-9]", "", names.lower())
    words = [w for w in _WORD.findall(text.lower()) if w not in filler]
    # plurals ("ids" against "Ids", "deliveries" against "delivery"): compare the stem as well
    return bool(words) and all(
        w in squashed or w.rstrip("s") in squashed or (w.endswith("ies") and w[:-3] + "y" in squashed)
        for w in words
    )


def _repeats_name(description: str, name: str, context: str = "") -> bool:
    """True when every meaningful word of the description is already part of the field's name or
    of the tool's (`context`): `zipcode` "filter by zip code", `projectIds` "An array of project
    IDs", `id` of get_warehouse_purchaseorder "Purchase order id."."""
    return _says_only(description, name + context)


# --- schemas ------------------------------------------------------------------------------


def _clean_node(node: Mapping[str, Any], name: str | None, context: str = "") -> dict[str, Any]:
    """One schema node without its noise; `context` is the tool's name (see `_repeats_name`)."""
    out: dict[str, Any] = {}
    enum = node.get("enum")
    # an enum of strings already says the type
    typed_by_enum = isinstance(enum, list) and bool(enum) and all(isinstance(v, str) for v in enum)
    for key, value in node.items():
        if key == "type" and value == "string" and typed_by_enum:
            continue
        if key == "format" and value in WIDTH_FORMATS:
            continue
        if key == "maxLength" and isinstance(value, int) and value >= LONG_TEXT:
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "minLength" and value == 1 and node.get("type") == "string":
            continue  # "not empty": no model sends an empty id or name on purpose
        if key == "not" and value == DOT_SEGMENTS:
            continue  # a guard for path values, enforced at validation; a model never sends these
        if key in ("description", "title") and not (isinstance(value, str) and value.strip()):
            continue
        if key == "title" and name is not None and value.replace(" ", "").lower() == name.lower():
            continue
        if key == "description":
            value = field_description(value)
            if _SAYS_NOTHING.match(value) or (name is not None and _repeats_name(value, name, context)):
                continue
        if key in _SUB_SCHEMA and isinstance(value, Mapping):
            value = _clean_node(value, None, context)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            value = [_clean_node(v, None, context) if isinstance(v, Mapping) else v for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            value = {
                k: _clean_node(v, k if key != "$defs" else None, context) if isinstance(v, Mapping) else v
                for k, v in value.items()
            }
        out[key] = value
    return out


def _refs(node: Any, found: dict[str, int]) -> None:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            m = _DEF_REF.match(ref)
            if m:
                found[m.group(1)] = found.get(m.group(1), 0) + 1
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _rewrite_refs(node: Any, rename: Mapping[str, str], inline: Mapping[str, Any]) -> Any:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        m = _DEF_REF.match(ref) if isinstance(ref, str) else None
        if m:
            target = rename.get(m.group(1), m.group(1))
            if target in inline:
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**_rewrite_refs(inline[target], rename, inline), **rest}
            return {**node, "$ref": f"#/$defs/{target}"}
        return {k: _rewrite_refs(v, rename, inline) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v, rename, inline) for v in node]
    return node


def _short_name(name: str) -> str:
    return name.rsplit("_", 1)[-1] or name


def _compact_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """Merge identical definitions, shorten their names, write single-use ones in place."""
    defs: dict[str, Any] = schema.get("$defs") or {}
    if not defs:
        return schema
    # identical content -> one definition (first name wins)
    by_content: dict[str, str] = {}
    rename: dict[str, str] = {}
    for name, body in defs.items():
        key = json.dumps(body, sort_keys=True)
        rename[name] = by_content.setdefault(key, name)
    kept = [n for n in defs if rename[n] == n]
    # shorter names, unique within this schema
    short: dict[str, str] = {}
    taken: set[str] = set()
    for name in kept:
        base = _short_name(name)
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}{i}", i + 1
        taken.add(candidate)
        short[name] = candidate
    rename = {old: short[new] for old, new in rename.items()}
    bodies = {short[n]: defs[n] for n in kept}
    # count references after merging; a definition that refers to itself stays a definition
    counts: dict[str, int] = {}
    _refs({k: v for k, v in schema.items() if k != "$defs"}, counts)
    for body in defs.values():
        _refs(body, counts)
    merged_counts: dict[str, int] = {}
    for old, n in counts.items():
        merged_counts[rename.get(old, old)] = merged_counts.get(rename.get(old, old), 0) + n
    inline: dict[str, Any] = {}
    for name, body in bodies.items():
        own: dict[str, int] = {}
        _refs(body, own)
        if merged_counts.get(name, 0) == 1 and not own:
            inline[name] = body
    out = _rewrite_refs({k: v for k, v in schema.items() if k != "$defs"}, rename, inline)
    left = {n: _rewrite_refs(b, rename, inline) for n, b in bodies.items() if n not in inline}
    if left:
        out["$defs"] = left
    return out


def compact_schema(schema: Mapping[str, Any], tool_name: str = "") -> dict[str, Any]:
    """The listed form of an input schema (see the module docstring)."""
    return _compact_defs(_clean_node(schema, None, tool_name))


# --- descriptions -------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Markup out, entities decoded, whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()


# Sentences about the HTTP exchange rather than the operation: that the endpoint does what the
# summary already said, what comes back, that errors are possible. The tool result and its error
# codes say all of that; the list/get split says which call returns one record.
_EXCHANGE_SENTENCES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:an|this) endpoint (?:for|to) \w+ (?:an?|the|one|all|new) [\w ]+\.$",
        r"^the [\w ]+ (?:register|resource) can return a list of records or a single record\.$",
        r"^by specifying an? \w+ in the url, a single record will be returned\.$",
        r"^not specifying an? \w+ will return a list of records\.$",
        r"^if everything succeeded,? the response will be [^.]*\.$",
        r"^if there (?:was|were) any problems,? an error will be returned\.$",
        r"^the (?:updated|created) [\w ]+ will be returned if everything succeeded, if there (?:was|were) any "
        r"problems an error will be returned\.$",
        r"^this endpoint can produce errors[^.]*\.$",
        r"^response property descriptions:.*$",
        # error lists: a failed call answers with the vendor's code and message anyway
        r"^the following error codes (?:might|may|can|will) be (?:thrown|returned).*$",
        r"^http code \d{3}\b.*$",
    )
)
# what a summary says with other words than the tool's name: its verb and generic qualifiers
_TOOL_FILLER = _FILLER | frozenset(
    [
        "retrieve",
        "retrieves",
        "get",
        "gets",
        "fetch",
        "fetches",
        "list",
        "lists",
        "create",
        "creates",
        "add",
        "adds",
        "new",
        "update",
        "updates",
        "delete",
        "deletes",
        "remove",
        "removes",
        "single",
        "existing",
        "one",
        "all",
    ]
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# a field's description beyond this is vendor prose; the first sentence carries the meaning
FIELD_DESCRIPTION_CHARS = 120


def compact_description(description: str, vendor_title: str) -> str:
    text = clean_text(description)
    sentences = _SENTENCE_END.split(_SPACE.sub(" ", text).strip())
    kept = sentences[:1] + [s for s in sentences[1:] if not any(p.match(s) for p in _EXCHANGE_SENTENCES)]
    return " ".join(kept).strip()


def _content_words(sentence: str) -> set[str]:
    return {w for w in _WORD.findall(sentence.lower()) if w not in _TOOL_FILLER}


def without_repetition(description: str, tool_name: str) -> str:
    """The description without sentences that say nothing the reader does not already have:
    one that only restates the tool's name ("Retrieve a single invoice." on get_invoice), and one
    whose words all recur in a longer sentence ("Get stock point." before "Get stock point by id
    or code."). May return "" (the name says it all)."""
    sentences = [s for s in _SENTENCE_END.split(description) if s]
    words = [_content_words(s) for s in sentences]
    kept = []
    for i, sentence in enumerate(sentences):
        if sentence != IRREVERSIBLE:
            if _says_only(sentence, tool_name, _TOOL_FILLER):
                continue
            if any(
                j != i and words[i] <= words[j] and (len(sentences[j]) > len(sentence) or j < i)
                for j in range(len(sentences))
            ):
                continue
        kept.append(sentence)
    return " ".join(kept)


def field_description(text: str) -> str:
    """A field's description: its first sentence, at most FIELD_DESCRIPTION_CHARS."""
    first = _SENTENCE_END.split(clean_text(text), 1)[0]
    if len(first) <= FIELD_DESCRIPTION_CHARS:
        return first
    return first[:FIELD_DESCRIPTION_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# --- tools --------------------------------------------------------------------------------


def compact_tool(
    wire: Mapping[str, Any], vendor_title: str, facts: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One wire tool (server/toolspec.py `wire_tool`) in its listed form; `facts` are the table's
    facts of the operation: an irreversible action says so in one word (a delete says it itself)."""
    out: dict[str, Any] = {"name": wire["name"]}
    description = compact_description(str(wire.get("description") or ""), vendor_title)
    if facts and facts.get("irreversible") and facts.get("effect") != "delete":
        description = f"{description} {IRREVERSIBLE}".strip()
    title = str(wire.get("title") or "")
    if title and not description.lower().startswith(title.rstrip(".").lower()):
        # the description no longer opens with the summary: keep it there, where models read
        description = f"{title.rstrip('.')}. {description}".strip()
    description = without_repetition(description, str(wire["name"]))
    if description:
        out["description"] = description
    out["inputSchema"] = compact_schema(wire["inputSchema"], str(wire["name"]))
    out["annotations"] = {k: v for k, v in wire["annotations"].items() if k != "title"}
    for key in ("outputSchema",):
        if key in wire:
            out[key] = wire[key]
    return out


# --- fields shared between listed tools ---------------------------------------------------

# below this many bytes of shared field schemas a pointer to another tool saves too little
SHARED_MIN_BYTES = 300
# a donor may have at most this many fields the borrowing tool does not take (they get named)
SHARED_MAX_MISSING = 3


def share_fields(tools: list[dict[str, Any]], keep: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Write each body once per listing: a tool whose optional fields repeat, with identical
    schemas, those of another tool (an update those of its create) lists only its own fields and
    says whose it also takes. Creates are considered first, then the rest in listing order; the
    donor is always in the same listing and always listed in full, so the pointer never dangles
    and never chains. Tools with `$defs` share only with tools whose `$defs` are identical (a
    field's `$ref` then means the same), and keep only the definitions their own fields still use.
    Arguments named in `keep` (the runtime's own, such as `fields`) always stay listed where they
    are. Returns new tool dicts where something changed; the input is unchanged."""
    kept = set(keep)
    # one serialisation per property: identity of field schemas is compared as text
    fields: list[dict[str, str]] = []
    defs_text: list[str] = []
    for tool in tools:
        props = tool["inputSchema"].get("properties") or {}
        fields.append({k: json.dumps(v, sort_keys=True, separators=(",", ":")) for k, v in props.items()})
        defs = tool["inputSchema"].get("$defs")
        defs_text.append(json.dumps(defs, sort_keys=True, separators=(",", ":")) if defs else "")
    # (name, schema text, $defs text) -> the donors that have exactly that field
    holders: dict[tuple[str, str, str], list[int]] = {}
    out: list[dict[str, Any]] = list(tools)
    # creates are the natural owners of an entity's fields: they donate first, whatever the names
    for i in sorted(range(len(tools)), key=lambda i: (not str(tools[i]["name"]).startswith("create_"), i)):
        schema = tools[i]["inputSchema"]
        best: tuple[int, int, list[str]] | None = None
        if sum(map(len, fields[i].values())) >= SHARED_MIN_BYTES:
            required = _required_names(schema) | kept
            shared_with: dict[int, list[str]] = {}
            for k, text in fields[i].items():
                if k not in required:
                    for d in holders.get((k, text, defs_text[i]), ()):
                        shared_with.setdefault(d, []).append(k)
            for d, shared in shared_with.items():
                size = sum(len(fields[i][k]) + len(k) for k in shared)
                if size < SHARED_MIN_BYTES or (best is not None and size <= best[0]):
                    continue
                if sum(1 for k in fields[d] if k not in fields[i]) <= SHARED_MAX_MISSING:
                    best = (size, d, shared)
        if best is None:
            for k, text in fields[i].items():
                holders.setdefault((k, text, defs_text[i]), []).append(i)
            continue
        _, d, shared = best
        tool, donor = tools[i], str(tools[d]["name"])
        missing = [k for k in fields[d] if k not in fields[i]]
        props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in shared}
        note = f"Other fields: as {donor}'s" + (f" except {', '.join(missing)}" if missing else "")
        note += ", all optional."
        description = f"{tool.get('description', '')} {note}".strip()
        # description right after the name, where it was or would have been
        out[i] = {
            "name": tool["name"],
            "description": description,
            **{k: v for k, v in tool.items() if k not in ("name", "description")},
            "inputSchema": _with_used_defs({**schema, "properties": props}),
        }
    return out


def _required_names(schema: Mapping[str, Any]) -> set[str]:
    """Fields required always or under a condition (`if`/`then`/`else`): never "all optional"."""
    names = set(schema.get("required") or ())
    for key in ("then", "else"):
        branch = schema.get(key)
        if isinstance(branch, Mapping):
            names |= set(branch.get("required") or ())
    return names


def _with_used_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with only the `$defs` its other keywords still reach (directly or through others)."""
    defs: Mapping[str, Any] = schema.get("$defs") or {}
    if not defs:
        return schema
    used: dict[str, int] = {}
    _refs({k: v for k, v in schema.items() if k != "$defs"}, used)
    reached, todo = set(), [n for n in used if n in defs]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            inner: dict[str, int] = {}
            _refs(defs[name], inner)
            todo.extend(n for n in inner if n in defs)
    out = {k: v for k, v in schema.items() if k != "$defs"}
    if reached:
        out["$defs"] = {n: b for n, b in defs.items() if n in reached}
    return out
