"""The demo company: the plan's rates (pure Python, no database) and the rows it writes."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter, defaultdict
from itertools import pairwise
from typing import Any

import pytest
from django.db.models import Sum

from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange, Task
from goodword.demo import rates
from goodword.demo.deals import NEW, DealPlan, Story
from goodword.demo.generator import NotDemoData, generate, stages_reset, wipe
from goodword.demo.plan import AccountPlan, company, make_ctx, plan_account
from goodword.lib.validators import clean_email, clean_phone
from goodword.signals.models import EventWeek, Goal, Message, NpsResponse, Ticket
from goodword.users.models import User

TODAY = dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


# --- the plan: rates on a large sample, without the database ------------------------------


@pytest.fixture(scope="module")
def sample():
    ctx = make_ctx(seed=42, accounts=5000, today=TODAY)
    return [plan_account(ctx, i) for i in range(ctx.accounts)]


def closed_new_deals(sample: list[AccountPlan], source: str) -> list[DealPlan]:
    return [
        d
        for a in sample
        for d in a.deals
        if d.kind == NEW and d.source == source and d.closed_at is not None
    ]


def win_rate(deals: list[DealPlan]) -> float:
    return sum(d.won for d in deals) / len(deals)


def test_referred_new_business_wins_about_30_percent_and_beats_outbound(sample):
    # given five thousand planned accounts
    referral = closed_new_deals(sample, "referral")
    outbound = closed_new_deals(sample, "outbound")

    # then referrals win close to the published 30 %, and far more often than cold outbound
    assert len(referral) > 1000
    assert win_rate(referral) == pytest.approx(0.30, abs=0.03)
    assert win_rate(outbound) == pytest.approx(rates.NEW_BUSINESS["outbound"].win_rate, abs=0.02)
    assert win_rate(referral) > win_rate(outbound) + 0.1


def test_every_source_wins_at_its_table_rate(sample):
    for source, row in rates.NEW_BUSINESS.items():
        assert win_rate(closed_new_deals(sample, source)) == pytest.approx(row.win_rate, abs=0.04)


def test_referred_deals_close_about_a_quarter_faster(sample):
    def median_cycle_days(sources: list[str]) -> float:
        return statistics.median(
            (d.closed_at - d.created_at).total_seconds() / 86400
            for s in sources
            for d in closed_new_deals(sample, s)
            if d.won and d.closed_at is not None
        )

    referral = median_cycle_days(["referral"])
    others = median_cycle_days(["inbound", "outbound", "partner", "event", "other"])

    assert 0.65 < referral / others < 0.85


def test_referred_customers_churn_18_percent_less_at_renewal():
    # given many accounts' churn draws at their first anniversary
    stories = [Story(random.Random(i)) for i in range(40_000)]

    referred = sum(s.leaves_at(1, referred=True) for s in stories) / len(stories)
    others = sum(s.leaves_at(1, referred=False) for s in stories) / len(stories)

    assert others == pytest.approx(rates.CHURN_AT_RENEWAL, abs=0.005)
    assert referred / others == pytest.approx(rates.REFERRED_CHURN_FACTOR, abs=0.05)


def test_sample_has_prospects_customers_and_churned_accounts(sample):
    lifecycles = Counter(a.lifecycle for a in sample)

    assert lifecycles["prospect"] > 0.4 * len(sample)
    assert lifecycles["customer"] > 0.25 * len(sample)
    assert lifecycles["churned"] > 0.01 * len(sample)
    kinds = Counter(d.kind for a in sample for d in a.deals)
    assert set(kinds) == {"new", "expansion", "renewal"}


def test_expansions_and_renewals_only_for_accounts_that_became_customers(sample):
    for account in sample:
        if any(d.kind != NEW for d in account.deals):
            assert account.lifecycle in {"customer", "churned"}
            assert any(d.kind == NEW and d.won for d in account.deals)


def test_companies_are_unique_and_numbered_past_the_name_space():
    domains = {company(7, i).domain for i in range(90_000)}

    assert len(domains) == 90_000
    assert company(7, 86_400).name.endswith(" 2")


def test_same_seed_plans_the_same_account_and_another_seed_does_not():
    ctx = make_ctx(seed=1, accounts=100, today=TODAY)
    other = make_ctx(seed=2, accounts=100, today=TODAY)

    assert plan_account(ctx, 5) == plan_account(ctx, 5)
    assert plan_account(ctx, 5) != plan_account(other, 5)


# --- the rows written ---------------------------------------------------------------------


def snapshot() -> dict[str, list[Any]]:
    """Every generated row by natural keys, so two runs compare whatever ids they got."""
    return {
        "users": sorted(User.objects.values_list("email", "role", "team__name", "first_name")),
        "accounts": sorted(
            Account.objects.values_list(
                "external_id", "name", "domain", "industry", "employees", "country",
                "lifecycle", "owner__email", "csm__email", "customer_since", "arr",
                "created_at", "updated_at",
            )
        ),
        "contacts": sorted(
            Contact.objects.values_list(
                "external_id", "account__external_id", "first_name", "last_name", "email",
                "title", "phone", "past_employers", "created_at", "opted_out_at",
            )
        ),
        "deals": sorted(
            Deal.objects.values_list(
                "external_id", "account__external_id", "name", "amount", "stage__name", "kind",
                "source", "owner__email", "created_at", "close_date", "closed_at",
            )
        ),
        "changes": sorted(
            DealStageChange.objects.values_list(
                "deal__external_id", "from_stage__name", "to_stage__name", "changed_at"
            ),
            key=str,
        ),
        "tasks": sorted(
            Task.objects.values_list(
                "owner__email", "subject", "kind", "due_at", "status", "account__external_id",
                "deal__external_id", "contact__external_id", "created_at",
            ),
            key=str,
        ),
        "activities": sorted(
            Activity.objects.values_list(
                "account__external_id", "verb", "summary", "at", "actor__email"
            ),
            key=str,
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One demo company for the tests that only read it, committed once and wiped after
    the module; tests that write run in a transaction on top of it, rolled back after each."""
    with django_db_blocker.unblock():
        summary = generate(accounts=120, seed=42, today=TODAY)
    yield summary
    with django_db_blocker.unblock():
        wipe()
        stages_reset()


