"""The forwardable intros of an ask or an introduction: each kind's template (an admin's
wording, else Goodword's own) filled in with the advocate, their company, what they
achieved (from the ask's success moment), the person, the rep and the product."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from goodword.crm.models import Task
from goodword.engine import templates as engine
from goodword.engine.outcomes import outcome
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.models import Introduction, IntroTemplate

if TYPE_CHECKING:
    from goodword.moments.models import Moment
    from goodword.users.models import User

DRAFT_KINDS = ("blurb", "email", "linkedin")
_GOAL = re.compile(r"Goal “(.+?)” reached")


@dataclass(frozen=True)
class Draft:
    kind: str
    label: str
    subject: str
    text: str


def template_for(kind: str) -> tuple[str, str]:
    """(subject, body) of `kind`: the admin's row, else the default."""
    row = IntroTemplate.objects.filter(kind=kind).first()
    if row is not None:
        return row.subject, row.body
    return engine.SUBJECTS.get(kind, ""), engine.DEFAULTS[kind]


def moment_outcome(moment: Moment) -> str | None:
    """What the moment says the advocate's team achieved, as "we ..." would go on."""
    from goodword.moments.programmes import programme_current

    rule = programme_current()[0].rule(moment.rule_id)
    goal = _GOAL.search(moment.evidence)
    return outcome(
        kind=moment.kind,
        data=moment.data or {},
        event=getattr(rule, "event", None),
        measure=str(getattr(rule, "measure", "count")),
        label=rule.name if rule else "",
        goal_name=goal.group(1) if goal else "",
    )


def _best_outcome(ask: Task | None) -> str | None:
    if ask is None:
        return None
    for moment in ask.moments.order_by("-occurred_at", "-id")[:20]:
        if (said := moment_outcome(moment)) is not None:
            return said
    return None


def values_for(
    *,
    ask: Task | None = None,
    introduction: Introduction | None = None,
    person: dict[str, Any] | None = None,
) -> dict[str, str | None]:
    """The merge fields for an ask (before anyone is named) or an introduction."""
    advocate = introduction.advocate if introduction else ask.contact if ask else None
    account = introduction.advocate_account if introduction else ask.account if ask else None
    owner = introduction.owner if introduction else ask.owner if ask else None
    person = person or {}
    if introduction is not None:
        person = {
            "name": introduction.person_name or person.get("name"),
            "company": introduction.person_company or person.get("company"),
            "title": introduction.person_title or person.get("title"),
        }
    values: dict[str, str | None] = {
        "advocate_name": advocate.full_name if advocate else None,
        "advocate_first_name": advocate.first_name if advocate else None,
        "advocate_company": account.name if account else None,
        "person_name": person.get("name"),
        "person_company": person.get("company"),
        "person_title": person.get("title"),
        "outcome": _best_outcome(introduction.ask if introduction else ask),
        "rep_name": (owner.get_full_name() or None) if owner else None,
        "product": settings.PRODUCT_NAME or None,
    }
    return engine.with_first_names(values)


def _draft(kind: str, values: dict[str, str | None]) -> Draft:
    subject, body = template_for(kind)
    return Draft(
        kind=kind,
        label=engine.LABELS[kind],
        subject=engine.render(subject, values) if subject else "",
        text=engine.render(body, values),
    )


def drafts_for(
    *,
    ask: Task | None = None,
    introduction: Introduction | None = None,
    person: dict[str, Any] | None = None,
) -> list[Draft]:
    """The blurb, the email introduction and the LinkedIn message, filled in."""
    values = values_for(ask=ask, introduction=introduction, person=person)
    return [_draft(kind, values) for kind in DRAFT_KINDS]


def ask_email_draft(*, ask: Task, person: dict[str, Any] | None = None) -> Draft:
    return _draft("ask_email", values_for(ask=ask, person=person))


@transaction.atomic
def template_save(
    *, actor: User, kind: str, subject: str, body: str, now: dt.datetime
) -> IntroTemplate:
    """An admin's wording of `kind`. Raises Forbidden for others, Invalid for an unknown
    kind or a template that does not parse (saying where); nothing changes then."""
    if not actor.is_admin_role:
        raise Forbidden("only admins edit the intro templates")
    if kind not in engine.DEFAULTS:
        raise Invalid({"kind": [f"must be one of {', '.join(engine.DEFAULTS)}"]})
    errors: dict[str, list[str]] = {}
    for field, source, limit in (("subject", subject, 200), ("body", body, 10_000)):
        if len(source) > limit:
            errors[field] = [f"is longer than {limit} characters"]
            continue
        try:
            engine.parse(source)
        except engine.TemplateError as bad:
            errors[field] = [str(bad)]
    if not body.strip():
        errors["body"] = ["is required"]
    if errors:
        raise Invalid(errors)
    row, _ = IntroTemplate.objects.update_or_create(
        kind=kind,
        defaults={"subject": subject.strip(), "body": body, "updated_by": actor, "updated_at": now},
    )
    return row


@transaction.atomic
def template_reset(*, actor: User, kind: str) -> None:
    """Back to Goodword's wording of `kind`. Raises Forbidden for non-admins."""
    if not actor.is_admin_role:
        raise Forbidden("only admins edit the intro templates")
    IntroTemplate.objects.filter(kind=kind).delete()
