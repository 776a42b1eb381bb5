"""The forwardable intros of an ask or an introduction: each kind's template (an admin's
wording, else Goodword's own) filled in with the advocate, their company, what they
achieved (from the ask's success moment), the person, the rep and the product; and the
admins' edits of those templates, with the preview they type against."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from goodword.crm.models import Task
from goodword.engine import templates as engine
from goodword.engine.outcomes import outcome
from goodword.engine.programme import Programme
from goodword.lib.errors import Forbidden, Invalid
from goodword.referrals.models import Introduction, IntroTemplate

if TYPE_CHECKING:
    from goodword.moments.models import Moment
    from goodword.users.models import User

KINDS = tuple(engine.DEFAULTS)  # blurb, email, linkedin, ask_email
DRAFT_KINDS = ("blurb", "email", "linkedin")
EMAIL_KINDS = tuple(engine.SUBJECTS)
SUBJECT_MAX, BODY_MAX = 200, 10_000
_GOAL = re.compile(r"Goal “(.+?)” reached")


@dataclass(frozen=True)
class Draft:
    kind: str
    label: str
    subject: str
    text: str


# --- the values --------------------------------------------------------------------------------


def moment_outcome(moment: Moment, programme: Programme | None = None) -> str | None:
    """What the moment says the advocate's team achieved, as "we ..." would go on."""
    if programme is None:
        from goodword.moments.programmes import programme_current

        programme = programme_current()[0]
    rule = programme.rule(moment.rule_id)
    if rule is None and moment.kind == "milestone":
        return None  # without its rule, a threshold could be a count or a sum of minutes
    data = moment.data if isinstance(moment.data, dict) else {}
    goal = _GOAL.search(moment.evidence)
    return outcome(
        kind=moment.kind,
        data=data,
        event=getattr(rule, "event", None),
        measure=str(getattr(rule, "measure", "count")),
        label=rule.name if rule else "",
        goal_name=goal.group(1) if goal else "",
    )


def _best_outcome(ask: Task | None) -> str | None:
    """The words of the ask's strongest moment (its rule's weight), the latest among equals.
    A retracted moment is no longer evidence, so it is never cited."""
    if ask is None:
        return None
    moments = list(ask.moments.filter(retracted_at__isnull=True).order_by("-occurred_at", "-id"))
    if not moments:
        return None
    from goodword.moments.programmes import programme_current

    programme = programme_current()[0]

    def weight(moment: Moment) -> float:
        rule = programme.rule(moment.rule_id)
        return rule.weight if rule else 0.0

    for moment in sorted(moments, key=weight, reverse=True):  # stable: latest first
        if (said := moment_outcome(moment, programme)) is not None:
            return said
    return None


def _person(introduction: Introduction | None, person: dict[str, Any] | None) -> dict[str, Any]:
    suggested = person or {}
    if introduction is None:
        return suggested
    return {
        "name": introduction.person_name or suggested.get("name"),
        "company": introduction.person_company or suggested.get("company"),
        "title": introduction.person_title or suggested.get("title"),
    }


def values_for(
    *,
    ask: Task | None = None,
    introduction: Introduction | None = None,
    person: dict[str, Any] | None = None,
) -> dict[str, str | None]:
    """The merge fields for an ask (before anyone is named, `person` being a suggestion with
    name, company and title) or an introduction. A field nobody knows is None."""
    source: Any = introduction or ask
    advocate = introduction.advocate if introduction else ask.contact if ask else None
    account = introduction.advocate_account if introduction else ask.account if ask else None
    owner = source.owner if source is not None else None
    who = _person(introduction, person)
    values: dict[str, str | None] = {
        "advocate_name": advocate.full_name if advocate else None,
        "advocate_first_name": advocate.first_name if advocate else None,
        "advocate_company": account.name if account else None,
        "person_name": who.get("name"),
        "person_company": who.get("company"),
        "person_title": who.get("title"),
        "outcome": _best_outcome(introduction.ask if introduction else ask),
        "rep_name": owner.get_full_name() if owner else None,
        "product": settings.PRODUCT_NAME,
    }
    filled = engine.with_first_names({k: (v or None) for k, v in values.items()})
    return {name: filled.get(name) for name in engine.FIELDS}  # every field, None if unknown


# --- the texts ---------------------------------------------------------------------------------


def template_for(kind: str) -> tuple[str, str]:
    """(subject, body) of `kind`: the admin's row, else the default. KeyError for an
    unknown kind."""
    default = engine.SUBJECTS.get(kind, ""), engine.DEFAULTS[kind]
    row = IntroTemplate.objects.filter(kind=kind).first()
    return (row.subject, row.body) if row is not None else default


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
    """The owner's email asking the advocate for an introduction, for the owner to edit."""
    return _draft("ask_email", values_for(ask=ask, person=person))


# --- the templates admins edit -----------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """One kind's wording in force, and whose it is (no row: Goodword's own)."""

    kind: str
    label: str
    subject: str
    body: str
    row: IntroTemplate | None

    @property
    def has_subject(self) -> bool:
        return self.kind in EMAIL_KINDS


