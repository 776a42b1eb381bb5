"""Handoff fixtures on top of the shared ones: Acme (rep owns it, csm looks after it) buys a
new-business deal; Globex (no CSM) buys one that Ada of Acme referred."""

from __future__ import annotations

from typing import Any

import pytest

from goodword.crm.models import Account, Contact, Deal, Stage
from goodword.crm.services import contact_create, deal_create, deal_move
from goodword.handoffs.models import Handoff
from goodword.users.models import User


@pytest.fixture
def won(stages: dict[str, Stage]) -> Stage:
    return stages["Closed Won"]


@pytest.fixture
def new_deal(rep: User, account: Account, stages: dict[str, Stage]) -> Deal:
    return deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Negotiation/Review"],
        data={"name": "Acme platform", "amount": "30000", "kind": "new", "source": "inbound"},
    )


@pytest.fixture
def handoff(rep: User, new_deal: Deal, won: Stage) -> Handoff:
    deal_move(actor=rep, deal=new_deal, stage=won)
    return Handoff.objects.get(deal=new_deal)


@pytest.fixture
def champion(rep: User, account: Account) -> Contact:
    return contact_create(
        actor=rep,
        account=account,
        data={"first_name": "Grace", "last_name": "Hopper", "email": "grace@acme.io"},
    )


@pytest.fixture
def referred(rep: User, prospect: Account, contact: Contact, stages: dict[str, Stage]) -> Deal:
    """Globex's new-business deal, referred by Ada of Acme."""
    return deal_create(
        actor=rep,
        account=prospect,
        owner=rep,
        stage=stages["Negotiation/Review"],
        data={"name": "Globex new", "amount": "9000", "kind": "new", "source": "referral"},
        referred_by=contact,
    )


def filled(champion: Contact) -> dict[str, Any]:
    """Everything the default settings require, and more."""
    return {
        "promised": "SSO by January",
        "risks": "Small admin team",
        "kickoff_on": "2099-01-05",
        "goals": [
            {
                "name": "Weekly reports",
                "event": "report_sent",
                "target": "50",
                "due_on": "2099-03-31",
            },
            {"name": "Seats used", "event": "seat_added", "measure": "sum:seats", "target": "120"},
        ],
        "stakeholders": [
            {"contact_id": champion.pk, "role": "champion"},
            {"contact_id": champion.pk, "role": "admin"},
        ],
    }
