"""Valid tool arguments from a tool's input schema, deterministically.

Each tool gets a few argument sets ("variants"), always the same for the same schema and seed:

    required  only the required arguments, plain values
    full      every optional argument too (nested objects and arrays filled), tricky strings
    mixed     each optional argument with probability 1/2, values drawn at random (then more
              `mixed` sets, each with its own random stream)

Tricky strings carry what breaks naive request building: reserved URL characters (`/ ? # & = +
%`), dot segments, quotes, non-ASCII letters, an emoji, whitespace. Every value respects the
schema's types, formats, enums, lengths, bounds, item counts and patterns; `check_valid` verifies
a set against the schema (with format checks), so a generator mistake is never blamed on the
code under test.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

VARIANTS = ("required", "full", "mixed")
MAX_DEPTH = 4  # nested objects below this get only their required properties

TRICKY_STRINGS = (
    "",
    "Örebro & Söner AB",
    "a/b?c=d#e",
    "50% off; 'single' \"double\"",
    "plus+sign, comma; colon:",
    "€ 1 000,50",
    "kvitto 🧾 nr 7",
    "..",
    ".",
    "back\\slash <tag>",
    "  leading and trailing  ",
    "line\nbreak",
    "Zürich-Straße 12",
)
PLAIN_WORDS = ("alpha", "Beta", "gamma7", "delta-9", "Epsilon_2", "zeta")


def seed_for(*parts: object) -> int:
    """A stable integer seed (Python's `hash` of a string changes between runs)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def variant_name(index: int) -> str:
    return VARIANTS[min(index, len(VARIANTS) - 1)]


def argument_sets(tool: Mapping[str, Any], count: int = 3, *, seed: int = 0) -> list[dict[str, Any]]:
    """`count` argument sets for `tool` (variants in the order of VARIANTS, then more `mixed`)."""
    schema = tool["input_schema"]
    out = []
    for index in range(count):
        rng = random.Random(seed_for(seed, tool["name"], index))
        maker = ValueMaker(schema, rng, variant_name(index))
        out.append(maker.value(schema, depth=0))
    return out


class ValueMaker:
    """Draws one value for a schema node; `mode` is one of VARIANTS."""

    def __init__(self, root: Mapping[str, Any], rng: random.Random, mode: str) -> None:
        self.defs: Mapping[str, Any] = root.get("$defs") or {}
        self.rng = rng
        self.mode = mode

    # --- dispatch --------------------------------------------------------------------------

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/$defs/"):
                raise ValueError(f"cannot follow $ref {ref!r}")
            seen.add(ref)
            node = self.defs[ref[len("#/$defs/") :]]
        return node

    def value(self, node: Mapping[str, Any], depth: int) -> Any:
        node = self.resolve(node)
        if "not" in node:  # draw until the value is not what `not` excludes
            from jsonschema import Draft202012Validator

            excluded = Draft202012Validator(node["not"])
            rest = {k: v for k, v in node.items() if k != "not"}
            for _ in range(50):
                candidate = self.value(rest, depth)
                if not excluded.is_valid(candidate):
                    return candidate
            raise ValueError(f"no value found outside {node['not']}")
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            options = [v for v in node["enum"] if v is not None] or list(node["enum"])
            return options[0] if self.mode == "required" else self.rng.choice(options)
        for key in ("oneOf", "anyOf"):
            if node.get(key):
                return self.value(self.rng.choice(node[key]), depth)
        if node.get("allOf"):
            return self.value(self._merge_all_of(node), depth)
        kind = node.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            if not kinds or (self.mode == "mixed" and "null" in kind and self.rng.random() < 0.1):
                return None
            kind = kinds[0] if self.mode == "required" else self.rng.choice(kinds)
        if kind is None:
            kind = "object" if "properties" in node else "string"
        make = getattr(self, f"make_{kind}", None)
        if make is None:
            raise ValueError(f"unsupported schema type {kind!r}")
        return make(node, depth)

    def _merge_all_of(self, node: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        for part in node["allOf"]:
            part = self.resolve(part)
            for key, value in part.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged

    # --- one maker per JSON type ------------------------------------------------------------

    def make_object(self, node: Mapping[str, Any], depth: int) -> dict[str, Any]:
        props: Mapping[str, Any] = node.get("properties") or {}
        required = set(node.get("required") or [])
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name not in required and not self._include_optional(depth):
                continue
            out[name] = self.value(sub, depth + 1)
        extra = node.get("additionalProperties")
        if not props and isinstance(extra, Mapping) and extra and self.mode != "required":
            out["key_1"] = self.value(extra, depth + 1)
        if "if" in node:  # a conditional requirement (e.g. required fields of an optional body)
            from jsonschema import Draft202012Validator

            branch = node.get("then") if Draft202012Validator(node["if"]).is_valid(out) else node.get("else")
            for name in (branch or {}).get("required", []):
                if name not in out and name in props:
                    out[name] = self.value(props[name], depth + 1)
        return out

    def _include_optional(self, depth: int) -> bool:
        if self.mode == "required" or depth >= MAX_DEPTH:
            return False
        if self.mode == "full":
            return True
        return self.rng.random() < 0.5

    def make_array(self, node: Mapping[str, Any], depth: int) -> list[Any]:
        low = int(node.get("minItems", 0))
        high = int(node.get("maxItems", low + 3))
        if self.mode == "required":
            count = max(low, 1) if depth == 0 else low
        elif self.mode == "full":
            count = min(max(low, 2), high)
        else:
            count = self.rng.randint(low, min(high, low + 3))
        count = min(count, high)
        items = node.get("items") or {"type": "string"}
        values = [self.value(items, depth + 1) for _ in range(count)]
        if node.get("uniqueItems"):
            unique: list[Any] = []
            for v in values:
                if v not in unique:
                    unique.append(v)
            values = unique
        return values

    def make_boolean(self, node: Mapping[str, Any], depth: int) -> bool:
        return True if self.mode == "required" else self.rng.random() < 0.5

    def make_null(self, node: Mapping[str, Any], depth: int) -> None:
        return None

    def make_integer(self, node: Mapping[str, Any], depth: int) -> int:
        low, high = self._bounds(node, integer=True)
        if self.mode == "required":
            value = max(low, min(high, 1))
        else:
            edge = self.rng.random()
            if edge < 0.15:
                value = low if low > -(10**6) else max(low, 0)
            elif edge < 0.3:
                value = high if high < 10**6 else min(high, 999999)
            else:
                value = self.rng.randint(max(low, -1000), max(min(high, 100000), max(low, -1000)))
        multiple = node.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            value = (value // multiple) * multiple
            if value < low:
                value += multiple
        return value

    def make_number(self, node: Mapping[str, Any], depth: int) -> float | int:
        low, high = self._bounds(node, integer=False)
        if self.mode == "required":
            return max(low, min(high, 1.5))
        lo, hi = max(low, -1000.0), min(high, 100000.0)
        if lo > hi:
            lo, hi = low, high
        value = round(self.rng.uniform(lo, hi), 2)
        return min(max(value, low), high)

    def _bounds(self, node: Mapping[str, Any], *, integer: bool) -> tuple[Any, Any]:
        fmt = node.get("format")
        if integer:
            low, high = (-(2**31), 2**31 - 1) if fmt == "int32" else (-(2**53), 2**53)
        else:
            low, high = -1e12, 1e12
        if "minimum" in node:
            low = max(low, node["minimum"])
        if "maximum" in node:
            high = min(high, node["maximum"])
        step = 1 if integer else 0.01
        if isinstance(node.get("exclusiveMinimum"), (int, float)) and not isinstance(
            node.get("exclusiveMinimum"), bool
        ):
            low = max(low, node["exclusiveMinimum"] + step)
        if isinstance(node.get("exclusiveMaximum"), (int, float)) and not isinstance(
            node.get("exclusiveMaximum"), bool
        ):
            high = min(high, node["exclusiveMaximum"] - step)
        if integer:
            low, high = math.ceil(low), math.floor(high)
        return low, high

    def make_string(self, node: Mapping[str, Any], depth: int) -> str:
        if node.get("contentEncoding") == "base64":
            return base64.b64encode(b"%PDF-1.4 conformance " + self.rng.randbytes(12)).decode()
        fmt = node.get("format")
        maker = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if maker is not None:
            return maker(self.rng)
        if isinstance(node.get("pattern"), str):
            text = RegexSampler(node["pattern"], self.rng).sample()
            return _fit_length(text, node, self.rng, pad="0")
        if self.mode == "required":
            text = f"{self.rng.choice(PLAIN_WORDS)}{self.rng.randint(1, 999)}"
        elif self.mode == "full" or self.rng.random() < 0.5:
            text = self.rng.choice(TRICKY_STRINGS)
        else:
            text = f"{self.rng.choice(PLAIN_WORDS)} {self.rng.choice(TRICKY_STRINGS)}"
        return _fit_length(text, node, self.rng)


def _fit_length(text: str, node: Mapping[str, Any], rng: random.Random, pad: str = "x") -> str:
    low = int(node.get("minLength", 0))
    high = node.get("maxLength")
    if high is not None:
        text = text[: int(high)]
    if len(text) < low:
        text += pad * (low - len(text))
    return text


def _date(rng: random.Random) -> str:
    return (dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 30))).isoformat()


def _date_time(rng: random.Random) -> str:
    moment = dt.datetime(2000, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 30 * 365 * 86400))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FORMATS = {
    "date": _date,
    "date-time": _date_time,
    "uuid": _uuid,
    "email": lambda rng: f"user{rng.randint(1, 999)}@example.com",
    "uri": lambda rng: f"https://example.com/doc/{rng.randint(1, 999)}",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
}


