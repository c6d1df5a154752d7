"""Tool names: `verb_noun` snake_case, unique, at most 64 characters, never `list_2`.

A name comes from the overlay when it gives one; else from a good operationId (vendors whose ids
read well, like smallinvoice's `sendInvoiceByEMail`); else from the method and the path:

    GET  /3/invoices                          -> list_invoices
    POST /3/invoices                          -> create_invoice
    GET  /3/invoices/{DocumentNumber}         -> get_invoice
    PUT  /3/invoices/{DocumentNumber}/bookkeep -> bookkeep_invoice
    GET  /contacts/{contactId}/accounts       -> list_contact_accounts
"""

from __future__ import annotations

import re

MAX_NAME = 64
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NUMBERED = re.compile(r"(^\d)|(_\d+$)|(^\d+_)")

# Verbs that name an action when they start a path segment ("createinvoice", "send-by-email").
ACTION_VERBS = (
    "bookkeep",
    "cancel",
    "credit",
    "send",
    "email",
    "eprint",
    "einvoice",
    "print",
    "externalprint",
    "finish",
    "finalize",
    "finalise",
    "pay",
    "submit",
    "release",
    "approve",
    "reject",
    "preview",
    "validate",
    "copy",
    "duplicate",
    "convert",
    "assign",
    "unassign",
    "create",
    "change",
    "sell",
    "scrap",
    "depreciate",
    "writedown",
    "writeup",
    "warehouseready",
    "void",
    "reopen",
    "close",
    "lock",
    "unlock",
    "activate",
    "deactivate",
    "restore",
    "archive",
    "upload",
    "download",
    "import",
    "export",
    "mark",
    "accept",
    "decline",
    "revert",
    "set",
    "calculate",
    "check",
    "resend",
    "start",
    "stop",
    "complete",
    "confirm",
    "book",
    "attach",
    "detach",
    "move",
    "rename",
    "search",
)
METHOD_VERB = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
# Version and date segments ("v2", "3", "2010-04-01"), file suffixes ("Messages.json") and format
# placeholders ("Calls.{format}") say how the API is served, not what a tool does.
VERSION_SEGMENT = re.compile(r"^(v\d+(\.\d+)*|\d+|\d{4}-\d{2}-\d{2})$", re.IGNORECASE)
VERSION_SUFFIX = re.compile(r"-v\d+$")
FILE_SUFFIX = re.compile(r"\.(json|xml|yaml|\{[^}]*\})$", re.IGNORECASE)
API_PREFIXES = ("api", "rest")


