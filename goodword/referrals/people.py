"""The person an advocate introduces, as typed on a page or into the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from goodword.crm.cleaning import clean_fields, text
from goodword.lib.validators import clean_email


def _email(value: Any) -> str:
    if not str(value or "").strip():
        raise ValueError("is required")
    return clean_email(str(value))


PERSON_FIELDS = {
    "name": text(200, required=True),
    "email": _email,
    "company": text(200),
    "title": text(200),
}


@dataclass(frozen=True)
class Person:
    name: str = ""
    email: str = ""
    company: str = ""
    title: str = ""

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else ""


def person_clean(data: dict[str, Any]) -> Person:
    """The person in `data` (other keys ignored); raises Invalid naming each bad field. The
    email is required and kept in lower case."""
    given = {field: data.get(field) for field in PERSON_FIELDS}
    cleaned = clean_fields(PERSON_FIELDS, given)
    return Person(
        name=cleaned["name"],
        email=cleaned["email"].lower(),
        company=cleaned["company"],
        title=cleaned["title"],
    )
