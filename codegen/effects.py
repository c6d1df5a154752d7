"""What an operation does: one effect per operation, and every safety fact derived from it.

The effect is decided once, from all the evidence a description offers (docs/effects.md):

- what the description *states*: the first verb of the summary and of the operationId
  ("Send an invoice as email", `bookkeep_1`, `updateOrCreateContacts`);
- what the path *implies*: an action segment after an item or a collection (`/invoices/{id}/credit`),
  an `{action}` placeholder and the actions its description lists, the noun a create makes
  (`/vouchers`, `/charges`, `/messages`);
- sentences of the description that say what happens ("will be locked and bookkept");
- the method and the path shape (collection, item, action), which decide only when nothing else does;
- spec extensions and the overlay, which decide outright.

Where sources disagree, the more dangerous effect wins (`DANGER`), and the decision is listed for
review. Everything the runtime needs follows from the effect in `derive`: the four MCP hints,
whether approval is asked by default, whether a failed request may be sent again, whether the
state before the write can be written back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ledgermcp.codegen.diagnostics import GenerationError
from ledgermcp.codegen.hints import Hints
from ledgermcp.codegen.naming import FILE_SUFFIX, GLUED_VERBS

EFFECTS = (
    "read", "export", "create", "update", "state", "import", "delete", "bulk", "action", "cancel",
    "ledger", "money", "send",
)  # fmt: skip
# Ascending danger: where evidence disagrees, the later one wins.
DANGER = {effect: rank for rank, effect in enumerate(EFFECTS)}
EFFECT_EXTENSION = "x-ledgermcp-effect"


@dataclass(frozen=True)
class Rule:
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    irreversible: bool


# The normal case of each effect (docs/effects.md, "What follows from the effect").
RULES = {
    "read": Rule(True, False, True, False, False),
    "export": Rule(True, False, True, False, False),
    "create": Rule(False, False, False, False, False),
    "update": Rule(False, True, True, False, False),
    "state": Rule(False, True, True, False, False),
    "import": Rule(False, True, False, False, False),
    "delete": Rule(False, True, True, False, True),
    "bulk": Rule(False, True, False, False, True),
    # an action nothing explains: every cautious answer
    "action": Rule(False, True, False, False, True),
    "cancel": Rule(False, True, False, False, True),
    "ledger": Rule(False, True, False, False, True),
    "money": Rule(False, True, False, True, True),
    "send": Rule(False, True, False, True, True),
}

# Verbs (and the nouns of actions) -> effect. A word is looked up as written, then without an
# English third-person or plural ending ("sends", "cancels", "approvals").
VERBS: dict[str, str] = {}
for _effect, _words in {
    "read": "get list retrieve retrieves fetch show find search query read view preview print download "
    "validate check calculate compute count lookup describe return returns load generate login "
    "authenticate authentication",
    "export": "export",
    "create": "create add append store new insert copy duplicate clone convert attach upload make build "
    "register",
    "update": "update set change edit modify patch replace put rename move adjust increase decrease "
    "increment decrement upsert save sort reorder render",
    "state": "mark unmark lock unlock archive unarchive restore activate deactivate enable disable reopen "
    "reset pause unpause resume stop start finish finished complete completed accept decline reject "
    "confirm assign unassign toggle warehouseready connect disconnect link unlink reactivate logout",
    "import": "import sync refresh",
    "delete": "delete remove destroy purge erase drop clear detach",
    "bulk": "bulk batch mass",
    # something happens that no word here names: cautious
    "action": "execute run trigger process claim webhook callback",
    "cancel": "cancel cancellation void credit revert reverse storno annul writeoff",
    "ledger": "book bookkeep enshrine finalize finalise approve approval post journal reconcile match "
    "unmatch close release depreciate depreciation writedown writeup scrap sell allocate",
    "money": "charge pay payout refund transfer capture withdraw disburse bill",
    "send": "send resend email mail sms notify remind deliver dispatch einvoice eprint fax invite publish "
    "share",
}.items():
    for _word in _words.split():
        VERBS[_word] = _effect

# Verbs that add or increment: the effect is as above, but a repeat adds again.
# ("save" creates or overwrites: an upsert)
NOT_REPEATABLE = frozenset({"increase", "decrease", "increment", "decrement", "upsert", "add", "save"})
# Words that start a summary without saying what it does.
FILLERS = frozenset(
    {
        "action",
        "perform",
        "performs",
        "a",
        "an",
        "the",
        "api",
        "endpoint",
        "to",
        "please",
        "this",
        "you",
        "allow",
        "allows",
        "attempt",
        "attempts",
    }
)
# Nouns that begin with a verb: "credit note" is a document, "pay template" a payroll setting.
COMPOUND_NOUNS = (
    ("credit", "note"), ("credit", "notes"), ("debit", "note"), ("debit", "notes"), ("check", "account"),
    ("check", "accounts"), ("pay", "template"), ("pay", "templates"), ("pay", "run"), ("pay", "runs"),
    ("pay", "slip"), ("pay", "slips"), ("pay", "item"), ("pay", "items"), ("print", "template"),
    ("print", "templates"), ("email", "sender"), ("email", "senders"), ("email", "template"),
    ("email", "templates"), ("send", "method"), ("transfer", "rule"),
)  # fmt: skip
REPORT_NOUN_HEADS = frozenset({"report", "reports", "statement", "statements"})
# What a create makes, when that is itself the effect: the last words of the collection.
CREATED_NOUNS: dict[str, str] = {
    "voucher": "ledger", "vouchers": "ledger", "journal": "ledger", "journals": "ledger",
    "journal_entries": "ledger", "manual_journals": "ledger", "payment": "ledger", "payments": "ledger",
    "allocation": "ledger", "allocations": "ledger", "financialyears": "ledger",
    "charge": "money", "charges": "money", "payout": "money", "payouts": "money", "refund": "money",
    "refunds": "money", "transfer": "money", "transfers": "money", "bank_transfers": "money",
    "topups": "money", "withdrawals": "money",
    "message": "send", "messages": "send", "sms": "send", "calls": "send", "call": "send",
    "faxes": "send", "emails": "send", "mails": "send", "notifications": "send", "invitations": "send",
}  # fmt: skip
# A glued segment ("invoicepayments", "supplierinvoicepayments") ends in the noun; "modesofpayments"
# is a setting about payments, not a payment.
GLUED_SUFFIXES = ("payments", "payment", "vouchers", "voucher")
# Sentences of a description that say what the operation itself does.
DESCRIPTION_SAYS = (
    (re.compile(r"\b(will be|is) (locked and )?bookkept\b|\bbookkeeping will be finali[sz]ed\b"), "ledger"),
    (re.compile(r"\bthe created vouchers?\b"), "ledger"),
    (re.compile(r"\bsends? (the|an?|this|all|given|multiple) [\w ]{0,40}?\b(to|via|by)\b"), "send"),
)
ACTION_PARAMS = frozenset({"action", "operation", "command", "verb"})
VERSION = re.compile(r"^(v\d+(\.\d+)*|\d+(\.\d+)*|\d{4}-?\d{2}-?\d{2})$", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Identifier or sentence -> lower-case words (camelCase, snake_case, kebab-case, e-mail)."""
    text = re.sub(r"\be-(mail|invoice|print)", r"e\1", text, flags=re.IGNORECASE)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]