def test_same_seed_writes_identical_rows_and_another_seed_does_not(db):
    generate(accounts=60, seed=7, today=TODAY)
    first = snapshot()

    generate(accounts=60, seed=7, today=TODAY)
    assert snapshot() == first

    generate(accounts=60, seed=8, today=TODAY)
    assert snapshot()["accounts"] != first["accounts"]
    assert snapshot()["deals"] != first["deals"]


def test_summary_counts_the_rows_written(db, demo):
    assert demo.counts() == {
        "teams": 2,
        "users": 4 + 2 + 2 + 1,
        "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(),
        "deals": Deal.objects.count(),
        "stage_changes": DealStageChange.objects.count(),
        "tasks": Task.objects.count(),
        "activities": Activity.objects.count(),
        "events": EventWeek.objects.aggregate(n=Sum("events"))["n"],
        "nps_responses": NpsResponse.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "goals": Goal.objects.count(),
    }
    assert demo.accounts == 120


def test_every_deal_history_runs_from_creation_to_its_current_stage(db, demo):
    history = defaultdict(list)
    for change in DealStageChange.objects.select_related("from_stage", "to_stage"):
        history[change.deal_id].append(change)
    deals = Deal.objects.select_related("stage")

    assert deals.count() > 300
    for deal in deals:
        changes = history[deal.pk]
        assert changes[0].from_stage is None
        assert changes[0].changed_at == deal.created_at
        assert changes[-1].to_stage == deal.stage
        for before, after in pairwise(changes):
            assert after.from_stage == before.to_stage
            assert after.changed_at > before.changed_at
        assert all(c.changed_at <= NOW for c in changes)
        if deal.stage.is_closed:
            assert deal.closed_at == changes[-1].changed_at
            assert deal.close_date == deal.closed_at.date()
        else:
            assert deal.closed_at is None
            assert deal.close_date is not None
            assert deal.close_date >= TODAY


def test_won_and_lost_deals_end_in_closed_stages(db, demo):
    stages = Counter(Deal.objects.values_list("stage__name", flat=True))

    assert stages["Closed Won"] > 0
    assert stages["Closed Lost"] > 0
    assert sum(n for name, n in stages.items() if not name.startswith("Closed")) > 0


