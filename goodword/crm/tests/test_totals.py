"""Board totals kept by triggers (DealTotal): whatever writes deals, the kept figures equal the
figures computed from the deals themselves, before and after compaction, on both databases."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodword.crm import selectors
from goodword.crm.io.importing import import_file
from goodword.crm.models import Account, Deal, DealTotal, Stage
from goodword.crm.services import (
    account_create,
    deal_create,
    deal_move,
    deal_totals_compact,
    deal_update,
)
from goodword.users.models import User

Key = tuple[int, str, str, str, dt.date | None]
CENT = Decimal("0.01")


def live_totals() -> dict[Key, tuple[int, Decimal]]:
    """Computed in Python from the deals, independently of the triggers' SQL."""
    totals: dict[Key, tuple[int, Decimal]] = {}
    rows = Deal.objects.values_list("stage_id", "currency", "source", "kind", "closed_at", "amount")
    for stage_id, currency, source, kind, closed_at, amount in rows:
        day = closed_at.astimezone(dt.UTC).date() if closed_at else None
        n, total = totals.get((stage_id, currency, source, kind, day), (0, Decimal(0)))
        totals[(stage_id, currency, source, kind, day)] = (n + 1, total + amount)
    return totals


def kept_totals() -> dict[Key, tuple[int, Decimal]]:
    rows = DealTotal.objects.values("stage_id", "currency", "source", "kind", "closed_on")
    totals = {}
    for row in rows.annotate(n=Sum("deals"), total=Sum("amount")):
        total = Decimal(row["total"]).quantize(CENT)
        if row["n"] == 0:
            assert total == 0, f"a key without deals kept an amount: {row}"
            continue
        key = (row["stage_id"], row["currency"], row["source"], row["kind"], row["closed_on"])
        totals[key] = (row["n"], total)
    return totals


def assert_kept_equals_live() -> None:
    assert kept_totals() == live_totals()


def _account(actor: User, n: int) -> Account:
    return account_create(actor=actor, owner=actor, data={"name": f"Account {n}"})


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"),
            st.integers(0, 9),
            st.sampled_from(["USD", "EUR", "GBP"]),
            st.sampled_from(["referral", "inbound", "outbound"]),
            st.sampled_from(["new", "renewal"]),
            st.integers(0, 10**9),
            st.one_of(st.none(), st.integers(0, 400)),
        ),
        st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 9)),
        st.tuples(
            st.just("update"),
            st.integers(0, 50),
            st.integers(0, 10**7),
            st.sampled_from(["USD", "EUR"]),
            st.sampled_from(["partner", "event", "referral"]),
        ),
        st.tuples(st.just("rename"), st.integers(0, 50)),
        st.tuples(st.just("bulk"), st.sampled_from(["referral", "inbound", "partner"])),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("drop_account")),
        st.tuples(st.just("compact")),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_kept_totals_follow_every_kind_of_write(
    ops: list[tuple[Any, ...]], admin_user: User, stages: dict[str, Stage]
) -> None:
    # given any sequence of writes: services, queryset updates, deletes and cascades
    ordered = list(stages.values())
    account = _account(admin_user, 0)
    advocate = _account(admin_user, -1)  # who referred the referral deals
    now = timezone.now()

    def pick(i: int) -> Deal | None:
        deals = list(Deal.objects.order_by("pk").select_related("stage"))
        return deals[i % len(deals)] if deals else None

    for op in ops:
        match op:
            case ("create", s, currency, source, kind, cents, days):
                data = {"name": "D", "amount": Decimal(cents) / 100, "currency": currency}
                data |= {"source": source, "kind": kind}
                if days is not None:
                    data["closed_at"] = (
                        now - dt.timedelta(days=days, minutes=cents % 1440)
                    ).isoformat()
                referred_by = advocate if source == "referral" else None
                deal_create(
                    actor=admin_user,
                    account=account,
                    stage=ordered[s],
                    data=data,
                    referred_by=referred_by,
                )
            case ("move", i, s):
                if (deal := pick(i)) is not None:
                    deal_move(actor=admin_user, deal=deal, stage=ordered[s])
            case ("update", i, cents, currency, source):
                if (deal := pick(i)) is not None:
                    if deal.source == "referral":
                        source = "referral"  # a referral stays one (a manager's change)
                    data = {"amount": Decimal(cents) / 100, "currency": currency, "source": source}
                    becomes = source == "referral" and deal.source != "referral"
                    referred_by = advocate if becomes else None
                    deal_update(actor=admin_user, deal=deal, data=data, referred_by=referred_by)
            case ("rename", i):
                if (deal := pick(i)) is not None:
                    deal_update(actor=admin_user, deal=deal, data={"name": "Renamed"})
            case ("bulk", source):
                Deal.objects.filter(source=source).update(amount=F("amount") + Decimal("1.25"))
            case ("delete", i):
                if (deal := pick(i)) is not None:
                    deal.delete()
            case ("drop_account",):
                account.delete()
                account = _account(admin_user, len(ops))
            case ("compact",):
                deal_totals_compact()
    # then the kept totals equal the deals' own, and still do once compacted
    assert_kept_equals_live()
    deal_totals_compact()
    assert_kept_equals_live()