def templates_current() -> list[Current]:
    """Every kind's wording in force, in the order the kinds are shown."""
    rows = {r.kind: r for r in IntroTemplate.objects.select_related("updated_by")}
    out = []
    for kind in KINDS:
        row = rows.get(kind)
        subject = row.subject if row else engine.SUBJECTS.get(kind, "")
        body = row.body if row else engine.DEFAULTS[kind]
        out.append(Current(kind, engine.LABELS[kind], subject, body, row))
    return out


def current_for(kind: str) -> Current:
    """`kind`'s wording in force; KeyError for an unknown kind."""
    if kind not in KINDS:
        raise KeyError(kind)
    return next(c for c in templates_current() if c.kind == kind)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")  # browsers send CRLF


def _problems(kind: str, subject: str, body: str) -> dict[str, list[str]]:
    """What is wrong with a wording of `kind`, by form field (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    if kind in EMAIL_KINDS:
        if not subject.strip():
            errors["subject"] = ["is required: the email needs a subject"]
        elif "\n" in subject:
            errors["subject"] = ["must be one line"]
        elif len(subject) > SUBJECT_MAX:
            errors["subject"] = [f"is longer than {SUBJECT_MAX} characters"]
    elif subject.strip():
        errors["subject"] = ["only the emails have a subject"]
    if not body.strip():
        errors["body"] = ["is required"]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"is longer than {BODY_MAX:,} characters"]
    for field, source in (("subject", subject), ("body", body)):
        if field not in errors:
            try:
                engine.parse(source)
            except engine.TemplateError as bad:
                errors[field] = [str(bad)]
    return errors


@transaction.atomic
def template_save(
    *, actor: User, kind: str, subject: str, body: str, now: dt.datetime
) -> IntroTemplate:
    """An admin's wording of `kind`, in force from now. Raises Forbidden for anyone else,
    Invalid for an unknown kind, a missing, too long or multi-line subject (emails only),
    or a template that does not parse (saying the line and column); nothing changes then."""
    if not actor.is_admin_role:
        raise Forbidden("Only admins edit the intro templates.")
    if kind not in KINDS:
        raise Invalid({"kind": [f"must be one of {', '.join(KINDS)}"]})
    subject, body = _lines(subject).strip(), _lines(body)
    if errors := _problems(kind, subject, body):
        raise Invalid(errors)
    fields = {"subject": subject, "body": body, "updated_by": actor, "updated_at": now}
    if not IntroTemplate.objects.filter(kind=kind).update(**fields):
        try:
            with transaction.atomic():  # a savepoint: a concurrent first save may win
                return IntroTemplate.objects.create(kind=kind, **fields)
        except IntegrityError:
            IntroTemplate.objects.filter(kind=kind).update(**fields)
    return IntroTemplate.objects.get(kind=kind)


@transaction.atomic
def template_reset(*, actor: User, kind: str) -> bool:
    """Back to Goodword's wording of `kind` (the admin's row deleted); whether there was one.
    Raises Forbidden for anyone but admins, Invalid for an unknown kind."""
    if not actor.is_admin_role:
        raise Forbidden("Only admins edit the intro templates.")
    if kind not in KINDS:
        raise Invalid({"kind": [f"must be one of {', '.join(KINDS)}"]})
    deleted, _ = IntroTemplate.objects.filter(kind=kind).delete()
    return deleted > 0


# --- the preview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str | None  # None: the kind has no subject, or it does not parse
    text: str | None  # None: the body does not parse


@dataclass(frozen=True)
class Preview:
    errors: dict[str, list[str]]
    sample: Rendered  # with every field made up
    bare: Rendered  # with every field missing: the fallbacks
    values: dict[str, str]


def sample_values() -> dict[str, str]:
    """Made-up values for every field, with the product's own name when it is set."""
    return {**engine.SAMPLE, "product": settings.PRODUCT_NAME or engine.SAMPLE["product"]}


def _render(source: str, values: dict[str, str], ok: bool) -> str | None:
    return engine.render(source, values) if ok else None


def template_preview(*, kind: str, subject: str, body: str) -> Preview:
    """`kind` worded as given, filled in with sample values and with none. Writes nothing."""
    subject, body = _lines(subject).strip(), _lines(body)
    errors = _problems(kind, subject, body)
    has_subject = kind in EMAIL_KINDS and "subject" not in errors
    body_ok = "body" not in errors
    values = sample_values()

    def both(given: dict[str, str]) -> Rendered:
        return Rendered(_render(subject, given, has_subject), _render(body, given, body_ok))

    return Preview(errors=errors, sample=both(values), bare=both({}), values=values)


def export_rows(current: Iterable[Current]) -> Iterable[list[Any]]:
    """The templates' CSV rows (kind, label, subject, body, changed by, changed at)."""
    for c in current:
        by = c.row.updated_by.email if c.row and c.row.updated_by else ""
        yield [c.kind, c.label, c.subject, c.body, by, c.row.updated_at if c.row else None]
