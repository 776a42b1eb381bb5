"""Field checks shared by the services, the importers and the API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# ISO 4217 active codes (from the ISO 4217 list of current currencies).
_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV
    BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK
    DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU
    XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
CURRENCIES = frozenset(_CODES.split())

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
COUNTRY = re.compile(r"^[A-Z]{2}$")


def clean_currency(value: str) -> str:
    code = (value or "").strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def clean_phone(value: str) -> str:
    """E.164: '+', country code, number; spaces, dots, dashes and brackets are dropped."""
    raw = (value or "").strip()
    if not raw:
        return ""
    compact = re.sub(r"[\s().-]", "", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not E164.match(compact):
        raise ValueError(f"{value!r} is not an E.164 phone number (e.g. +14155550100)")
    return compact


def clean_email(value: str) -> str:
    email = (value or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"{value!r} is not a valid e-mail address") from None
    return email


def clean_domain(value: str) -> str:
    raw = (value or "").strip().lower()
    if not raw:
        return ""
    domain = re.sub(r"^https?://", "", raw).split("/")[0].removeprefix("www.")
    if not DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a domain name (e.g. example.com)")
    return domain


def clean_country(value: str) -> str:
    code = (value or "").strip().upper()
    if code and not COUNTRY.match(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE)")
    return code


def clean_decimal(value: str | Decimal | int, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value != "" else Decimal(0)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if minimum is not None and amount < minimum:
        raise ValueError(f"{value!r} is below {minimum}")
    if abs(amount) >= Decimal("1e14"):
        raise ValueError(f"{value!r} is too large")
    return amount.quantize(Decimal("0.01"))


def parse_date(value: str | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        return (
            date.fromisoformat(raw[:10])
            if len(raw) > 10 and "T" in raw
            else date.fromisoformat(raw)
        )
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_datetime(value: str | date | None) -> datetime | None:
    """ISO 8601; a value without a zone is taken as UTC, a bare date as its midnight UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date-time (ISO 8601, e.g. 2026-11-23T14:03:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