def lookup(word: str) -> str | None:
    """The effect a verb (or action noun) names, trying its base forms."""
    for form in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else "",
                 word[:-3] + "y" if word.endswith("ies") else "", word[:-1] if word.endswith("d") else "",
                 word[:-2] if word.endswith("ed") else ""):  # fmt: skip
        if form and form in VERBS:
            return form
    return None


def _glued(word: str) -> str | None:
    """A verb written together with its object in one segment: "createinvoice", "sendpurchaseorders"
    (only the verbs paths are seen to glue, so "address" is not "add" + "ress")."""
    for verb in GLUED_VERBS:
        if word.startswith(verb) and len(word) >= len(verb) + 3:
            return verb
    return None


def _skip_compound(ws: list[str], i: int) -> int:
    """Index after a compound noun starting at i, or i when there is none ("credit note", and any
    word before "report" or "statement": "credit report")."""
    if i + 1 < len(ws) and ((ws[i], ws[i + 1]) in COMPOUND_NOUNS or ws[i + 1] in REPORT_NOUN_HEADS):
        return i + 2
    return i


def first_verb(ws: list[str], *, anywhere: bool) -> tuple[str, int] | None:
    """The first word that is a verb: the head word after fillers (a summary), or, for an
    operationId that starts with its noun (`invoiceSendBy`), the first verb anywhere."""
    i = 0
    while i < len(ws):
        if ws[i] in FILLERS or ws[i].isdigit() or (ws[i].endswith("ly") and len(ws[i]) > 4):
            i += 1
            continue
        nxt = _skip_compound(ws, i)
        if nxt != i:
            if not anywhere:
                return None
            i = nxt
            continue
        if ws[i] in ("log", "logs") and ({"out", "in"} & set(ws[i + 1 : i + 4])):
            return ("logout" if "out" in ws[i + 1 : i + 4] else "login"), i  # "Logs the user out"
        base = lookup(ws[i] + ws[i + 1]) if i + 1 < len(ws) else None  # "write down", "e mail"
        base = base or lookup(ws[i]) or _glued(ws[i])
        if base:
            return base, i
        if not anywhere:
            return None
        i += 1
    return None


