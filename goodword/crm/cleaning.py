"""Turning raw field values (from forms, the API or CSV rows) into model values.

One cleaner per field, shared by the services and the importers so that a value refused in
one place is refused everywhere with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from goodword.crm.models import DealKind, DealSource, Lifecycle, TaskKind, TaskStatus
from goodword.lib.errors import Invalid
from goodword.lib.validators import (
    clean_country,
    clean_currency,
    clean_decimal,
    clean_domain,
    clean_email,
    clean_phone,
    parse_date,
    parse_datetime,
)

Cleaner = Callable[[Any], Any]


def text(max_length: int, *, required: bool = False) -> Cleaner:
    def clean(value: Any) -> str:
        result = "" if value is None else str(value).strip()
        if required and not result:
            raise ValueError("is required")
        if len(result) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        return result

    return clean


def choice(choices: type[Any]) -> Cleaner:
    allowed = [c.value for c in choices]

    def clean(value: Any) -> str:
        result = str(value or "").strip().lower()
        if result not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return result

    return clean


def optional_int(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip().replace(",", ""))
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0 or number > 2_000_000_000:
        raise ValueError(f"{value!r} is out of range")
    return number


def external_id(value: Any) -> str | None:
    result = "" if value is None else str(value).strip()
    if len(result) > 100:
        raise ValueError("is longer than 100 characters")
    return result or None


def past_employers(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    domains = [clean_domain(str(item)) for item in items if str(item).strip()]
    return list(dict.fromkeys(domains))


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raw = str(value or "").strip().lower()
    if raw in {"1", "true", "yes", "y", "t"}:
        return True
    if raw in {"0", "false", "no", "n", "f", ""}:
        return False
    raise ValueError(f"{value!r} is not true or false")


def _opt(cleaner: Callable[[Any], Any]) -> Cleaner:
    return lambda value: cleaner("" if value is None else value)


ACCOUNT_FIELDS: dict[str, Cleaner] = {
    "external_id": external_id,
    "name": text(200, required=True),
    "domain": _opt(clean_domain),
    "industry": text(100),
    "employees": optional_int,
    "country": _opt(clean_country),
    "lifecycle": choice(Lifecycle),
    "customer_since": _opt(parse_date),
    "arr": _opt(clean_decimal),
    "currency": clean_currency,
}

CONTACT_FIELDS: dict[str, Cleaner] = {
    "external_id": external_id,
    "first_name": text(100),
    "last_name": text(100),
    "email": clean_email,
    "title": text(200),
    "phone": _opt(clean_phone),
    "past_employers": past_employers,
}

DEAL_FIELDS: dict[str, Cleaner] = {
    "external_id": external_id,
    "name": text(200, required=True),
    "amount": _opt(clean_decimal),
    "currency": clean_currency,
    "kind": choice(DealKind),
    "source": choice(DealSource),
    "created_at": _opt(parse_datetime),
    "close_date": _opt(parse_date),
    "closed_at": _opt(parse_datetime),
}

TASK_FIELDS: dict[str, Cleaner] = {
    "kind": choice(TaskKind),
    "subject": text(200, required=True),
    "due_at": _opt(parse_datetime),
    "status": choice(TaskStatus),
    "outcome": text(200),
    "notes": text(10_000),
}


def clean_fields(
    spec: Mapping[str, Cleaner], data: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Clean the fields of `data` named in `spec`; collect every error before raising Invalid.

    With partial=False, fields absent from `data` are cleaned from an empty value, so a
    required field that is missing is reported.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - set(spec))
    if unknown:
        errors["__all__"] = [f"unknown field(s): {', '.join(unknown)}"]
    for field, cleaner in spec.items():
        if field not in data:
            if partial:
                continue
            if field in {"lifecycle", "kind", "source", "status", "currency"}:
                continue
        try:
            cleaned[field] = cleaner(data.get(field))
        except ValueError as exc:
            errors.setdefault(field, []).append(str(exc))
    if errors:
        raise Invalid(errors)
    return cleaned
