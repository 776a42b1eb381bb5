"""The reports in Chromium: a manager's home fills in the headlines after the page; a report
reads at a glance (charts beside their tables), filters narrow it, and the page passes axe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from goodword.conftest import log_in
from goodword.reports.catalogue import NAMES
from goodword.reports.tests.conftest import Book
from goodword.users.models import User

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        "() => axe.run().then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    return found


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_manager_reads_the_headlines_then_a_report(
    page: Any, live_server: Any, book: Book, manager: User
) -> None:
    # given a manager signed in
    base = live_server.url
    log_in(page, base, manager)

    # when the home page has loaded the headlines
    for name in NAMES:
        page.locator(f"[data-testid=headline-{name}]").wait_for()
    assert serious_violations(page) == []

    # and they open the sources report and keep only deals of the inbound source
    page.click("#headlines a[href='/reports/sources/']")
    page.wait_for_url(f"{base}/reports/sources/")
    assert page.locator("svg.gw-chart").count() >= 2
    assert page.locator("[data-testid=headline]").inner_text().strip()
    page.select_option("#f-source", "inbound")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"{base}/reports/sources/?*source=inbound*")

    # then the table has the inbound row and the rest pooled, and a CSV link per table
    rows = page.locator("#table-sources").locator("xpath=..").locator("..").locator("tbody tr")
    assert rows.count() == 2
    assert page.locator("a:text('Export CSV')").count() == 2
    assert serious_violations(page) == []
    # and every report page passes axe too
    for name in NAMES:
        page.goto(f"{base}/reports/{name}/")
        assert serious_violations(page) == [], name
    assert page.js_errors == []
