"""The rules that read records in the database (won renewal and expansion deals, NPS
answers, tickets, messages). Each scan reads every qualifying record of a rule in full, so a
record edited or re-imported since (a deal reopened, a rating changed) is found, moved or
retracted like a full recompute would."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q

from goodword.engine.programme import NpsRule, PraiseRule, Rule, SupportRule
from goodword.moments.services import Found
from goodword.signals.models import Message, NpsResponse, Ticket

QUOTE = 160  # characters of a customer's words quoted in evidence


def found_for(rule: Rule) -> Iterator[Found]:
    if rule.kind in ("renewal", "expansion"):
        return _deals(rule.kind)
    if isinstance(rule, NpsRule):
        return _nps(rule)
    if isinstance(rule, SupportRule):
        return _tickets(rule)
    if isinstance(rule, PraiseRule):
        return _messages(rule)
    raise ValueError(f"rule {rule.id}: {rule.kind} is not a record rule")


def _deals(kind: str) -> Iterator[Found]:
    from goodword.crm.models import Deal

    won = Deal.objects.filter(kind=kind, stage__is_won=True, closed_at__isnull=False)
    for deal in won.only("id", "account_id", "name", "amount", "currency", "closed_at"):
        assert deal.closed_at is not None
        yield Found(
            account_id=deal.account_id,
            key=f"deal:{deal.pk}",
            occurred_at=deal.closed_at,
            evidence=(
                f"{kind.capitalize()} deal “{deal.name}” won on {deal.closed_at:%Y-%m-%d}, "
                f"{deal.amount:,.0f} {deal.currency}"
            ),
            data={"deal_id": deal.pk, "amount": str(deal.amount), "currency": deal.currency},
        )


def _nps(rule: NpsRule) -> Iterator[Found]:
    answers = NpsResponse.objects.filter(score__gte=rule.min_score).only(
        "id", "account_id", "contact_id", "contact_email", "score", "comment", "responded_at"
    )
    for answer in answers:
        said = f": “{_quote(answer.comment)}”" if answer.comment.strip() else ""
        who = answer.contact_email or "a respondent"
        yield Found(
            account_id=answer.account_id,
            key=f"nps:{answer.pk}",
            occurred_at=answer.responded_at,
            contact_id=answer.contact_id,
            evidence=f"NPS {answer.score} from {who} on {answer.responded_at:%Y-%m-%d}{said}",
            data={"nps_id": answer.pk, "score": answer.score},
        )


def _tickets(rule: SupportRule) -> Iterator[Found]:
    good = Q(csat__gte=rule.min_csat)
    if rule.praise:
        good |= Q(praise__gte=rule.min_praise)
    tickets = Ticket.objects.filter(good, closed_at__isnull=False).only(
        "id", "external_id", "account_id", "contact_id", "contact_email", "closed_at",
        "csat", "csat_raw", "csat_scale", "praise", "text",
    )  # fmt: skip
    for ticket in tickets:
        assert ticket.closed_at is not None
        rated = ticket.csat is not None and ticket.csat >= rule.min_csat
        why = (
            f"rated {ticket.csat_raw} ({ticket.csat_scale})"
            if rated
            else f"praise in the ticket: “{_quote(ticket.text)}”"
        )
        yield Found(
            account_id=ticket.account_id,
            key=f"ticket:{ticket.pk}",
            occurred_at=ticket.closed_at,
            contact_id=ticket.contact_id,
            evidence=f"Ticket {ticket.external_id} closed on {ticket.closed_at:%Y-%m-%d}, {why}",
            data={"ticket_id": ticket.pk, "csat": ticket.csat, "praise": round(ticket.praise, 3)},
        )


def _messages(rule: PraiseRule) -> Iterator[Found]:
    messages = Message.objects.filter(praise__gte=rule.min_praise)
    if rule.channels:
        messages = messages.filter(channel__in=rule.channels)
    fields = ("id", "account_id", "contact_id", "contact_email", "channel", "text", "received_at")
    for message in messages.only(*fields):
        who = message.contact_email or "someone"
        yield Found(
            account_id=message.account_id,
            key=f"message:{message.pk}",
            occurred_at=message.received_at,
            contact_id=message.contact_id,
            evidence=(
                f"Praise from {who} ({message.channel}) on {message.received_at:%Y-%m-%d}: "
                f"“{_quote(message.text)}”"
            ),
            data={"message_id": message.pk, "praise": round(message.praise, 3)},
        )


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE else flat[: QUOTE - 1].rstrip() + "…"