@dataclass(frozen=True)
class Evidence:
    source: str  # summary, operationId, path, action parameter, created noun, description, method, ...
    effect: str
    detail: str

    def __str__(self) -> str:
        return f"{self.source}: {self.effect} ({self.detail})"


@dataclass(frozen=True)
class OperationShape:
    """What classification reads of one operation."""

    method: str
    path: str
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    has_children: bool = False  # another operation lives under path/{id}
    action_values: tuple[str, ...] = ()  # values an {action} path parameter or `action` body field takes
    flags: tuple[str, ...] = ()  # names of boolean parameters ("preventSendBy", "enshrine")
    body_fields: tuple[str, ...] = ()  # top-level request body properties
    links_existing: bool = False  # the collection under the item is a top-level collection of its own
    query_params: tuple[str, ...] = ()
    extension: Any = None  # x-ledgermcp-effect

    @property
    def statics(self) -> list[tuple[int, str]]:
        segs = [s for s in self.path.strip("/").split("/") if s]
        found = [
            (i, FILE_SUFFIX.sub("", s))
            for i, s in enumerate(segs)
            if not _is_param(s) and not VERSION.match(s)
        ]
        if found and found[0][1].lower() in ("api", "rest"):
            found = found[1:]
        return found

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.strip("/").split("/") if s]

    @property
    def targets_item(self) -> bool:
        """The path ends in an id: one existing record."""
        segs = self.segments
        return bool(segs) and _is_param(segs[-1]) and not _is_action_param(segs[-1])

    def action_segment(self) -> str | None:
        """The last static segment when it names an action rather than a resource: after an id
        with nothing under it (`/invoices/{id}/bookkeep`), a verb before the last id
        (`/assets/sell/{id}`), a verb at the end of a path nothing lives under (`/assets/depreciate`),
        or a bulk endpoint."""
        segs = self.segments
        statics = self.statics
        if not statics:
            return None
        idx, seg = statics[-1]
        ws = words(seg)
        if "bulk" in ws:
            return seg
        if len(statics) == 1 and not _is_param(segs[idx - 1] if idx else ""):
            return None  # the first resource of the path
        verb = first_verb(ws, anywhere=False)
        at_end = idx == len(segs) - 1 and not self.has_children
        before_last_id = idx == len(segs) - 2 and _is_param(segs[-1])
        plural_noun = (
            self.method.upper() == "POST" and not verb and ws[-1].endswith("s") and not ws[-1].endswith("ss")
        )
        if at_end and ((_is_param(segs[idx - 1]) and not plural_noun) or verb):
            return seg  # a plural noun after an id is a collection of the item's: /accounts/{id}/messages
        if before_last_id and verb and VERBS[verb[0]] != "read":
            return seg
        return None


