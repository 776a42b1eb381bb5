"""Whom to ask for: prospects the advocate is likely to know, each with the reasons.

Three sources, strongest first: relationships (the advocate once worked at the prospect,
or someone at the prospect once worked at the advocate's company), mentions (the
advocate's account named the prospect in a message, ticket or call note) and lookalikes
(a prospect like the advocate's company: industry, size band, country). Customers, the
advocate's own account and opted-out people never appear; a prospect someone else is
already working is left out of the lookalikes and flagged in the other two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from goodword.crm.models import Account, Contact, Deal, Lifecycle, Task, TaskKind
from goodword.engine.companies import Mentions
from goodword.engine.domains import same_domain

WEIGHTS = {"relationship": 3.0, "mention": 2.0, "lookalike": 1.0}
BANDS = (0, 10, 50, 200, 1000, 5000)
MENTION_WINDOW = dt.timedelta(days=365)


@dataclass
class Suggestion:
    account_id: int
    name: str  # a person's name, or the company's when no person is known
    company: str
    kind: str  # the strongest source: relationship, mention or lookalike
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    contact_id: int | None = None


def band(employees: int | None) -> str:
    if employees is None:
        return ""
    lower = max(b for b in BANDS if employees >= b)
    upper = next((b for b in BANDS if b > lower), None)
    return f"{lower:,} to {upper - 1:,} staff" if upper else f"{lower:,}+ staff"


def _prospects() -> Q:
    return Q(lifecycle=Lifecycle.PROSPECT)


def _worked_on(account_ids: set[int]) -> dict[int, str]:
    """Prospects in an open deal: who owns it, for the reason shown."""
    deals = (
        Deal.objects.filter(account_id__in=account_ids, closed_at__isnull=True)
        .exclude(stage__is_won=True)
        .exclude(stage__is_lost=True)
        .select_related("owner")
    )
    return {d.account_id: str(d.owner) if d.owner else "nobody yet" for d in deals}


def _relationships(account: Account, contact: Contact | None) -> list[Suggestion]:
    found: list[Suggestion] = []
    domains = [d for d in (contact.past_employers if contact else []) if d]
    if domains:
        rule = Q()
        for domain in domains:
            rule |= Q(domain__iexact=domain)
        for prospect in Account.objects.filter(_prospects()).filter(rule)[:50]:
            why = f"{contact} used to work at {prospect.name} ({prospect.domain})"
            found.append(
                Suggestion(prospect.pk, prospect.name, prospect.name, "relationship", reasons=[why])
            )
    if account.domain:
        alumni = Contact.objects.filter(
            account__lifecycle=Lifecycle.PROSPECT,
            past_employers__icontains=account.domain,
            opted_out_at__isnull=True,
        ).select_related("account")[:200]
        for person in alumni:
            if not any(same_domain(d, account.domain) for d in person.past_employers or []):
                continue
            why = f"{person.full_name or person.email} used to work at {account.name}"
            found.append(
                Suggestion(
                    person.account_id,
                    person.full_name or person.email,
                    person.account.name,
                    "relationship",
                    reasons=[why],
                    contact_id=person.pk,
                )
            )
    return found


def _texts(account: Account, now: dt.datetime) -> list[tuple[str, str]]:
    """The advocate account's recent words: (where, text)."""
    from goodword.signals.models import Message, Ticket

    since = now - MENTION_WINDOW
    texts: list[tuple[str, str]] = []
    messages = Message.objects.filter(account=account, received_at__gte=since)
    for m in messages.order_by("-received_at")[:300]:
        texts.append(
            (f"a {m.get_channel_display().lower()} message on {m.received_at:%d %b %Y}", m.text)
        )
    tickets = Ticket.objects.filter(account=account, opened_at__gte=since).exclude(text="")
    for t in tickets.order_by("-opened_at")[:300]:
        texts.append((f"a support ticket on {t.opened_at:%d %b %Y}", t.text))
    notes = Task.objects.filter(
        account=account, kind__in=[TaskKind.CALL, TaskKind.MEETING], created_at__gte=since
    ).exclude(notes="")
    for task in notes.order_by("-created_at")[:300]:
        texts.append((f"notes of “{task.subject}”", task.notes))
    return texts


def _mentions(account: Account, now: dt.datetime) -> list[Suggestion]:
    texts = _texts(account, now)
    if not texts:
        return []
    names = dict(Account.objects.filter(_prospects()).values_list("pk", "name"))
    if not names:
        return []
    index = Mentions(names)
    found: dict[int, Suggestion] = {}
    for where, text in texts:
        for mention in index.find(text):
            pk = mention.key
            end = mention.start + len(mention.said)
            snippet = text[max(0, mention.start - 40) : end + 40].replace("\n", " ").strip()
            reason = f"named in {where}: “…{snippet}…”"
            if pk not in found:
                found[pk] = Suggestion(pk, names[pk], names[pk], "mention", reasons=[reason])
            elif len(found[pk].reasons) < 3:
                found[pk].reasons.append(reason)
    return list(found.values())


def _lookalikes(account: Account, exclude: set[int], limit: int) -> list[Suggestion]:
    like = Q()
    if account.industry:
        like |= Q(industry__iexact=account.industry)
    if account.country:
        like |= Q(country=account.country)
    if not like:
        return []
    rows = Account.objects.filter(_prospects()).filter(like).exclude(pk__in=exclude)
    size = band(account.employees)
    found = []
    for prospect in rows.order_by("-updated_at")[:2000]:
        reasons, score = [], 0.0
        if account.industry and prospect.industry.lower() == account.industry.lower():
            reasons.append(f"same industry ({prospect.industry})")
            score += 0.5
        if size and band(prospect.employees) == size:
            reasons.append(f"same size ({size})")
            score += 0.3
        if account.country and prospect.country == account.country:
            reasons.append(f"same country ({prospect.country})")
            score += 0.2
        found.append(
            Suggestion(prospect.pk, prospect.name, prospect.name, "lookalike", score, reasons)
        )
    found.sort(key=lambda s: (-s.score, s.name))
    return found[: limit * 3]


def peers_for(
    *, account: Account, contact: Contact | None, now: dt.datetime, limit: int = 10
) -> list[Suggestion]:
    """The prospects to ask `contact` (at `account`) about, best first, with reasons."""
    merged: dict[tuple[int, int | None], Suggestion] = {}
    for item in [*_relationships(account, contact), *_mentions(account, now)]:
        if item.account_id == account.pk:
            continue
        item.score = WEIGHTS[item.kind]
        key = (item.account_id, item.contact_id)
        if key in merged:
            merged[key].score += item.score
            merged[key].reasons.extend(item.reasons)
        else:
            merged[key] = item
    worked = _worked_on({s.account_id for s in merged.values()})
    for item in merged.values():
        if item.account_id in worked:
            item.reasons.append(f"already in an open deal (owned by {worked[item.account_id]})")
    taken = {account.pk} | {s.account_id for s in merged.values()}
    looks = _lookalikes(account, taken, limit)
    busy = _worked_on({s.account_id for s in looks})
    for item in looks:
        if item.account_id not in busy:
            item.score = WEIGHTS["lookalike"] * item.score
            merged[(item.account_id, None)] = item
    ranked = sorted(merged.values(), key=lambda s: (-s.score, s.name))
    return ranked[:limit]