def test_a_rename_appends_nothing_and_compaction_folds_each_key_to_one_row(
    deal: Deal, rep: User, stages: dict[str, Stage]
) -> None:
    before = DealTotal.objects.count()
    deal_update(actor=rep, deal=deal, data={"name": "New name"})
    assert DealTotal.objects.count() == before
    deal_move(actor=rep, deal=deal, stage=stages["Closed Won"])
    deal_move(actor=rep, deal=deal, stage=stages["Negotiation/Review"])
    assert DealTotal.objects.count() > len(kept_totals())

    removed = deal_totals_compact()

    assert removed > 0
    assert DealTotal.objects.count() == len(kept_totals()) == 1
    assert_kept_equals_live()
    assert deal_totals_compact() == 0


def test_an_import_of_new_and_changed_deals_is_counted(
    tmp_path: Path, deal: Deal, account: Account, rep: User
) -> None:
    header = "external_id,account_external_id,name,amount,currency,stage,source,owner_email"
    rows = [
        f"DEAL-1,ACC-1,Acme expansion,15000,EUR,Closed Won,partner,{rep.email}",
        *(
            f"IMP-{i},ACC-1,Imported {i},{i}00,USD,Prospecting,inbound,{rep.email}"
            for i in range(30)
        ),
    ]
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([header, *rows]) + "\n")

    import_file("deals", path)

    assert Deal.objects.count() == 31
    assert_kept_equals_live()
    import_file("deals", path)  # unchanged: nothing to count
    assert_kept_equals_live()


def _board(user: User, since: dt.datetime, **filters: Any) -> dict[tuple[str, str], Any]:
    stages = list(selectors.stages_list())
    names = {s.pk: s.name for s in stages}
    totals = selectors.deal_board_totals(user, stages=stages, since=since, **filters)
    return {(names[t.stage_id], t.currency): (t.deals, t.amount) for t in totals}


@pytest.fixture
def board_deals(
    account: Account, other_account: Account, rep: User, other_rep: User, stages: dict[str, Stage]
) -> None:
    since = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    closed = {
        "before the window": since - dt.timedelta(seconds=1),
        "at the window's start": since,
        "inside the window": since + dt.timedelta(days=30),
    }
    for i, (label, closed_at) in enumerate(closed.items()):
        deal_create(
            actor=rep,
            account=account,
            owner=rep,
            stage=stages["Closed Won"],
            data={"name": label, "amount": 100 * (i + 1), "closed_at": closed_at.isoformat()},
        )
    for owner, amount, source in ((rep, "10.50", "referral"), (other_rep, "20", "inbound")):
        deal_create(
            actor=rep,
            account=account,
            owner=owner,
            stage=stages["Prospecting"],
            data={"name": "open", "amount": amount, "currency": "EUR", "source": source},
            referred_by=other_account if source == "referral" else None,
        )


