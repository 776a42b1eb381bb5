"""Amounts in the reports: Decimal in the home currency, summed unrounded and rounded to cents
once; written short in headlines ("USD 1.2M")."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet, Sum

from goodword.reports.dates import rate_day

if TYPE_CHECKING:
    from goodword.crm.models import Deal
    from goodword.reports.rates import RateTable

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


@dataclass
class Converted:
    """Deals counted and their amount in the home currency, unrounded; those without a rate
    are counted apart and left out of the amount."""

    deals: int = 0
    amount: Decimal = field(default_factory=Decimal)
    unconverted: int = 0


def converted_sums(
    deals: QuerySet[Deal], *, day: str, by: str, rates: RateTable
) -> dict[Any, Converted]:
    """The deals' count and amount per value of the field `by`, each amount converted at the
    rate of its day (the date of the datetime field `day`): one GROUP BY on (by, currency,
    day), whose rows grow with the days (of amounts in other currencies than the home one),
    not the deals."""
    groups = (
        deals.annotate(on=rate_day(day, rates.home))
        .values(by, "currency", "on")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by()
    )
    found: dict[Any, Converted] = defaultdict(Converted)
    for group in groups:
        sums = found[group[by]]
        sums.deals += group["n"]
        rate = rates.rate(group["currency"], group["on"])
        if rate is None:
            sums.unconverted += group["n"]
        else:
            sums.amount += group["total"] * rate
    return found