class RegexSampler:
    """A string that fully matches a (JavaScript-compatible) regular expression.

    Covers what API descriptions use: literals, classes, alternation, groups, repeats, anchors.
    `\\d` and `\\w` give ASCII characters, as JavaScript's do."""

    MAX_REPEAT = 4

    def __init__(self, pattern: str, rng: random.Random) -> None:
        import re._parser as parser  # the standard library's own regex parser

        self.parser = parser
        self.constants = re._constants
        self.tree = parser.parse(pattern)
        self.rng = rng
        self.pattern = pattern

    def sample(self) -> str:
        text = self._emit(self.tree)
        if not re.search(self.pattern, text):
            raise ValueError(f"could not sample pattern {self.pattern!r}")
        return text

    def _emit(self, items: Any) -> str:
        return "".join(self._one(op, arg) for op, arg in items)

    def _one(self, op: Any, arg: Any) -> str:
        c = self.constants
        if op == c.LITERAL:
            return chr(arg)
        if op == c.ANY:
            return self.rng.choice("abcXYZ019")
        if op == c.IN:
            return self._from_class(arg)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, sub = arg
            high = min(high, low + self.MAX_REPEAT) if high != c.MAXREPEAT else low + self.MAX_REPEAT
            return "".join(self._emit(sub) for _ in range(self.rng.randint(low, high)))
        if op == c.BRANCH:
            return self._emit(self.rng.choice(arg[1]))
        if op == c.SUBPATTERN:
            return self._emit(arg[-1])
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return ""
        raise ValueError(f"regex construct {op} not supported")

    def _from_class(self, items: Any) -> str:
        c = self.constants
        choices: list[str] = []
        for op, arg in items:
            if op == c.NEGATE:
                raise ValueError("negated character classes are not supported")
            if op == c.LITERAL:
                choices.append(chr(arg))
            elif op == c.RANGE:
                low, high = arg
                choices.extend(chr(x) for x in range(low, min(high, low + 60) + 1))
            elif op == c.CATEGORY:
                choices.extend(_CATEGORY_CHARS[str(arg)])
        return self.rng.choice(choices)


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": "abcxyzABC019_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "abcX-",
    "CATEGORY_NOT_WORD": "-. ",
    "CATEGORY_NOT_SPACE": "abc019",
}


def check_valid(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Problems of `arguments` against `schema` (formats included); empty when valid."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(dict(arguments))
    ]
