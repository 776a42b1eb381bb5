"""Forwardable intro texts: templates with merge fields that never read "Hi ," or show a raw
placeholder, whatever is missing. Values in, values out.

The language, small enough for an admin to edit with a live preview:

    {person_first_name}        the field's value; when it is missing, the field's own fallback
                               (FIELDS: "there", "your company", ...)
    {person_first_name|folks}  the same, with this fallback instead
    [ at {person_company}]     an optional part: left out whole when a field in it is missing
    {{ }} [[ ]]                a literal brace or bracket

A value is missing when it is absent, None or blank. Values are inserted as they are (the
caller escapes for HTML); a value never introduces fields of its own. After filling in,
spaces left doubled or before punctuation by a dropped part are tidied, line by line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Every merge field, with the words that stand in when it is missing.
FIELDS: dict[str, str] = {
    "advocate_name": "a customer",
    "advocate_first_name": "a customer",
    "advocate_company": "our company",  # the texts are the advocate's to send
    "person_name": "you",
    "person_first_name": "there",
    "person_company": "your company",
    "person_title": "your role",
    "outcome": "got great results",  # what the advocate's team achieved, as a verb phrase
    "rep_name": "our account manager",
    "rep_first_name": "they",
    "product": "their software",
}

Kind = Literal["text", "field", "open", "close"]


class TemplateError(ValueError):
    """A template that cannot be used; says where (line and column, from 1) and why."""

    def __init__(self, line: int, column: int, why: str) -> None:
        self.line, self.column, self.why = line, column, why
        super().__init__(f"line {line}, column {column}: {why}")


@dataclass(frozen=True)
class _Part:
    kind: Kind
    text: str = ""  # text: the words; field: the name
    fallback: str | None = None  # field: its own fallback, if the template gives one


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[_Part, ...]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.text for p in self.parts if p.kind == "field")


_FIELD = re.compile(r"\{([^{}|]*)(?:\|([^{}]*))?\}")


def parse(source: str) -> Template:
    """The template in `source`; raises TemplateError at the first problem."""
    parts: list[_Part] = []
    text: list[str] = []
    opened_at: tuple[int, int] | None = None
    i = 0
    while i < len(source):
        two, char = source[i : i + 2], source[i]
        if two in ("{{", "}}", "[[", "]]"):
            text.append(char)
            i += 2
            continue
        if char == "{":
            match = _FIELD.match(source, i)
            if match is None:
                raise _error(source, i, "a { without its } (write {{ for a brace)")
            name, fallback = match.group(1).strip(), match.group(2)
            if name not in FIELDS:
                raise _error(source, i, f"unknown field {{{name}}}; the fields: {_names()}")
            _flush(parts, text)
            parts.append(_Part("field", name, None if fallback is None else fallback.strip()))
            i = match.end()
            continue
        if char == "}":
            raise _error(source, i, "a } without its { (write }} for a brace)")
        if char == "[":
            if opened_at is not None:
                raise _error(source, i, "an optional part cannot hold another [")
            _flush(parts, text)
            parts.append(_Part("open"))
            opened_at = _where(source, i)
        elif char == "]":
            if opened_at is None:
                raise _error(source, i, "a ] without its [ (write ]] for a bracket)")
            _flush(parts, text)
            parts.append(_Part("close"))
            opened_at = None
        else:
            text.append(char)
        i += 1
    if opened_at is not None:
        raise TemplateError(*opened_at, "a [ without its ] (write [[ for a bracket)")
    _flush(parts, text)
    return Template(source, tuple(parts))


def render(template: Template | str, values: Mapping[str, str | None]) -> str:
    """The text with `values` filled in (see the module's doc for what is missing)."""
    if isinstance(template, str):
        template = parse(template)
    given = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
    out: list[str] = []
    section: list[str] | None = None
    complete = True
    for part in template.parts:
        if part.kind == "open":
            section, complete = [], True
        elif part.kind == "close":
            if complete and section is not None:
                out.extend(section)
            section = None
        else:
            value = given.get(part.text) if part.kind == "field" else part.text
            if value is None:
                complete = False if section is not None else complete
                value = part.fallback if part.fallback is not None else FIELDS[part.text]
                if _sentence_starts("".join(out + (section or []))):
                    value = value[:1].upper() + value[1:]
            (section if section is not None else out).append(value)
    return _tidy("".join(out))


def _sentence_starts(before: str) -> bool:
    """Whether text added after `before` begins a sentence (a fallback there is capitalised:
    "Our account manager is ...", while a value is left as it was given)."""
    rest = before.rstrip(" \t")
    return not rest or rest[-1] in ".!?\n"


def with_first_names(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """`values` with each missing *_first_name taken from the matching *_name's first word."""
    out = dict(values)
    for who in ("advocate", "person", "rep"):
        first, whole = out.get(f"{who}_first_name"), out.get(f"{who}_name")
        if not (first and first.strip()) and whole and whole.strip():
            out[f"{who}_first_name"] = whole.split()[0]
    return out


_SPACES = re.compile(r"[ \t]{2,}")
_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([,.;:!?)])")
_AFTER_OPENING = re.compile(r"([(])[ \t]+")
_REPEATED_COMMA = re.compile(r",(\s*,)+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line)
        line = _BEFORE_PUNCTUATION.sub(r"\1", line)
        line = _AFTER_OPENING.sub(r"\1", line)
        line = _REPEATED_COMMA.sub(",", line)
        lines.append(line.strip())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _flush(parts: list[_Part], text: list[str]) -> None:
    if text:
        parts.append(_Part("text", "".join(text)))
        text.clear()


def _where(source: str, index: int) -> tuple[int, int]:
    line = source.count("\n", 0, index) + 1
    return line, index - (source.rfind("\n", 0, index) + 1) + 1


def _error(source: str, index: int, why: str) -> TemplateError:
    return TemplateError(*_where(source, index), why)


def _names() -> str:
    return ", ".join(FIELDS)


# --- the three variants every team starts with ---------------------------------------------

DEFAULTS: dict[str, str] = {
    "blurb": (
        "[{advocate_first_name} here. ]We've used {product} at {advocate_company} and "
        "{outcome}. {rep_name} is the person to talk to[ — {rep_first_name} can show you how "
        "we did it]. Happy to connect you."
    ),
    "email": (
        "Hi {person_first_name},\n\n"
        "I'd like to introduce you to {rep_name}[, who looks after us at {product}]. At "
        "{advocate_company} we {outcome}, and I thought of you[ as {person_title}][ at "
        "{person_company}].\n\n"
        "{rep_first_name|They} would like a short call to see whether it could help you too. "
        "Would that be all right?\n\n"
        "Best,\n{advocate_first_name|}"
    ),
    "linkedin": (
        "Hi {person_first_name}! We've been using {product} at {advocate_company} and "
        "{outcome}. I think it could help you[ at {person_company}] too — would you be open "
        "to a quick intro to {rep_name}?"
    ),
}

# The owner's own ask, sent by email from Goodword (the advocate's link is added below it).
# It is the rep's voice, so the advocate's company falls back to "your company", not "our".
DEFAULTS["ask_email"] = (
    "Hi {advocate_first_name|there},\n\n"
    "It's been great to see that at {advocate_company|your company} you {outcome}. Thank "
    "you for working with us.\n\n"
    "Teams like yours often know others who would get the same value from {product|it}. Is "
    "there someone you'd be comfortable introducing me to[ — perhaps {person_name}]?[ "
    "{person_company} came to mind.] The link below lets you name them and choose how we "
    "reach out; nobody is contacted until they agree.\n\n"
    "Thanks either way,\n{rep_name|}"
)

# Subjects of the kinds sent as emails; the others have none.
SUBJECTS: dict[str, str] = {
    "email": "Introduction: {person_first_name|you} and {rep_name}",
    "ask_email": "A quick favour[, {advocate_first_name}]?",
}

LABELS: dict[str, str] = {
    "blurb": "Forwardable blurb",
    "email": "Email introduction",
    "linkedin": "LinkedIn message",
    "ask_email": "Ask sent by email",
}

# Made-up values for an admin's preview, one for every field.
SAMPLE: dict[str, str] = {
    "advocate_name": "Dana Reyes",
    "advocate_first_name": "Dana",
    "advocate_company": "Acme Analytics",
    "person_name": "Sam Lee",
    "person_first_name": "Sam",
    "person_company": "Globex",
    "person_title": "Head of Operations",
    "outcome": "have saved 600 hours with automations",
    "rep_name": "Priya Shah",
    "rep_first_name": "Priya",
    "product": "Brightwork",
}
