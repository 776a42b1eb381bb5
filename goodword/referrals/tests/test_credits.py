"""Credit of referred deals: the first credit, a manager's override and its audit, taking a
deal out of the referrals, and the invariant that every referral deal is credited with
shares summing to 100 whatever sequence of writes it goes through."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodword.crm.models import Account, Activity, Contact, Deal, Stage
from goodword.crm.services import (
    deal_create,
    deal_move,
    deal_update,
)
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.credits import (
    CreditShare,
    credit_history,
    credit_initial,
    credits_clear,
    credits_for,
    credits_set,
)
from goodword.referrals.models import CreditChange, DealCredit, Introduction
from goodword.users.models import User

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def shares_of(deal: Deal) -> list[tuple[str | None, str, Decimal]]:
    return [
        (c.advocate.email if c.advocate else None, c.advocate_account.name, c.share)
        for c in credits_for(deal)
    ]


def credit_state() -> list[Any]:
    """Everything a refused credit change must leave as it was."""
    credits = list(
        DealCredit.objects.order_by("pk").values_list(
            "pk", "deal_id", "advocate_account_id", "advocate_id", "share", "introduction_id"
        )
    )
    deals = list(Deal.objects.order_by("pk").values_list("pk", "source", "updated_at"))
    changes = CreditChange.objects.count()
    activities = Activity.objects.filter(verb="deal.credit_changed").count()
    return [credits, deals, changes, activities]


# --- the first credit -----------------------------------------------------------------


def test_a_referral_deal_is_created_with_all_its_credit_to_the_advocate(
    referred: Deal,
) -> None:
    # then Ada and Acme have 100 %, from no introduction (logged by hand)
    [credit] = credits_for(referred)
    assert (credit.advocate_id, credit.share, credit.introduction_id) == (
        Contact.objects.get(email="ada@acme.io").pk,
        Decimal("100.00"),
        None,
    )
    assert shares_of(referred) == [("ada@acme.io", "Acme Analytics", Decimal("100.00"))]
    created = Activity.objects.get(verb="deal.created", object_id=referred.pk)
    assert created.after["referred_by"] == "ada@acme.io"


def test_a_referral_may_credit_an_account_when_the_person_is_not_known(
    rep: User, prospect: Account, account: Account, stages: dict[str, Stage]
) -> None:
    deal = deal_create(
        actor=rep,
        account=prospect,
        stage=stages["Prospecting"],
        data={"name": "Globex via Acme", "source": "referral"},
        referred_by=account,
    )
    assert shares_of(deal) == [(None, "Acme Analytics", Decimal("100.00"))]


def test_credit_initial_refuses_an_advocate_of_another_account_or_the_deals_own(
    referred: Deal, prospect: Account, account: Account, other_contact: Contact
) -> None:
    DealCredit.objects.filter(deal=referred).delete()
    before = credit_state()
    with pytest.raises(Invalid) as other:
        credit_initial(deal=referred, advocate_account=account, advocate=other_contact, now=NOW)
    with pytest.raises(Invalid) as own:
        credit_initial(deal=referred, advocate_account=prospect, now=NOW)
    assert other.value.errors == {
        "referred_by": ["zed@zenith.example is not a contact of Acme Analytics"]
    }
    assert own.value.errors == {
        "referred_by": ["Globex is the deal's own account and cannot be credited for it"]
    }
    assert credit_state() == before


def test_credit_initial_refuses_a_second_first_credit(
    referred: Deal, other_account: Account, other_contact: Contact
) -> None:
    before = credit_state()
    with pytest.raises(Invalid) as refused:
        credit_initial(
            deal=referred, advocate_account=other_account, advocate=other_contact, now=NOW
        )
    assert refused.value.errors == {
        "referred_by": ["the deal is credited already; a manager changes it"]
    }
    assert credit_state() == before


def test_a_referral_deal_without_an_advocate_is_refused(
    rep: User, prospect: Account, stages: dict[str, Stage]
) -> None:
    with pytest.raises(Invalid) as refused:
        deal_create(
            actor=rep,
            account=prospect,
            stage=stages["Prospecting"],
            data={"name": "Nobody's", "source": "referral"},
        )
    assert refused.value.errors == {
        "referred_by": ["a referred deal needs the customer who referred it"]
    }
    assert not Deal.objects.filter(name="Nobody's").exists()


def test_an_advocate_for_a_deal_that_is_no_referral_is_refused(
    rep: User, prospect: Account, contact: Contact, stages: dict[str, Stage]
) -> None:
    with pytest.raises(Invalid) as refused:
        deal_create(
            actor=rep,
            account=prospect,
            stage=stages["Prospecting"],
            data={"name": "Inbound", "source": "inbound"},
            referred_by=contact,
        )
    assert refused.value.errors == {
        "referred_by": ["only a deal whose source is Referral is referred by someone"]
    }
    assert not Deal.objects.filter(name="Inbound").exists()


def test_an_account_cannot_refer_its_own_deal_and_nothing_is_written(
    rep: User, account: Account, contact: Contact, stages: dict[str, Stage]
) -> None:
    deals = Deal.objects.count()
    with pytest.raises(Invalid) as refused:
        deal_create(
            actor=rep,
            account=account,
            stage=stages["Prospecting"],
            data={"name": "Self", "source": "referral"},
            referred_by=contact,
        )
    assert refused.value.errors == {
        "referred_by": ["Acme Analytics is the deal's own account and cannot be credited for it"]
    }
    assert (Deal.objects.count(), DealCredit.objects.count()) == (deals, 0)


def test_an_introductions_deal_is_credited_with_it_and_an_override_keeps_the_link(
    rep: User,
    manager: User,
    prospect: Account,
    contact: Contact,
    other_contact: Contact,
    stages: dict[str, Stage],
) -> None:
    # given the deal an accepted introduction opened, as the introduction flow opens it
    intro = Introduction.objects.create(
        state="introduced",
        advocate_account=contact.account,
        advocate=contact,
        person_name="Gina Globex",
        waiting_since=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    deal = deal_create(
        actor=None,
        account=prospect,
        stage=stages["Prospecting"],
        data={"name": "Globex — referred by Ada", "source": "referral"},
        referred_by=contact,
        introduction=intro,
    )
    assert [(c.advocate_id, c.introduction_id) for c in credits_for(deal)] == [
        (contact.pk, intro.pk)
    ]
    # when a manager adds Zed, Ada's row still says which introduction it came from
    credits_set(
        actor=manager,
        deal=deal,
        shares=[
            CreditShare(contact.account_id, contact.pk, "70"),
            CreditShare(other_contact.account_id, other_contact.pk, "30"),
        ],
        reason="Zed vouched for us",
        now=NOW,
    )
    assert [(c.advocate_id, c.introduction_id) for c in credits_for(deal)] == [
        (contact.pk, intro.pk),
        (other_contact.pk, None),
    ]


# --- the credit through a deal's life -------------------------------------------------


def test_stage_changes_and_renames_keep_the_credit(
    referred: Deal, rep: User, stages: dict[str, Stage]
) -> None:
    before = shares_of(referred)
    deal_move(actor=rep, deal=referred, stage=stages["Qualification"])
    deal_update(actor=rep, deal=referred, data={"name": "Globex, renamed"})
    deal_move(actor=rep, deal=referred, stage=stages["Closed Won"])
    referred.refresh_from_db()
    assert (referred.name, referred.stage.name) == ("Globex, renamed", "Closed Won")
    assert shares_of(referred) == before


def test_a_referral_deal_keeps_its_source_for_a_rep(referred: Deal, rep: User) -> None:
    before = credit_state()
    with pytest.raises(Invalid) as refused:
        deal_update(actor=rep, deal=referred, data={"source": "inbound"})
    assert refused.value.errors == {
        "source": [
            "a referred deal keeps its source; a manager can take it out of the referrals, "
            "saying why, on the deal's page"
        ]
    }
    assert credit_state() == before


def test_a_deal_becoming_a_referral_is_credited_in_the_same_update(
    rep: User, prospect: Account, other_contact: Contact, stages: dict[str, Stage]
) -> None:
    deal = deal_create(
        actor=rep, account=prospect, stage=stages["Prospecting"], data={"name": "Was inbound"}
    )
    with pytest.raises(Invalid) as refused:
        deal_update(actor=rep, deal=deal, data={"source": "referral"})
    assert refused.value.errors == {
        "referred_by": ["a referred deal needs the customer who referred it"]
    }
    assert Deal.objects.get(pk=deal.pk).source == "other"
    deal_update(actor=rep, deal=deal, data={"source": "referral"}, referred_by=other_contact)
    assert shares_of(deal) == [("zed@zenith.example", "Zenith Logistics", Decimal("100.00"))]


# --- a manager's override -------------------------------------------------------------


def test_a_manager_splits_the_credit_60_40_with_an_audited_reason(
    referred: Deal, manager: User, contact: Contact, other_contact: Contact
) -> None:
    # given the deal credited 100 % to Ada
    # when a manager splits it between Ada and Zed
    credits_set(
        actor=manager,
        deal=referred,
        shares=[
            CreditShare(other_contact.account_id, other_contact.pk, "40"),
            CreditShare(contact.account_id, contact.pk, Decimal("60.00")),
        ],
        reason="Zed made the first call",
        now=NOW,
    )
    # then the shares are replaced, the change kept with before and after, and on the timeline
    assert shares_of(referred) == [
        ("ada@acme.io", "Acme Analytics", Decimal("60.00")),
        ("zed@zenith.example", "Zenith Logistics", Decimal("40.00")),
    ]
    [change] = credit_history(referred)
    ada = {
        "advocate_account_id": contact.account_id,
        "advocate_account": "Acme Analytics",
        "advocate_id": contact.pk,
        "advocate": "ada@acme.io",
    }
    zed = {
        "advocate_account_id": other_contact.account_id,
        "advocate_account": "Zenith Logistics",
        "advocate_id": other_contact.pk,
        "advocate": "zed@zenith.example",
    }
    assert (change.actor, change.reason, change.at) == (manager, "Zed made the first call", NOW)
    assert change.before == [{**ada, "share": "100.00"}]
    assert change.after == [{**zed, "share": "40.00"}, {**ada, "share": "60.00"}]
    activity = Activity.objects.get(verb="deal.credit_changed")
    assert (activity.account_id, activity.actor, activity.object_id, activity.summary) == (
        referred.account_id,
        manager,
        referred.pk,
        "Credit of Globex new changed: Zed made the first call",
    )


def test_an_override_may_credit_an_account_without_naming_a_person(
    referred: Deal, admin_user: User, contact: Contact, other_contact: Contact
) -> None:
    credits_set(
        actor=admin_user,
        deal=referred,
        shares=[
            CreditShare(contact.account_id, contact.pk, "50"),
            CreditShare(other_contact.account_id, None, "50"),
        ],
        reason="Shared",
        now=NOW,
    )
    assert shares_of(referred) == [
        ("ada@acme.io", "Acme Analytics", Decimal("50.00")),
        (None, "Zenith Logistics", Decimal("50.00")),
    ]


def _refused(deal: Deal, actor: User, shares: list[CreditShare], reason: str = "Why") -> Any:
    before = credit_state()
    with pytest.raises((Invalid, Forbidden)) as refused:
        credits_set(actor=actor, deal=deal, shares=shares, reason=reason, now=NOW)
    assert credit_state() == before
    return refused.value


def test_a_rep_may_not_change_credit(referred: Deal, rep: User, contact: Contact) -> None:
    error = _refused(referred, rep, [CreditShare(contact.account_id, contact.pk, "100")])
    assert isinstance(error, Forbidden)
    assert str(error) == "only managers and admins change the credit of a deal"


def test_shares_summing_to_99_99_are_refused(
    referred: Deal, manager: User, contact: Contact, other_contact: Contact
) -> None:
    error = _refused(
        referred,
        manager,
        [
            CreditShare(contact.account_id, contact.pk, "59.99"),
            CreditShare(other_contact.account_id, other_contact.pk, "40"),
        ],
    )
    assert error.errors == {"shares": ["the shares sum to 99.99 %, not 100 %"]}


def test_the_same_advocate_twice_is_refused(
    referred: Deal, manager: User, contact: Contact
) -> None:
    error = _refused(
        referred,
        manager,
        [
            CreditShare(contact.account_id, contact.pk, "50"),
            CreditShare(contact.account_id, contact.pk, "50"),
        ],
    )
    assert error.errors == {"shares[1].advocate": ["is credited twice; give each advocate one row"]}


def test_a_contact_of_another_account_is_refused(
    referred: Deal, manager: User, contact: Contact, other_contact: Contact
) -> None:
    error = _refused(
        referred,
        manager,
        [
            CreditShare(contact.account_id, contact.pk, "50"),
            CreditShare(contact.account_id, other_contact.pk, "50"),
        ],
    )
    assert error.errors == {
        "shares[1].advocate": ["zed@zenith.example is not a contact of Acme Analytics"]
    }


def test_a_missing_reason_is_refused(referred: Deal, manager: User, contact: Contact) -> None:
    error = _refused(referred, manager, [CreditShare(contact.account_id, contact.pk, "100")], " ")
    assert error.errors == {"reason": ["say why the credit changes"]}


@pytest.mark.parametrize(
    ("share", "reason"),
    [
        ("0", "must be more than 0 and at most 100"),
        ("-5", "must be more than 0 and at most 100"),
        ("100.01", "must be more than 0 and at most 100"),
        ("33.333", "has more than two decimals"),
        ("a third", "'a third' is not a number"),
        ("NaN", "must be more than 0 and at most 100"),
    ],
)
def test_bad_shares_are_refused_naming_the_row(
    referred: Deal, manager: User, contact: Contact, other_contact: Contact, share: str, reason: str
) -> None:
    error = _refused(
        referred,
        manager,
        [
            CreditShare(contact.account_id, contact.pk, "60"),
            CreditShare(other_contact.account_id, None, "40"),
            CreditShare(other_contact.account_id, other_contact.pk, share),
        ],
    )
    assert error.errors == {"shares[2].share": [reason]}


def test_no_rows_the_deals_own_account_and_unknown_ids_are_refused(
    referred: Deal, manager: User, prospect: Account
) -> None:
    assert _refused(referred, manager, []).errors == {"shares": ["credit at least one advocate"]}
    error = _refused(
        referred,
        manager,
        [CreditShare(prospect.pk, None, "50"), CreditShare(10**9, None, "50")],
    )
    assert error.errors == {
        "shares[0].advocate": ["Globex is the deal's own account and cannot be credited for it"],
        "shares[1].advocate_account": ["there is no such account"],
    }


def test_credit_of_a_deal_that_is_no_referral_is_refused(
    manager: User, other_deal: Deal, contact: Contact
) -> None:
    error = _refused(other_deal, manager, [CreditShare(contact.account_id, contact.pk, "100")])
    assert error.errors == {"deal": ["only a deal whose source is Referral has credit"]}


# --- taking a deal out of the referrals -----------------------------------------------


def test_a_manager_takes_a_deal_out_of_the_referrals_with_a_reason(
    referred: Deal, manager: User
) -> None:
    credits_clear(actor=manager, deal=referred, source="inbound", reason="They found us", now=NOW)
    referred.refresh_from_db()
    assert (referred.source, list(credits_for(referred))) == ("inbound", [])
    [change] = credit_history(referred)
    assert (change.reason, change.after, [c["share"] for c in change.before]) == (
        "They found us",
        [],
        ["100.00"],
    )


def test_taking_a_deal_out_is_refused_for_a_rep_and_without_reason_or_source(
    referred: Deal, rep: User, manager: User
) -> None:
    before = credit_state()
    with pytest.raises(Forbidden):
        credits_clear(actor=rep, deal=referred, source="inbound", reason="x", now=NOW)
    with pytest.raises(Invalid) as refused:
        credits_clear(actor=manager, deal=referred, source="referral", reason="", now=NOW)
    assert refused.value.errors == {
        "reason": ["say why the credit changes"],
        "source": ["choose one of inbound, outbound, partner, event, other"],
    }
    assert credit_state() == before


# --- the invariant, under any sequence of writes --------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["referral", "inbound"]), st.booleans()),
        st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, 9)),
        st.tuples(st.just("rename"), st.integers(0, 20)),
        st.tuples(
            st.just("source"),
            st.integers(0, 20),
            st.sampled_from(["referral", "inbound"]),
            st.booleans(),
        ),
        st.tuples(
            st.just("credit"),
            st.integers(0, 20),
            st.lists(
                st.tuples(st.integers(0, 3), st.decimals("-1", "101", places=2)),
                max_size=4,
            ),
            st.sampled_from(["manager", "rep"]),
            st.sampled_from(["Split", ""]),
        ),
        st.tuples(
            st.just("split"),
            st.integers(0, 20),
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(1, 9999),
        ),
        st.tuples(st.just("clear"), st.integers(0, 20), st.sampled_from(["inbound", "referral"])),
    ),
    max_size=20,
)


def assert_every_referral_is_credited() -> None:
    for deal in Deal.objects.all():
        shares = [c.share for c in DealCredit.objects.filter(deal=deal)]
        if deal.source == "referral":
            assert shares, deal.pk
            assert sum(shares) == Decimal(100), (deal.pk, shares)
        else:
            assert shares == [], (deal.pk, shares)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_every_referral_deal_stays_credited_with_shares_summing_to_100(
    ops: list[tuple[Any, ...]],
    rep: User,
    manager: User,
    prospect: Account,
    contact: Contact,
    other_contact: Contact,
    stages: dict[str, Stage],
) -> None:
    # given advocates: two contacts, and their accounts with no one named
    advocates: list[Contact | Account] = [
        contact,
        other_contact,
        contact.account,
        other_contact.account,
    ]
    ordered = list(stages.values())
    users = {"manager": manager, "rep": rep}

    def pick(i: int) -> Deal | None:
        deals = list(Deal.objects.order_by("pk").select_related("stage", "account"))
        return deals[i % len(deals)] if deals else None

    # when any sequence of writes, valid and invalid, is applied
    for op in ops:
        with contextlib.suppress(Invalid, Forbidden):
            _apply(op, pick, advocates, ordered, users, rep, prospect)
        # then after each step every referral deal is credited, with shares summing to 100
        assert_every_referral_is_credited()


def _apply(
    op: tuple[Any, ...],
    pick: Any,
    advocates: list[Contact | Account],
    ordered: list[Stage],
    users: dict[str, User],
    rep: User,
    prospect: Account,
) -> None:
    match op:
        case ("create", source, with_advocate):
            deal_create(
                actor=rep,
                account=prospect,
                stage=ordered[0],
                data={"name": "D", "source": source},
                referred_by=advocates[0] if with_advocate else None,
            )
        case ("move", i, s) if (deal := pick(i)) is not None:
            deal_move(actor=rep, deal=deal, stage=ordered[s % len(ordered)])
        case ("rename", i) if (deal := pick(i)) is not None:
            deal_update(actor=rep, deal=deal, data={"name": f"Renamed {i}"})
        case ("source", i, source, with_advocate) if (deal := pick(i)) is not None:
            referred_by = advocates[1] if with_advocate else None
            deal_update(actor=rep, deal=deal, data={"source": source}, referred_by=referred_by)
        case ("credit", i, rows, who, reason) if (deal := pick(i)) is not None:
            shares = [_share(advocates[a], share) for a, share in rows]
            credits_set(
                actor=users[who], deal=deal, shares=shares, reason=reason, now=timezone.now()
            )
        case ("split", i, a, b, cents) if (deal := pick(i)) is not None:
            cut = Decimal(cents) / 100
            shares = [_share(advocates[a], cut), _share(advocates[b], 100 - cut)]
            credits_set(
                actor=users["manager"], deal=deal, shares=shares, reason="Split", now=timezone.now()
            )
        case ("clear", i, source) if (deal := pick(i)) is not None:
            credits_clear(
                actor=users["manager"], deal=deal, source=source, reason="No", now=timezone.now()
            )


def _share(advocate: Contact | Account, share: Decimal) -> CreditShare:
    if isinstance(advocate, Contact):
        return CreditShare(advocate.account_id, advocate.pk, share)
    return CreditShare(advocate.pk, None, share)