def _is_param(segment: str) -> bool:
    return "{" in segment and "}" in segment


def _is_action_param(segment: str) -> bool:
    return segment.startswith("{") and segment.strip("{}").lower() in ACTION_PARAMS


@dataclass(frozen=True)
class Decision:
    """The effect of one operation, why, and what follows from it."""

    effect: str
    verb: str | None  # the action's own verb, for names (bookkeep, send, credit)
    evidence: tuple[Evidence, ...]
    repeatable: bool = True  # False: a repeat adds again (increment, upsert, append)
    open_world: bool | None = None  # a bulk call's actions decide it
    irreversible: bool | None = None
    destructive: bool | None = None  # a create whose body can also remove data
    review: str | None = None  # why a person should look at this decision
    decided_by: str = "evidence"  # evidence | extension | overlay

    def hints(self) -> Hints:
        rule = RULES[self.effect]
        return Hints(
            read_only=rule.read_only,
            destructive=rule.destructive if self.destructive is None else self.destructive,
            idempotent=rule.idempotent and self.repeatable,
            open_world=rule.open_world if self.open_world is None else self.open_world,
        )

    @property
    def is_irreversible(self) -> bool:
        return RULES[self.effect].irreversible if self.irreversible is None else self.irreversible

    def facts(self, hints: Hints, *, restore_tool: str | None) -> dict[str, Any]:
        """The tool table's facts: what the runtime reads instead of deciding again."""
        irreversible = self.is_irreversible
        return {
            "effect": self.effect,
            "irreversible": irreversible,
            # a repeat is safe to send without a person looking: only what the hints call idempotent
            "retry": hints.idempotent,
            "approval": hints.destructive,
            "restorable": bool(restore_tool) and not irreversible and self.effect in ("update", "state"),
        }


@dataclass
class _Weigh:
    """Evidence gathered for one operation."""

    found: list[Evidence] = field(default_factory=list)

    def add(self, source: str, effect: str | None, detail: str) -> None:
        if effect:
            self.found.append(Evidence(source, effect, detail))

    def of(self, *sources: str) -> list[Evidence]:
        return [e for e in self.found if e.source in sources]


METHOD_WORDS = frozenset({"post", "put", "patch"})  # an operationId's HTTP method, not a verb
PREPOSITIONS = frozenset({"from", "by", "for", "to", "with", "via", "of", "on", "in", "as", "into"})
REPORT_NOUNS = frozenset({"report", "reports", "export", "exports", "statement", "statements"})
IMPORT_NOUNS = frozenset({"import", "imports", "migration", "migrations", "sync", "synchronisation"})
# Paths of a link to another system: what is not a plain GET there pulls data in.
INTEGRATION_WORDS = frozenset({"integration", "integrations", "connector", "connectors", "sync"})
# A boolean option that stops a side effect says the operation has it unless asked not to.
PREVENTING = frozenset({"prevent", "suppress", "skip", "disable", "no", "dont", "without", "omit"})
# A boolean option named by one of these verbs makes the call do it.
ACTING_FLAGS = frozenset({"send", "enshrine", "book", "bookkeep", "finalize", "finalise", "delete", "cancel",
                          "void", "charge", "pay", "notify", "email"})  # fmt: skip


def _stated(shape: OperationShape, weigh: _Weigh) -> tuple[str | None, str | None]:
    """Effects the summary and operationId state, each with its verb. The summary explains; an
    operationId adds its head verb, and a verb further in only when the summary names none. On a
    GET the operationId counts only when the summary names no verb."""
    verb_of: dict[str, str] = {}
    for source, text in (("summary", shape.summary), ("operationId", shape.operation_id)):
        ws = words(text)
        if source == "operationId":
            if "summary" in verb_of and shape.method.upper() == "GET":
                continue
            while ws and (ws[0] in METHOD_WORDS or ws[0].isdigit()):
                ws = ws[1:]
        hit = first_verb(ws, anywhere=source == "operationId" and "summary" not in verb_of)
        if not hit:
            continue
        verb, i = hit
        rest = ws[i + 1 :]
        effect = _phrase_effect(verb, rest)
        if verb == "update" and rest[:1] == ["or"] and rest[1:2] and lookup(rest[1]) == "create":
            verb = "upsert"  # "Updates or creates", updateOrCreateContacts
        verb_of[source] = verb
        weigh.add(source, effect, f"{verb!r}")
        if rest[:1] == ["or"] and rest[1:2] and lookup(rest[1]):  # "Delete or Void an Asset"
            weigh.add(source, VERBS[lookup(rest[1]) or ""], f"{verb!r} or {rest[1]!r}")
    return verb_of.get("summary"), verb_of.get("operationId")


