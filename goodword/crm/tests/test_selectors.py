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