def snake(text: str) -> str:
    """camelCase, kebab-case, spaces and dots -> snake_case; only [a-z0-9_]."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def vendor_name_of_file(file_name: str) -> str:
    """The vendor name a description file gives when none is chosen:
    `xero-accounting.openapi.yaml` -> `xero_accounting` (variables `LEDGERMCP_XERO_ACCOUNTING_*`)."""
    return snake(file_name.split(".", 1)[0]) or "api"


def singular(word: str) -> str:
    """English singular for the plural forms API paths use."""
    for plural, single in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(plural) and len(word) > len(plural) + 1:
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def path_segments(path: str, strip_prefixes: list[str]) -> list[str]:
    for prefix in sorted(strip_prefixes, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            path = path[len(prefix.rstrip("/")) :]
            break
    segments = []
    for seg in path.strip("/").split("/"):
        seg = FILE_SUFFIX.sub("", seg)
        if not seg or VERSION_SEGMENT.match(seg) or (not segments and seg.lower() in API_PREFIXES):
            continue
        segments.append((is_param(seg) and seg) or VERSION_SUFFIX.sub("", seg))
    return segments


# Verbs that may be glued to their object in one segment ("createinvoice", "sendpurchaseorders").
GLUED_VERBS = ("create", "send", "change", "print", "validate")


def split_action(segment: str) -> tuple[str, str] | None:
    """'send-by-email' -> ('send', 'by_email'); 'createinvoice' -> ('create', 'invoice')."""
    word = snake(segment)
    for verb in sorted(ACTION_VERBS, key=len, reverse=True):
        if word == verb or word.startswith(verb + "_"):
            return verb, word[len(verb) + 1 :]
    for verb in GLUED_VERBS:
        if word.startswith(verb) and len(word) >= len(verb) + 2:
            return verb, word[len(verb) :]
    return None


# The verb a name takes when the path ends in an id or a collection, by effect.
EFFECT_VERB = {"read": "get", "export": "get", "create": "create", "update": "update", "delete": "delete"}


def name_from_path(
    method: str,
    path: str,
    *,
    strip_prefixes: list[str],
    has_children: bool,
    effect: str | None = None,
    verb: str | None = None,
) -> str:
    """Derive `verb_noun` from the method, the path shape and the operation's effect.

    `has_children` says whether another operation lives under `path/{id}`: then a GET on `path`
    lists a collection even when its last segment is not plural. An action is the last static
    segment when it starts with a verb ("bookkeep", "send-by-email", "sell/{id}"), or any last
    static segment after an id that a non-GET request targets and that has no items of its own.
    A read's segment names an action only with a reading verb ("preview", "print"): otherwise
    "credit_reversals" and "PayTemplates" are nouns. A POST to an item that updates it is an
    `update_`, and a DELETE of an action segment ("DELETE .../lock") deletes that sub-resource.
    """
    segments = path_segments(path, strip_prefixes)
    statics = [i for i, s in enumerate(segments) if not is_param(s)]
    base_verb = EFFECT_VERB.get(effect or "") or METHOD_VERB.get(method, method.lower())
    if not statics:
        return f"{base_verb}_root"
    last = statics[-1]
    reading = effect in ("read", "export")
    action = split_action(segments[last]) if last > 0 and not has_children else None
    if action is not None and reading and _effect_of_verb(action[0]) not in ("read", "export"):
        action = None
    trailing_after_id = last > 0 and is_param(segments[last - 1]) and last == len(segments) - 1
    # a plural noun after an id that the operation adds to is a sub-collection, not an action
    adds_to = (
        method == "POST" and effect in ("send", "money", "ledger") and snake(segments[last]).endswith("s")
    )
    if (
        action is None
        and trailing_after_id
        and method != "GET"
        and not has_children
        and not reading
        and not adds_to
    ):
        word, _, rest = snake(segments[last]).partition("_")
        action = (word, rest)
    if action is not None and method == "DELETE":
        nouns = _singular_all([snake(segments[i]) for i in statics[:-1]])
        return _join(["delete", *nouns, snake(segments[last])])
    if action is not None:
        word, rest = action
        nouns = _singular_all([snake(segments[i]) for i in statics[:-1]])
        return _join([word, *nouns, rest])
    nouns = [snake(segments[i]) for i in statics]
    if is_param(segments[-1]):
        return _join([base_verb, *_singular_all(nouns)])
    if method == "GET":
        if has_children or nouns[-1].endswith("s"):
            return _join(["list", *_singular_all(nouns[:-1]), nouns[-1]])
        return _join(["get", *_singular_all(nouns)])
    if verb == "upsert":  # "updates or creates" the records the body names
        return _join(["upsert", *nouns])
    if effect in ("update", "delete"):  # a POST or PUT on a collection that changes its records
        return _join([effect, *nouns])
    if method == "POST" or effect == "create":
        return _join(["create", *_singular_all(nouns)])
    return _join([METHOD_VERB.get(method, method.lower()), *nouns])


def _effect_of_verb(word: str) -> str | None:
    from ledgermcp.codegen.effects import VERBS, lookup

    base = lookup(word)
    return VERBS.get(base) if base else None


# Synonyms an operationId may use for the verbs the effect names.
VERB_SYNONYMS = {
    "create": ("store", "new", "insert"),
    "get": ("show", "retrieve", "fetch"),
}


def effect_verb(name: str, effect: str) -> str:
    """`store_client` -> `create_client` when the operation creates: the name's verb says what the
    tool does, in the same words for every vendor."""
    verb, _, rest = name.partition("_")
    want = EFFECT_VERB.get(effect)
    if not rest or want is None or verb == want or verb == "list":
        return name
    if verb in VERB_SYNONYMS.get(want, ()):
        return f"{want}_{rest}"
    return name


def _singular_all(nouns: list[str]) -> list[str]:
    return ["_".join(singular(w) for w in n.split("_")) for n in nouns]


def _join(parts: list[str]) -> str:
    """Join name parts, dropping repeated words; a number sticks to the word before it
    (`sie-4` -> `sie4`), so a derived name never ends in `_<digits>`."""
    words: list[str] = []
    for part in parts:
        for word in part.split("_"):
            if word.isdigit() and words:
                words[-1] += word
            elif word and (not words or words[-1] != word):
                words.append(word)
    return "_".join(words)


def name_from_operation_id(operation_id: str) -> str | None:
    """snake_case the operationId when it reads as `verb_noun`; None when it is a poor name."""
    name = snake(operation_id)
    if not name or NUMBERED.search(name) or "_" not in name:
        return None
    return name


def shorten(name: str) -> str:
    """Fit a name into 64 characters by dropping middle words, keeping verb and last noun."""
    if len(name) <= MAX_NAME:
        return name
    words = name.split("_")
    while len("_".join(words)) > MAX_NAME and len(words) > 2:
        del words[len(words) // 2]
    return "_".join(words)[:MAX_NAME].rstrip("_")


def valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name)) and len(name) <= MAX_NAME and not NUMBERED.search(name)
