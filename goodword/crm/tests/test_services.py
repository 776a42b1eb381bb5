from __future__ import annotations

import pytest

from goodword.crm.models import Activity, Contact, Deal, DealStageChange
from goodword.crm.services import contact_create, deal_move, task_complete
from goodword.lib.errors import Invalid


def test_deal_move_records_stage_history_and_closes(deal, rep, stages):
    # given a deal in Qualification
    # when it is moved to Closed Won
    deal_move(actor=rep, deal=deal, stage=stages["Closed Won"])
    # then the history has both rows, closed_at is set and the timeline says so
    deal.refresh_from_db()
    assert deal.stage == stages["Closed Won"]
    assert deal.closed_at is not None
    history = list(
        DealStageChange.objects.filter(deal=deal).values_list("from_stage__name", "to_stage__name")
    )
    assert history == [(None, "Qualification"), ("Qualification", "Closed Won")]
    assert Activity.objects.filter(verb="deal.stage_changed", object_id=deal.pk).count() == 1


def test_reopening_a_deal_clears_closed_at(deal, rep, stages):
    deal_move(actor=rep, deal=deal, stage=stages["Closed Lost"])
    deal_move(actor=rep, deal=deal, stage=stages["Negotiation/Review"])
    deal.refresh_from_db()
    assert deal.closed_at is None


def test_stale_move_is_refused_and_changes_nothing(deal, rep, stages):
    stale = Deal.objects.get(pk=deal.pk)
    deal_move(actor=rep, deal=deal, stage=stages["Proposal/Price Quote"])
    with pytest.raises(Invalid):
        deal_move(actor=rep, deal=stale, stage=stages["Closed Won"])
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal/Price Quote"]
    assert DealStageChange.objects.filter(deal=deal).count() == 2


def test_contact_with_duplicate_email_at_account_is_refused(contact, rep, account):
    with pytest.raises(Invalid) as info:
        contact_create(actor=rep, account=account, data={"email": "ADA@acme.io"})
    assert "email" in info.value.errors
    assert Contact.objects.filter(account=account).count() == 1


def test_contact_fields_are_validated_together(rep, account):
    with pytest.raises(Invalid) as info:
        contact_create(
            actor=rep,
            account=account,
            data={"email": "not-an-email", "phone": "12", "past_employers": "x;;"},
        )
    assert set(info.value.errors) == {"email", "phone", "past_employers"}
    assert Contact.objects.count() == 0


def test_task_complete_twice_is_refused(task, rep):
    task_complete(actor=rep, task=task, outcome="Spoke to Ada")
    with pytest.raises(Invalid):
        task_complete(actor=rep, task=task, outcome="again")
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "Spoke to Ada")