def _phrase_effect(verb: str, rest: list[str]) -> str:
    """The effect of a verb with the words after it: "set as sent" and "change status" change a
    state, "start an export" exports, "report payment" books one."""
    effect = VERBS[verb]
    if verb in ("set", "mark") and "as" in rest[:4]:
        effect = "state"  # "Set an invoice as sent", "mark as paid"
    elif verb == "change" and "status" in rest[:2]:
        effect = "state"
    elif verb == "report" and rest[:1] and rest[0].startswith("payment"):
        effect = "ledger"
    elif effect in ("create", "state", "action") and REPORT_NOUNS & set(rest[:5]):
        effect = "export"  # "create an export job", "start export", "run a report"
    elif effect in ("state", "action") and IMPORT_NOUNS & set(rest[:5]):
        effect = "import"  # "start the migration"
    return effect


def _action_values(shape: OperationShape, weigh: _Weigh) -> None:
    for value in shape.action_values:
        ws = words(value)
        hit = first_verb(ws, anywhere=True)
        if hit:
            weigh.add("action values", VERBS[hit[0]], value)


def _flags(shape: OperationShape, weigh: _Weigh) -> None:
    """Boolean options that reveal a side effect: `preventSendBy` (the call marks as sent unless
    told not to), `enshrine` (the call can lock what it touches in the books)."""
    for flag in shape.flags:
        ws = words(flag)
        if len(ws) > 1 and ws[0] in PREVENTING:
            hit = first_verb(ws[1:], anywhere=False)
            if hit and VERBS[hit[0]] not in ("read", "export"):
                # the call records something on what it reads unless told not to
                weigh.add("parameter", "state", f"{flag!r} turns a side effect off")
        elif ws and ws[0] in ACTING_FLAGS:
            weigh.add("parameter", VERBS[ws[0]], f"{flag!r} makes the call {ws[0]}")


