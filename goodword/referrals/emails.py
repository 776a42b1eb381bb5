"""The emails of an introduction, written to the outbox in the transaction of the change
that causes them. An email to someone outside the company is never written to a suppressed
address, and carries a one-click unsubscribe link bound to its recipient."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template.loader import render_to_string

from goodword.jobs.services import email_enqueue
from goodword.referrals.links import link_create, link_url
from goodword.referrals.models import Introduction, LinkPurpose, Suppression

if TYPE_CHECKING:
    from goodword.users.models import User

UNSUBSCRIBE_DAYS = 3650  # an unsubscribe link must keep working as long as the email is kept


def suppressed(email: str) -> bool:
    return Suppression.objects.filter(email=email.strip().lower()).exists()


def _render(name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    base = f"referrals/emails/{name}"
    subject = " ".join(render_to_string(f"{base}-subject.html", context).split())
    text = render_to_string(f"{base}-body-text.html", context).strip() + "\n"
    html = render_to_string(f"{base}-body-html.html", context)
    return subject, text, html


def _context(introduction: Introduction, extra: dict[str, Any]) -> dict[str, Any]:
    owner = introduction.owner
    advocate = introduction.advocate
    return {
        "intro": introduction,
        "company": settings.COMPANY_NAME,
        "product": settings.PRODUCT_NAME,
        "site_url": settings.SITE_URL,
        "advocate_name": (advocate.full_name or advocate.email) if advocate else "",
        "advocate_first_name": advocate.first_name if advocate else "",
        "person_first_name": introduction.person_name.split()[0]
        if introduction.person_name.split()
        else "",
        "advocate_company": introduction.advocate_account.name,
        "owner_name": (owner.get_full_name() or owner.email) if owner else "",
        "owner_email": owner.email if owner else "",
        **extra,
    }


def email_outside(
    name: str,
    *,
    introduction: Introduction,
    to: str,
    now: dt.datetime,
    context: dict[str, Any] | None = None,
    reply_to: list[str] | None = None,
    from_name: str = "",
) -> bool:
    """Write an email to someone outside the company; False (nothing written) when the
    address is suppressed."""
    if suppressed(to):
        return False
    key = link_create(
        introduction=introduction,
        purpose=LinkPurpose.UNSUBSCRIBE,
        email=to,
        now=now,
        expires_at=now + dt.timedelta(days=UNSUBSCRIBE_DAYS),
    )
    unsubscribe = link_url(LinkPurpose.UNSUBSCRIBE, key)
    values = _context(introduction, {**(context or {}), "unsubscribe_url": unsubscribe})
    subject, text, html = _render(name, values)
    email_enqueue(
        to=[to],
        subject=subject,
        body_text=text,
        body_html=html,
        reply_to=reply_to or ([values["owner_email"]] if values["owner_email"] else []),
        owner_id=introduction.owner_id,
        about=f"{name.replace('-', ' ')} to {to} (introduction #{introduction.pk})",
        unsubscribe_url=unsubscribe,
        from_name=_via(from_name),
    )
    return True


def _via(name: str) -> str:
    """'Jane Doe via Acme': the sender's name, with the company whose address it comes from."""
    company = settings.COMPANY_NAME or "Goodword"
    return f"{name} via {company}" if name else company


def email_owner(
    name: str, *, introduction: Introduction, to: User, context: dict[str, Any] | None = None
) -> None:
    """Write an email to a user of Goodword about an introduction."""
    values = _context(introduction, context or {})
    subject, text, html = _render(name, values)
    email_enqueue(
        to=[to.email],
        subject=subject,
        body_text=text,
        body_html=html,
        owner_id=to.pk,
        about=f"{name.replace('-', ' ')} to {to.email} (introduction #{introduction.pk})",
    )
