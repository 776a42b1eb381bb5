from __future__ import annotations

import pytest

from goodword.crm import selectors
from goodword.lib.errors import Forbidden, NotFound


def test_rep_sees_own_and_csm_accounts_only(rep, csm, account, other_account):
    assert list(selectors.accounts_visible_to(rep)) == [account]
    assert list(selectors.accounts_visible_to(csm)) == [account]
    with pytest.raises(NotFound):
        selectors.account_get_for(user=rep, account_id=other_account.pk)


def test_user_who_owns_nothing_sees_nothing(nobody, account, deal, task, contact):
    assert not selectors.accounts_visible_to(nobody).exists()
    assert not selectors.deals_visible_to(nobody).exists()
    assert not selectors.tasks_visible_to(nobody).exists()
    assert not selectors.contacts_visible_to(nobody).exists()
    with pytest.raises(NotFound):
        selectors.deal_get_for(user=nobody, deal_id=deal.pk)


def test_missing_and_hidden_are_the_same_error(rep, other_account):
    with pytest.raises(NotFound) as hidden:
        selectors.account_get_for(user=rep, account_id=other_account.pk)
    with pytest.raises(NotFound) as missing:
        selectors.account_get_for(user=rep, account_id=10**9)
    assert str(hidden.value) == str(missing.value)


def test_manager_sees_all_but_edits_only_the_team(manager, other_manager, account, deal, task):
    assert selectors.account_get_for(user=other_manager, account_id=account.pk) == account
    with pytest.raises(Forbidden):
        selectors.account_get_for(user=other_manager, account_id=account.pk, write=True)
    with pytest.raises(Forbidden):
        selectors.deal_get_for(user=other_manager, deal_id=deal.pk, write=True)
    with pytest.raises(Forbidden):
        selectors.task_get_for(user=other_manager, task_id=task.pk, write=True)
    assert selectors.deal_get_for(user=manager, deal_id=deal.pk, write=True) == deal


def test_admin_edits_everything(admin_user, other_deal, other_contact):
    assert selectors.deal_get_for(user=admin_user, deal_id=other_deal.pk, write=True)
    assert selectors.contact_get_for(user=admin_user, contact_id=other_contact.pk, write=True)


def test_only_admins_edit_stages(rep, admin_user, stages):
    stage = stages["Prospecting"]
    with pytest.raises(Forbidden):
        selectors.stage_get_for(user=rep, stage_id=stage.pk, write=True)
    assert selectors.stage_get_for(user=admin_user, stage_id=stage.pk, write=True) == stage


@pytest.mark.parametrize("inline", [0, 2000])
def test_deal_visibility_is_the_same_with_a_list_or_a_subquery(
    monkeypatch, inline, rep, other_rep, account, other_account, stages
):
    # given a deal the rep owns on someone else's account, and one on the rep's own account
    from goodword.crm.services import deal_create

    own_elsewhere = deal_create(
        actor=other_rep,
        account=other_account,
        owner=rep,
        stage=stages["Prospecting"],
        data={"name": "Rep's on West"},
    )
    on_mine = deal_create(
        actor=other_rep,
        account=account,
        owner=other_rep,
        stage=stages["Prospecting"],
        data={"name": "West's on rep's"},
    )
    deal_create(
        actor=other_rep,
        account=other_account,
        owner=other_rep,
        stage=stages["Prospecting"],
        data={"name": "West only"},
    )
    # when the account ids are inlined (up to `inline`) or read by a subquery
    monkeypatch.setattr(selectors, "INLINE_IDS", inline)
    # then the rep sees exactly their own deal and the deal on their account
    visible = set(selectors.deals_visible_to(rep).values_list("pk", flat=True))
    assert visible == {own_elsewhere.pk, on_mine.pk}
