"""Links in emails to people outside the company.

A key is 32 random bytes and a short check (an HMAC of them under SECRET_KEY), so a link
damaged in copying is told apart from one that was never issued without a database read.
Only the SHA-256 of the whole key is stored. A link is bound to one introduction, one
address and one purpose, expires, and is used once: `link_use` is a conditional UPDATE on
`used_at IS NULL`, so of two requests racing on one link exactly one wins.

Every way a link can fail gets its own words, and none of them says anything about any
introduction (the key did not prove who is asking).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from django.conf import settings
from django.urls import reverse

from goodword.lib.tokens import hash_secret
from goodword.referrals.models import Introduction, IntroLink, LinkPurpose

_CHECK_LENGTH = 10
_KEY = re.compile(r"^[A-Za-z0-9_-]{43}\.[0-9a-f]{10}$")
ROUTES = {
    LinkPurpose.ADVOCATE: "intro-advocate",
    LinkPurpose.CONSENT: "intro-consent",
    LinkPurpose.UNSUBSCRIBE: "intro-unsubscribe",
}


class LinkProblem(StrEnum):
    DAMAGED = "damaged"
    UNKNOWN = "unknown"
    WRONG_PURPOSE = "wrong_purpose"
    EXPIRED = "expired"
    USED = "used"
    CLOSED = "closed"  # the introduction moved on: nothing is left for this link to do


MESSAGES = {
    LinkProblem.DAMAGED: (
        "This link is damaged",
        "Part of it may have been cut off when it was copied. Please open it straight from "
        "the email, or copy all of it.",
    ),
    LinkProblem.UNKNOWN: (
        "We don't recognise this link",
        "It may have been withdrawn. If you were expecting it to work, reply to the email "
        "it came in.",
    ),
    LinkProblem.WRONG_PURPOSE: (
        "This link is for something else",
        "It was made for another page. Please open it straight from the email.",
    ),
    LinkProblem.EXPIRED: (
        "This link has expired",
        "Links in our emails work for a limited time. Nothing was changed. If you still want "
        "to go ahead, reply to the email it came in.",
    ),
    LinkProblem.USED: (
        "This link has already been used",
        "Your answer was recorded the first time; nothing more is needed.",
    ),
    LinkProblem.CLOSED: (
        "Nothing more to do here",
        "This introduction has already been settled or called off, so this link no longer "
        "applies. Nothing was changed.",
    ),
}


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        self.problem = problem
        super().__init__(problem.value)


def _check(token: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"intro-link:{token}".encode(), hashlib.sha256)
    return digest.hexdigest()[:_CHECK_LENGTH]


def link_create(
    *,
    introduction: Introduction,
    purpose: LinkPurpose,
    email: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> str:
    """Store a new link and return its key (shown once: only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    key = f"{token}.{_check(token)}"
    IntroLink.objects.create(
        introduction=introduction,
        purpose=purpose,
        email=email.lower(),
        hashed_key=hash_secret(key),
        created_at=now,
        expires_at=expires_at,
    )
    return key


def link_url(purpose: LinkPurpose, key: str) -> str:
    return settings.SITE_URL + reverse(ROUTES[purpose], kwargs={"key": key})


def link_find(*, key: str, purpose: LinkPurpose, now: dt.datetime) -> IntroLink:
    """The live link of `purpose` with this key. Raises LinkRefused saying why not."""
    if not _KEY.match(key) or not hmac.compare_digest(key[-_CHECK_LENGTH:], _check(key[:43])):
        raise LinkRefused(LinkProblem.DAMAGED)
    link = (
        IntroLink.objects.select_related(
            "introduction__advocate",
            "introduction__advocate_account",
            "introduction__owner",
        )
        .filter(hashed_key=hash_secret(key))
        .first()
    )
    if link is None:
        raise LinkRefused(LinkProblem.UNKNOWN)
    if link.purpose != purpose:
        raise LinkRefused(LinkProblem.WRONG_PURPOSE)
    if link.used_at is not None:
        raise LinkRefused(LinkProblem.USED)
    if link.expires_at <= now:
        raise LinkRefused(LinkProblem.EXPIRED)
    return link


def link_use(*, link: IntroLink, now: dt.datetime) -> None:
    """Mark the link used, once. Raises LinkRefused(USED) when another request got there
    first (call inside the transaction of the change the link makes)."""
    if IntroLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now) != 1:
        raise LinkRefused(LinkProblem.USED)
    link.used_at = now
