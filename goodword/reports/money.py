"""Amounts in the reports: Decimal in the home currency, summed unrounded and rounded to cents
once; written short in headlines ("USD 1.2M")."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

Money = Decimal
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_text(amount: Decimal, currency: str) -> str:
    """An amount for a sentence: "USD 950", "USD 12.5k", "USD 1.2M" (tables show it whole)."""
    value = float(amount)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            short = f"{value / size:.1f}".removesuffix(".0")
            return f"{currency} {short}{suffix}"
    return f"{currency} {value:,.0f}"
