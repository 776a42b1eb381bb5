"""The demo's currencies: deals and revenue of European accounts in euros or pounds, and weekly
rates into the home currency (USD) for as far back as the demo's deals go, so that the reports
have something to convert."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from goodword.reports.models import Rate

CURRENCY_BY_COUNTRY = {
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "IE": "EUR",
}
STARTING_RATES = {"EUR": Decimal("1.0800"), "GBP": Decimal("1.2700")}  # USD per unit
YEARS = 4  # weeks of rates before today: older than any demo deal


def currency_of(country: str) -> str:
    return CURRENCY_BY_COUNTRY.get(country, "USD")


def rates_write(*, seed: int, today: date, now: datetime) -> int:
    """A rate a week (Mondays) for each currency: a gentle random walk, the same for a seed."""
    rng = random.Random(f"goodword-demo:{seed}:rates")
    first = today - timedelta(days=today.weekday(), weeks=52 * YEARS)
    rows = []
    for currency, start in STARTING_RATES.items():
        rate = start
        day = first
        while day <= today:
            rows.append(Rate(currency=currency, day=day, rate=rate, imported_at=now))
            step = Decimal(str(round(rng.gauss(0, 0.006), 4)))
            rate = max(Decimal("0.5"), (rate * (1 + step)).quantize(Decimal("0.0001")))
            day += timedelta(weeks=1)
    Rate.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