def classify(shape: OperationShape) -> Decision:
    """The effect of an operation from its own evidence (the overlay is applied by `settle`)."""
    method = shape.method.upper()
    weigh = _Weigh()
    if shape.extension is not None:
        effect = str(shape.extension)
        if effect not in RULES:
            raise GenerationError(
                f"{method} {shape.path}: {EFFECT_EXTENSION} {effect!r} is not one of {', '.join(EFFECTS)}"
            )
        return Decision(
            effect, None, (Evidence("extension", effect, EFFECT_EXTENSION),), decided_by="extension"
        )

    summary_verb, opid_verb = _stated(shape, weigh)
    stated = weigh.of("summary", "operationId")
    stated_actions = [e for e in stated if e.effect not in ("read", "create", "update", "export")]

    segment = None if _under_reports(shape) else shape.action_segment()
    segment_verb = None
    if segment is not None:
        hit = first_verb(words(segment), anywhere=False)
        if hit:
            segment_verb = hit[0]
            seg_words = words(segment)
            seg_effect = "bulk" if "bulk" in seg_words else _phrase_effect(hit[0], seg_words[hit[1] + 1 :])
            counts = (
                # a GET is a read unless what it says confirms the action
                (method != "GET" or any(e.effect != "read" for e in stated) or not stated)
                # a stated action explains the segment ("Mark invoice as sent" on /sendBy)
                and not stated_actions
            )
            if counts:
                weigh.add("path", seg_effect, f"segment {segment!r}")
        elif method != "GET" and not stated:
            weigh.add("path", "action", f"segment {segment!r} names no known action")
    last_words = words(shape.statics[-1][1]) if shape.statics else []
    if method != "GET" and ("webhook" in last_words or "callback" in last_words):
        weigh.add("path", "action", "receives a webhook: what it changes is the sender's to say")
    if any(_is_action_param(s) for s in shape.segments) or shape.action_values:
        _action_values(shape, weigh)
        if not shape.action_values:
            weigh.add("action parameter", "action", "an {action} placeholder with no listed values")
    _flags(shape, weigh)

    baseline = _baseline(shape, method)
    weigh.add("method", baseline, f"{method} on a {_shape_name(shape)}")

    if method != "GET":
        text = f"{shape.summary}. {shape.description}".lower()
        for pattern, effect in DESCRIPTION_SAYS:
            m = pattern.search(text)
            if m:
                weigh.add("description", effect, repr(m.group(0)))

    decisive = [e for e in weigh.found if e.source not in ("method", "action values")]
    if weigh.of("action values") and not any(e.effect == "bulk" for e in decisive):
        decisive += weigh.of("action values")
    if method == "GET" and not [e for e in decisive if e.effect != "read"]:
        decisive = [e for e in decisive if e.effect == "read"]
    # what the description states decides between read/create/update; the method only decides
    # when nothing is stated
    pool = decisive or weigh.of("method")
    if method != "GET" and pool and all(e.effect in ("read", "export") for e in pool):
        effect = pool[0].effect  # search, preview, validate via POST
    elif all(e.effect in ("create", "update") for e in pool) and stated:
        effect = _create_or_update(stated, baseline)
    else:
        effect = max((e.effect for e in pool), key=DANGER.__getitem__)
    if method == "DELETE" and effect in ("read", "create", "update", "export"):
        effect = "delete"
    if (
        method == "DELETE"
        and effect == "delete"
        and not shape.targets_item
        and not segment
        and shape.query_params
    ):
        weigh.add("path", "bulk", "a DELETE of a collection by filter removes whatever matches then")
        effect = "bulk"

    if (
        method != "GET"
        and effect in ("read", "export")
        and any(w in INTEGRATION_WORDS for _, seg in shape.statics for w in words(seg))
    ):
        weigh.add("path", "import", "a request to a link with another system pulls its data in")
        effect = "import"
    if effect == "create" and shape.links_existing and "new" not in words(shape.summary):
        weigh.add("path", "state", "adds existing records to this one")
        effect = "state"
    if effect == "create":
        noun = _created_noun(shape)
        if noun:
            weigh.add("created noun", noun[1], noun[0])
            effect = noun[1]

    verb = _verb_for(effect, segment_verb, summary_verb, opid_verb)
    repeatable = not (
        ({summary_verb, opid_verb, segment_verb} & NOT_REPEATABLE and effect in ("update", "state"))
        # a POST to a collection that updates: the body picks the records, and what it does not
        # find it makes
        or (effect == "update" and method == "POST" and not shape.targets_item and not segment)
        # "creates or deletes", "updates or creates": a repeat may make another
        or (effect in ("update", "delete") and any(e.effect == "create" for e in stated))
    )
    open_world = irreversible = None
    destructive = None
    if effect == "bulk":
        inner = [e.effect for e in weigh.of("action values")]
        if inner:
            worst = max(inner, key=DANGER.__getitem__)
            open_world = RULES[worst].open_world
            irreversible = RULES[worst].irreversible or worst == "bulk"
        else:
            # no listed actions: nothing shows it reaches anyone; it may delete
            open_world, irreversible = False, True
    if effect == "create" and any(w in ("delete", "remove") for f in shape.body_fields for w in words(f)):
        weigh.add("request body", "update", "a body field removes existing data")
        destructive = True

    review = _review(shape, weigh, effect)
    return Decision(
        effect=effect,
        verb=verb,
        evidence=tuple(weigh.found),
        repeatable=repeatable,
        open_world=open_world,
        irreversible=irreversible,
        destructive=destructive,
        review=review,
    )


def _under_reports(shape: OperationShape) -> bool:
    """`/reports/credit`: what lives under a reports collection is a report, not an action."""
    return any(seg.lower() in REPORT_NOUNS for _, seg in shape.statics[:-1])