def test_the_board_window_starts_at_a_utc_midnight_on_both_paths(
    board_deals: Any, manager: User, rep: User
) -> None:
    since = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    expected = {
        ("Closed Won", "USD"): (2, Decimal("500.00")),
        ("Prospecting", "EUR"): (2, Decimal("30.50")),
    }
    assert _board(manager, since) == expected  # kept totals
    assert _board(rep, since) == expected  # the rep's own deals, aggregated live
    with pytest.raises(ValueError, match="UTC midnight"):
        _board(manager, since + dt.timedelta(hours=1))


def test_a_managers_board_reads_kept_totals_and_a_filtered_one_agrees_with_live(
    board_deals: Any, manager: User, rep: User, other_rep: User
) -> None:
    since = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    with CaptureQueriesContext(connection) as queries:
        by_source = _board(manager, since, source="referral")
    assert any("crm_dealtotal" in q["sql"] for q in queries.captured_queries)
    assert by_source == {("Prospecting", "EUR"): (1, Decimal("10.50"))}
    with CaptureQueriesContext(connection) as queries:
        by_owner = _board(manager, since, owner=other_rep)
    assert not any("crm_dealtotal" in q["sql"] for q in queries.captured_queries)
    assert by_owner == {("Prospecting", "EUR"): (1, Decimal("20.00"))}


@pytest.mark.django_db(transaction=True)
def test_compaction_neither_loses_nor_doubles_rows_of_concurrent_transactions(
    admin_user: User, account: Account, stages: dict[str, Stage]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite admits one writer at a time; the interleaving cannot happen")
    # given deltas to fold, and a writer whose new deal's delta is not yet committed
    for stage in ("Prospecting", "Prospecting", "Qualification"):
        deal_create(actor=admin_user, account=account, stage=stages[stage], data={"name": "x"})
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def in_thread(fn: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def slow_writer() -> None:
        with transaction.atomic():
            deal_create(
                actor=admin_user, account=account, stage=stages["Prospecting"], data={"name": "y"}
            )
            written.set()
            release.wait(10)

    def holding_compaction() -> None:
        with transaction.atomic():
            deal_totals_compact()
            written.set()
            release.wait(10)

    # when a compaction runs while the writer's transaction is open
    writer = in_thread(slow_writer)
    assert written.wait(10)
    deal_totals_compact()
    release.set()
    writer.join(10)
    # then the writer's delta survives
    assert not errors
    assert_kept_equals_live()

    # and when two compactions overlap, the second waits for the first and counts nothing twice
    deal_create(actor=admin_user, account=account, stage=stages["Prospecting"], data={"name": "z"})
    written.clear()
    release.clear()
    first = in_thread(holding_compaction)
    assert written.wait(10)
    second = in_thread(deal_totals_compact)
    time.sleep(0.3)  # let the second reach the first's locked rows
    release.set()
    first.join(10)
    second.join(10)
    assert not errors
    assert_kept_equals_live()
    assert DealTotal.objects.count() == len(kept_totals())


def test_sqlite_triggers_dropped_by_a_table_rebuild_are_restored_after_migrate(
    deal: Deal, rep: User, stages: dict[str, Stage]
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers when a migration alters the table")
    from goodword.crm.triggers import after_migrate, sqlite_ensure

    # given a rebuild that lost a trigger, and a write made while it was missing
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER crm_deal_totals_update")
    deal_move(actor=rep, deal=deal, stage=stages["Closed Won"])
    assert kept_totals() != live_totals()
    # when migrate's post_migrate handler runs
    after_migrate(using="default")
    # then the trigger is back, the totals are rebuilt, and a second run changes nothing
    assert_kept_equals_live()
    assert sqlite_ensure(connection) is False
    deal_move(actor=rep, deal=deal, stage=stages["Closed Lost"])
    assert_kept_equals_live()