def test_contacts_have_valid_unique_emails_at_their_account_and_e164_phones(db, demo):
    domains = set(Account.objects.values_list("domain", flat=True))
    contacts = list(Contact.objects.select_related("account"))
    per_account = Counter(c.account_id for c in contacts)

    for c in contacts:
        assert clean_email(c.email) == c.email
        assert c.email.endswith("@" + c.account.domain)
        assert clean_phone(c.phone) == c.phone
        assert c.account.domain not in c.past_employers
        assert set(c.past_employers) <= domains
    assert len({(c.account_id, c.email) for c in contacts}) == len(contacts)
    assert set(per_account.values()) <= set(range(1, 9))
    with_past = sum(bool(c.past_employers) for c in contacts) / len(contacts)
    assert 0.2 < with_past < 0.4


def test_customers_have_a_csm_arr_and_a_start_date_and_prospects_none(db, demo):
    for account in Account.objects.all():
        if account.lifecycle == "customer":
            assert account.csm_id is not None
            assert account.arr > 0
            assert account.customer_since is not None
        if account.lifecycle == "prospect":
            assert account.csm_id is None
            assert account.arr == 0
            assert not account.deals.exclude(kind="new").exists()


def test_the_demo_rep_has_overdue_today_and_upcoming_open_tasks(db, demo):
    rep = User.objects.get(email=demo.logins["rep"])
    due = [t.due_at.date() for t in Task.objects.filter(owner=rep, status="open")]

    assert any(d < TODAY for d in due)
    assert any(d == TODAY for d in due)
    assert any(d > TODAY for d in due)
    for role in ("manager", "admin"):
        owner = User.objects.get(email=demo.logins[role])
        assert Task.objects.filter(owner=owner, status="open").count() == 3


def test_each_account_has_a_short_timeline(db, demo):
    per_account = Counter(Activity.objects.values_list("account_id", flat=True))

    assert len(per_account) == 120
    assert max(per_account.values()) <= 1 + 2 * 3
    assert Activity.objects.filter(verb="deal.stage_changed").exists()


def test_densities_are_parameters(db):
    summary = generate(
        accounts=100, seed=3, today=TODAY, contacts_per_account=2, deals_per_account=10
    )

    assert summary.contacts == pytest.approx(200, rel=0.15)
    assert summary.deals == pytest.approx(1000, rel=0.15)


def test_refuses_to_wipe_a_database_with_other_users_unless_forced(db, rep):
    # given a database with a real user
    before = snapshot()

    with pytest.raises(NotDemoData):
        generate(accounts=20, seed=1, today=TODAY)

    # then nothing changed
    assert snapshot() == before
    assert User.objects.filter(email=rep.email).exists()

    # when forced, the user is wiped with everything else
    generate(accounts=20, seed=1, today=TODAY, force=True)
    assert not User.objects.filter(email=rep.email).exists()
    assert Account.objects.count() == 20


def test_records_without_users_count_as_other_data(db, account):
    User.objects.all().delete()
    before = snapshot()

    with pytest.raises(NotDemoData):
        generate(accounts=20, seed=1, today=TODAY)

    assert snapshot() == before
    assert Account.objects.filter(pk=account.pk).exists()


def test_european_deals_are_in_their_currency_with_weekly_rates(db, demo):
    from goodword.demo.money import CURRENCY_BY_COUNTRY
    from goodword.reports.models import Rate

    # every deal is in its account's currency, which follows the account's country
    for deal in Deal.objects.select_related("account"):
        assert deal.currency == CURRENCY_BY_COUNTRY.get(deal.account.country, "USD")
    assert Deal.objects.filter(currency="EUR").exists()
    # and each currency has a rate every Monday from before the oldest deal to this week
    first = Deal.objects.order_by("created_at").first()
    assert first is not None
    oldest = first.created_at.date()
    for currency in ("EUR", "GBP"):
        days = list(Rate.objects.filter(currency=currency).values_list("day", flat=True))
        assert days[0] <= oldest
        assert TODAY - days[-1] < dt.timedelta(days=7)
        assert all(b - a == dt.timedelta(weeks=1) for a, b in pairwise(sorted(days)))


def test_recent_new_business_wins_are_handed_over(db, demo):
    from goodword.handoffs.models import Handoff

    recent = Deal.objects.filter(
        kind="new",
        stage__is_won=True,
        closed_at__gte=dt.datetime.combine(TODAY, dt.time(), dt.UTC) - dt.timedelta(days=30),
    )
    assert recent.exists()
    assert set(Handoff.objects.values_list("deal_id", flat=True)) == set(
        recent.values_list("pk", flat=True)
    )