def _shape_name(shape: OperationShape) -> str:
    if shape.action_segment():
        return "action"
    return "item" if shape.targets_item else "collection"


def _baseline(shape: OperationShape, method: str) -> str:
    """What the method and the path shape alone suggest."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if method == "DELETE":
        return "delete"
    if _under_reports(shape):
        return "export"
    if shape.action_segment():
        return "action"
    if method == "PATCH" or shape.targets_item:
        return "update"  # a POST to an item changes it
    return "create"


def _create_or_update(stated: list[Evidence], baseline: str) -> str:
    effects = {e.effect for e in stated}
    if effects == {"create"}:
        return "create"
    if "update" in effects:
        return "update"
    return baseline


def _created_noun(shape: OperationShape) -> tuple[str, str] | None:
    """What a create makes, when that is itself the effect: `/vouchers`, `/Messages.json`,
    `/Voucher/Factory/saveVoucher` (the object of the action, up to a preposition)."""
    statics = shape.statics
    if not statics:
        return None
    segment = re.sub(r"\.[a-z]+$", "", statics[-1][1], flags=re.IGNORECASE)
    ws = words(segment)
    hit = first_verb(ws, anywhere=False) if len(ws) > 1 else None  # "charges" is a noun
    if hit:
        rest = ws[hit[1] + 1 :]
        ws = rest[: next((i for i, w in enumerate(rest) if w in PREPOSITIONS), len(rest))]
    if not ws:
        return None
    for key in ("_".join(ws), "_".join(ws[-2:]), ws[-1]):
        if key in CREATED_NOUNS:
            if key in ("transfer", "transfers") and len(ws) > 1 and ws[-2] not in ("bank", "wire", "money"):
                return None  # a stock transfer moves goods
            return segment, CREATED_NOUNS[key]
    if len(ws) >= 2 and ws[-1] in ("transaction", "transactions") and ws[-2] in ("bank", "account"):
        return segment, "ledger"  # a bank or account transaction is an entry in the books
    compact = "".join(ws)
    if "of" not in compact and compact.endswith(GLUED_SUFFIXES):
        suffix = next(s for s in GLUED_SUFFIXES if compact.endswith(s))
        return segment, CREATED_NOUNS[suffix]
    return None


def _verb_for(effect: str, segment: str | None, summary: str | None, opid: str | None) -> str | None:
    """The verb a tool name takes: the action's own word where it has one."""
    if effect == "update" and "upsert" in (summary, opid):
        return "upsert"
    if effect in ("read", "create", "update", "delete"):
        return None
    for verb in (segment, summary, opid):
        if verb and VERBS.get(verb) == effect:
            return verb
    return segment or summary or opid


def _review(shape: OperationShape, weigh: _Weigh, effect: str) -> str | None:
    effects = {e.effect for e in weigh.found if e.source != "method"}
    if effect == "action":
        return "nothing says what this action does; treated as irreversible and not repeatable"
    if len(effects) > 1:
        others = sorted(effects - {effect}, key=DANGER.__getitem__)
        return f"evidence also says {', '.join(others)}; the more cautious {effect} was taken"
    if shape.method.upper() == "GET" and effect not in ("read", "export"):
        return f"a GET that {effect}s: not read-only, not retried"
    return None


def settle(decision: Decision, overlay_effect: Any, key: str, reason: Any) -> Decision:
    """The overlay's `effect`, when it gives one, replaces the evidence's decision."""
    if overlay_effect is None:
        return decision
    effect = str(overlay_effect)
    if effect not in RULES:
        raise GenerationError(
            f"overlay [operations.{key!r}]: effect {effect!r} is not one of {', '.join(EFFECTS)}"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise GenerationError(
            f"overlay [operations.{key!r}]: an effect needs a `reason` saying what the description cannot tell"
        )
    evidence = (*decision.evidence, Evidence("overlay", effect, reason))
    return Decision(
        effect=effect,
        verb=decision.verb if VERBS.get(decision.verb or "") == effect else None,
        evidence=evidence,
        repeatable=decision.repeatable,
        decided_by="overlay",
    )
