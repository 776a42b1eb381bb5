"""An account's signals in a real browser: the chart is drawn, the tables are filled, a long
text opens in place, and no script fails."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from goodword.conftest import log_in
from goodword.signals.models import EventWeek
from goodword.signals.selectors import week_start
from goodword.signals.tests.test_pages import FILES, load
from goodword.users.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_account_signals_render_without_script_errors(
    page: Any,
    live_server: Any,
    rep: User,
    account: Any,
    contact: Any,
    other_account: Any,
    tmp_path: Path,
) -> None:
    # given an account with events in two weeks, NPS answers, tickets, messages and a goal
    for kind, text in FILES.items():
        load(tmp_path, kind, text)
    long_text = "The reporting " + "really " * 40 + "works for us."
    load(
        tmp_path,
        "messages",
        "external_id,account_external_id,received_at,channel,text\n"
        f"M-LONG,ACC-1,2026-11-05T10:00:00Z,email,{long_text}\n",
    )
    monday = week_start(timezone.now().date())
    EventWeek.objects.create(account=account, week=monday, events=12)
    EventWeek.objects.create(account=account, week=monday - dt.timedelta(weeks=3), events=30)
    base = live_server.url

    # when the rep opens the account page
    log_in(page, base, rep)
    page.goto(f"{base}/accounts/{account.pk}/")
    # then the chart has 26 bars, two of them with a height, and is drawn at a size
    chart = page.locator("#signals-activity svg.chart-svg")
    assert chart.get_attribute("aria-label") == "Events per week, last 26 weeks"
    assert chart.locator("rect.bar").count() == 26
    assert chart.locator("rect.bar:not([height='0.00'])").count() == 2
    assert chart.bounding_box()["height"] > 50
    # and its numbers open under it
    page.locator("#signals-activity summary", has_text="The numbers").click()
    assert page.locator("#signals-activity details table").is_visible()
    # and each table has its rows, the praise marked
    assert page.locator("#nps-table tbody tr").count() == 3
    assert page.locator("#tickets-table tbody tr").count() == 2
    assert page.locator("#messages-table tbody tr").count() == 3
    assert page.locator("#goals-table tbody tr").count() == 1
    assert page.locator("#tickets-table .praise.is-praise").count() == 1
    # and the hostile comment is text, not a script
    assert '<script>alert("nps")</script> Love it' in page.inner_text("#nps-table")
    # and a long message opens in place
    excerpt = page.locator("#messages-table details.excerpt")
    excerpt.locator("summary").click()
    assert excerpt.locator("p").inner_text() == long_text

    assert page.js_errors == []
