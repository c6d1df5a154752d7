"""Diagnostics: every fix or doubt the generator has about a spec, returned as a value."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    INFO = 10  # a normalisation applied; output is as the vendor meant it
    WARNING = 20  # something was guessed or dropped; a human should look
    ERROR = 30  # generation cannot produce a correct result


@dataclass(frozen=True, order=True)
class Diagnostic:
    severity: Severity
    code: str  # stable, kebab-case, e.g. "int-response-code"
    message: str
    where: str = ""  # JSON pointer or "METHOD /path"

    def render(self) -> str:
        place = f" at {self.where}" if self.where else ""
        return f"{self.severity.name.lower()}[{self.code}]{place}: {self.message}"


class GenerationError(Exception):
    """A problem that stops generation; its message says what is wrong and how to fix it."""
