"""A rep's day in a real browser: log in, open an account, move a deal, complete a task.
Debian's chromium, headless, through Playwright; a failing test leaves a screenshot in
test-artifacts/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from goodword.conftest import log_in
from goodword.crm.models import (
    Account,
    Deal,
    DealStageChange,
    Stage,
    Task,
    TaskStatus,
)
from goodword.crm.services import account_create, deal_create
from goodword.users.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def default_stages(stages: dict[str, Stage]) -> None:
    """Every test here needs the pipeline, which a transactional test elsewhere may have
    flushed: the shared `stages` fixture puts it back."""


def test_rep_moves_a_deal_and_completes_a_task(
    page: Any,
    live_server: Any,
    rep: User,
    account: Account,
    deal: Deal,
    task: Task,
    stages: dict[str, Stage],
) -> None:
    base = live_server.url
    # given a rep who logs in
    log_in(page, base, rep)
    # when they open the account from the accounts list
    page.click("nav >> text=Accounts")
    page.click("text=Acme Analytics")
    page.wait_for_url(f"{base}/accounts/{account.pk}/")
    assert page.inner_text("h1").startswith("Acme Analytics")

    # and move the deal to Proposal/Price Quote with its stage picker
    target = stages["Proposal/Price Quote"]
    with page.expect_response(lambda r: r.url.endswith(f"/accounts/{account.pk}/")):
        page.select_option(f"#stage-{deal.pk}", str(target.pk))
    # then the page shows the new stage after htmx swapped the table, and the DB agrees
    page.wait_for_function(
        "([id, value]) => document.querySelector('#stage-' + id).value === value",
        arg=[deal.pk, str(target.pk)],
    )
    deal.refresh_from_db()
    assert deal.stage == target
    last = DealStageChange.objects.filter(deal=deal).order_by("-id").first()
    assert last is not None
    assert (last.from_stage, last.to_stage, last.changed_by) == (
        stages["Qualification"],
        target,
        rep,
    )
    page.reload()
    assert "moved from Qualification to Proposal/Price Quote" in page.inner_text(".timeline")

    # when they complete the task from My tasks with an outcome
    page.click("nav >> text=My tasks")
    row = page.locator(f"#task-{task.pk}")
    row.locator("input[name=outcome]").fill("Rollout call booked")
    row.locator("button", has_text="Done").click()
    # then the row turns done in place, and the DB agrees
    page.locator(f"#task-{task.pk} .badge.done").wait_for()
    assert "Rollout call booked" in page.inner_text(f"#task-{task.pk}")
    task.refresh_from_db()
    assert (task.status, task.outcome) == (TaskStatus.DONE, "Rollout call booked")
    assert page.js_errors == []


def test_board_and_lists_render_without_script_errors(
    page: Any, live_server: Any, manager: User, rep: User, csm: User, stages: dict[str, Stage]
) -> None:
    # given a few accounts with deals spread over stages and currencies
    open_stages = [s for s in stages.values() if not s.is_closed]
    referrer = account_create(
        actor=rep, owner=rep, data={"name": "Referrer Co", "lifecycle": "customer"}
    )
    for i, name in enumerate(["Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne"]):
        acct = account_create(
            actor=rep,
            owner=rep,
            csm=csm,
            data={
                "name": name,
                "domain": f"{name.lower()}.example",
                "industry": ["Software", "Retail", "Pharma"][i % 3],
                "country": ["US", "DE", "GB"][i % 3],
                "lifecycle": ["customer", "prospect"][i % 2],
                "arr": str(12000 * (i + 1)),
                "currency": "USD",
            },
        )
        for j in range(2):
            deal_create(
                actor=rep,
                account=acct,
                owner=rep,
                stage=open_stages[(i + j * 3) % len(open_stages)],
                data={
                    "name": f"{name} {['platform', 'expansion'][j]}",
                    "amount": str(Decimal(5000 * (i + 1) + 2500 * j)),
                    "currency": ["USD", "EUR"][j],
                    "kind": ["new", "expansion"][j],
                    "source": ["referral", "inbound", "outbound"][i % 3],
                },
                referred_by=referrer if i % 3 == 0 else None,
            )
    base = live_server.url
    log_in(page, base, manager)
    # when the manager opens each list page, then it renders with no script error
    first = Account.objects.order_by("name").first()
    assert first is not None
    pages = [
        ("/accounts/", "accounts"),
        ("/deals/board/", "board"),
        ("/deals/", "deals"),
        (f"/accounts/{first.pk}/", "account"),
    ]
    for path, shot in pages:
        page.goto(base + path)
        page.screenshot(path=f"test-artifacts/ui-{shot}.png")
    page.goto(base + "/deals/board/")
    assert page.locator(".deal-card").count() == 12
    assert page.js_errors == []


def test_rep_adds_a_task_through_the_form_htmx_loads_on_opening(
    page: Any, live_server: Any, rep: User, account: Account
) -> None:
    base = live_server.url
    log_in(page, base, rep)
    page.goto(f"{base}/accounts/{account.pk}/")
    # given the add-task form is not on the page until its section is opened
    assert page.locator("input[name=subject]").count() == 0
    # when the rep opens "Add a task" and the form arrives
    page.click("text=Add a task")
    subject = page.locator("input[name=subject]")
    subject.wait_for()
    subject.fill("Send the rollout plan")
    page.fill("input[name=due_at]", "2030-01-15T09:30")
    with page.expect_navigation():
        subject.press("Enter")
    # then the task exists for the rep on this account, and the page lists it
    task = Task.objects.get(subject="Send the rollout plan")
    assert (task.owner, task.account, task.status) == (rep, account, TaskStatus.OPEN)
    assert task.due_at.isoformat() == "2030-01-15T09:30:00+00:00"
    assert "Send the rollout plan" in page.inner_text("body")
    assert page.js_errors == []


def test_rep_snoozes_a_referral_ask_then_closes_it_as_not_appropriate(
    page: Any, live_server: Any, rep: User, ask: Task
) -> None:
    # given an open referral ask for the rep, as the scan queues one
    base = live_server.url
    log_in(page, base, rep)
    row = page.locator(f"#task-{ask.pk}")
    assert row.locator(".badge.referral-ask").inner_text() == "Referral ask"
    # when they snooze it to a day ten days from now from My tasks
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=10)
    row.locator("input[name=until]").fill(day.isoformat())
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{ask.pk}/snooze/")):
        row.locator("button", has_text="Snooze").click()
    # then the row shows the new due day in place, still open, and the DB agrees
    shown = f"{day:%a} {day.day} {day:%b}, 00:00"
    page.wait_for_function(
        "([id, text]) => document.querySelector('#task-' + id + ' td').innerText === text",
        arg=[ask.pk, shown],
    )
    ask.refresh_from_db()
    midnight = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    assert (ask.status, ask.due_at, ask.snoozed_until) == (TaskStatus.OPEN, midnight, midnight)

    # when they close it as not appropriate, with a reason
    row = page.locator(f"#task-{ask.pk}")
    row.locator(".not-appropriate input[name=reason]").fill("Churn risk this quarter")
    row.locator("button", has_text="Not appropriate").click()
    # then the row turns cancelled in place, and the DB holds the reason
    page.locator(f"#task-{ask.pk} .badge.cancelled").wait_for()
    ask.refresh_from_db()
    assert (ask.status, ask.reason) == (TaskStatus.CANCELLED, "Churn risk this quarter")
    assert page.js_errors == []
