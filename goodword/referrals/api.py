"""The referral endpoints of /api/v1/: an ask (why now, whom to ask for, drafted intros) and
its actions, introductions (list, one with its history and consents, withdrawal, a referral
logged by hand), a referred deal's credit (read; a manager's override), reward rules (admins),
rewards (the managers' queue and decisions; an advocate account's ledger) and the intro
templates (read by all; changed, previewed and reset by admins).

Thin like the CRM's: reach the object through its access function (404 for whoever may not
see it), call the service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.params.functions import Path

from goodword.crm import selectors as crm
from goodword.crm.api import (
    ERRORS,
    ListQuery,
    _api_field_names,
    _caller,
    _id_filter,
    _object_id,
    _page,
    _text_filter,
)
from goodword.crm.models import Contact, Lifecycle, Task, TaskKind
from goodword.crm.schemas import _opt
from goodword.lib.errors import Forbidden, Invalid, NotFound
from goodword.moments.models import Moment
from goodword.referrals import asks, rewards, services, texts
from goodword.referrals.credits import CreditShare, credits_for, credits_set
from goodword.referrals.models import Introduction, Reward
from goodword.referrals.schemas import (
    AskContactOut,
    AskEmailIn,
    AskMomentOut,
    AskOut,
    AskRecordedOut,
    AskRecordIn,
    ConsentOut,
    CreditOut,
    CreditsIn,
    CreditsOut,
    DecisionIn,
    DraftOut,
    IntroductionDetailOut,
    IntroductionOut,
    IntroductionPage,
    IntroStateValue,
    LedgerOut,
    LedgerTotalOut,
    PeerOut,
    PreviewOut,
    ReferralLogIn,
    RenderedOut,
    RewardActionValue,
    RewardOut,
    RewardPage,
    RewardStatusValue,
    RuleIn,
    RuleOut,
    RulePage,
    RulePatch,
    StepOut,
    TemplateIn,
    TemplateKindValue,
    TemplateOut,
    WithdrawIn,
)
from goodword.referrals.selectors import introduction_get_for, introductions_visible_to
from goodword.users.models import User

router = Router()

_PEERS_SHOWN = 10
_PATH = Path(...)


# --- an ask ----------------------------------------------------------------------------------


def _ask(user: User, task_id: int, *, write: bool = False) -> Task:
    task = crm.task_get_for(user=user, task_id=task_id, write=write)
    if task.kind != TaskKind.REFERRAL_ASK:
        raise NotFound("referral ask")
    return task


def _ask_contact(task: Task, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    found = Contact.objects.filter(pk=contact_id, account=task.account).first()
    if found is None:
        raise Invalid({"contact_id": ["is not a contact of the ask's account"]})
    return found


def _draft(d: texts.Draft) -> DraftOut:
    return DraftOut(kind=d.kind, label=d.label, subject=d.subject, text=d.text)


@router.get("/asks/{task_id}", response={200: AskOut, **ERRORS}, tags=["asks"])
def ask_get(request: HttpRequest, task_id: int = _object_id()) -> AskOut:
    """A referral ask as its page shows it: why now, the account's contacts and whether each
    may be asked now, whom to ask for (best first, with reasons) and the drafted intros."""
    task = _ask(_caller(request), task_id)
    overview = asks.ask_overview(task, now=timezone.now(), limit=_PEERS_SHOWN)
    contacts = [
        AskContactOut(
            id=c.pk,
            email=c.email,
            name=c.full_name,
            may_ask=block is None,
            blocked_because=block.reason if block else "",
            may_ask_from=block.until if block else None,
        )
        for c, block in overview.contacts
    ]
    peers, person = overview.peers, overview.person
    moments = Moment.objects.filter(ask=task).order_by("-occurred_at", "-id")
    return AskOut(
        id=task.pk,
        status=task.status,
        owner_email=task.owner.email,
        account_id=task.account_id,
        contact_id=task.contact_id,
        moments=[
            AskMomentOut(id=m.pk, kind=m.kind, evidence=m.evidence, occurred_at=m.occurred_at)
            for m in moments
        ],
        contacts=contacts,
        peers=[
            PeerOut(
                account_id=p.account_id,
                contact_id=p.contact_id,
                name=p.name,
                company=p.company,
                kind=p.kind,
                reasons=list(p.reasons),
            )
            for p in peers
        ],
        drafts=[_draft(d) for d in texts.drafts_for(ask=task, person=person)],
        ask_email=_draft(texts.ask_email_draft(ask=task, person=person)),
        introduction_ids=list(task.introductions.order_by("pk").values_list("pk", flat=True)),
    )


def _recorded(r: asks.Recorded) -> AskRecordedOut:
    return AskRecordedOut(
        ask_id=r.task.pk,
        introduction_id=r.introduction.pk if r.introduction else None,
        follow_up_task_id=r.follow_up.pk if r.follow_up else None,
        advocate_url=r.advocate_url or None,
    )


@router.post("/asks/{task_id}/record", response={200: AskRecordedOut, **ERRORS}, tags=["asks"])
def ask_record(request: HttpRequest, payload: AskRecordIn, task_id: int = _object_id()) -> Any:
    """Record that the ask was made and its outcome. On agreed an introduction starts: the
    advocate is emailed their link, or (email_link false) the link is returned once."""
    caller = _caller(request)
    task = _ask(caller, task_id, write=True)
    with _api_field_names():
        recorded = asks.ask_record(
            actor=caller,
            ask=task,
            channel=payload.channel,
            outcome=payload.outcome,
            contact=_ask_contact(task, payload.contact_id),
            person=payload.person.model_dump() if payload.person else None,
            note=payload.note,
            email_link=payload.email_link,
            now=timezone.now(),
        )
    return _recorded(recorded)


@router.post("/asks/{task_id}/email", response={200: AskRecordedOut, **ERRORS}, tags=["asks"])
def ask_email(request: HttpRequest, payload: AskEmailIn, task_id: int = _object_id()) -> Any:
    """Send the ask by email from Goodword, in the caller's words; the ask counts as made and
    an introduction waits for the advocate to name the person."""
    caller = _caller(request)
    task = _ask(caller, task_id, write=True)
    with _api_field_names():
        recorded = asks.ask_email_send(
            actor=caller,
            ask=task,
            subject=payload.subject,
            body=payload.body,
            contact=_ask_contact(task, payload.contact_id),
            person=payload.person.model_dump() if payload.person else None,
            now=timezone.now(),
        )
    return _recorded(recorded)


# --- introductions ---------------------------------------------------------------------------


class IntroductionQuery(ListQuery):
    state: IntroStateValue = _opt()
    owner_email: str = _text_filter("Owner's e-mail address.")
    advocate_account_id: int = _id_filter("Only introductions made by this account's contacts.")


def _intros(user: User) -> QuerySet[Introduction]:
    return introductions_visible_to(user).select_related("owner").order_by("-created_at", "-id")


@router.get("/introductions", response={200: IntroductionPage, **ERRORS}, tags=["introductions"])
def introductions_list(request: HttpRequest, query: Query[IntroductionQuery]) -> Any:
    """Introductions the caller may see, newest first."""
    qs = _intros(_caller(request))
    if query.state is not None:
        qs = qs.filter(state=query.state)
    if query.owner_email is not None:
        qs = qs.filter(owner__email__iexact=query.owner_email)
    if query.advocate_account_id is not None:
        qs = qs.filter(advocate_account_id=query.advocate_account_id)
    return _page(request, qs, query, IntroductionOut.of)


def _detail(intro: Introduction) -> IntroductionDetailOut:
    base = IntroductionOut.of(intro).model_dump()
    return IntroductionDetailOut(
        **base,
        steps=[StepOut.of(s) for s in intro.steps.select_related("actor")],
        consents=[ConsentOut.of(c) for c in intro.consents.select_related("recorded_by")],
    )


@router.get(
    "/introductions/{introduction_id}",
    response={200: IntroductionDetailOut, **ERRORS},
    tags=["introductions"],
)
def introduction_get(request: HttpRequest, introduction_id: int = _object_id()) -> Any:
    """One introduction with its history and every consent recorded for it."""
    user = _caller(request)
    return _detail(introduction_get_for(user=user, introduction_id=introduction_id))


@router.post(
    "/introductions/{introduction_id}/withdraw",
    response={200: IntroductionDetailOut, **ERRORS},
    tags=["introductions"],
)
def introduction_withdraw(
    request: HttpRequest, payload: WithdrawIn, introduction_id: int = _object_id()
) -> Any:
    """Call the introduction off before anyone is introduced (400 once it is too late)."""
    user = _caller(request)
    intro = introduction_get_for(user=user, introduction_id=introduction_id, write=True)
    services.intro_withdraw(intro=intro, actor=user, note=payload.note, now=timezone.now())
    intro.refresh_from_db()
    return _detail(intro)


@router.post("/referrals", response={201: IntroductionDetailOut, **ERRORS}, tags=["introductions"])
def referral_log(request: HttpRequest, payload: ReferralLogIn) -> Any:
    """A referral a customer made in person: with consent in_person the person is introduced
    at once (deal and credit as for any introduction); with email Goodword asks them first."""
    user = _caller(request)
    # 404 for a contact the caller may not see, 403 for one they may only look at.
    advocate = crm.contact_get_for(user=user, contact_id=payload.advocate_contact_id, write=True)
    if advocate.account.lifecycle != Lifecycle.CUSTOMER:
        raise Invalid({"advocate_contact_id": [f"{advocate.account.name} is not a customer"]})
    with _api_field_names():
        intro = services.referral_log(
            actor=user,
            advocate=advocate,
            data=payload.person.model_dump(),
            consent=payload.consent,
            notes=payload.notes,
            now=timezone.now(),
        )
    return Status(201, _detail(intro))


# --- a referred deal's credit ----------------------------------------------------------------


def _credits(deal_id: int, user: User) -> CreditsOut:
    deal = crm.deal_get_for(user=user, deal_id=deal_id)
    return CreditsOut(deal_id=deal.pk, credits=[CreditOut.of(c) for c in credits_for(deal)])


@router.get("/deals/{deal_id}/credits", response={200: CreditsOut, **ERRORS}, tags=["deals"])
def deal_credits(request: HttpRequest, deal_id: int = _object_id()) -> Any:
    """Who referred the deal and in what shares (empty for a deal that is no referral)."""
    return _credits(deal_id, _caller(request))


@router.put("/deals/{deal_id}/credits", response={200: CreditsOut, **ERRORS}, tags=["deals"])
def deal_credits_set(request: HttpRequest, payload: CreditsIn, deal_id: int = _object_id()) -> Any:
    """A manager's override of a referred deal's credit, saying why (audited). The shares
    sum to 100; a row keeping an advocate keeps the introduction it came from."""
    user = _caller(request)
    deal = crm.deal_get_for(user=user, deal_id=deal_id, write=True)
    shares = [
        CreditShare(s.advocate_account_id, s.advocate_contact_id, s.share) for s in payload.shares
    ]
    credits_set(actor=user, deal=deal, shares=shares, reason=payload.reason, now=timezone.now())
    return _credits(deal_id, user)


# --- reward rules ----------------------------------------------------------------------------


@router.get("/reward-rules", response={200: RulePage, **ERRORS}, tags=["rewards"])
def rules_list(request: HttpRequest, query: Query[ListQuery]) -> Any:
    """Every reward rule, active ones first (admins only)."""
    return _page(request, rewards.rules_for(_caller(request)), query, RuleOut.of)


@router.post("/reward-rules", response={201: RuleOut, **ERRORS}, tags=["rewards"])
def rule_create(request: HttpRequest, payload: RuleIn) -> Any:
    user = _caller(request)
    rewards.rules_for(user)  # 404 for anyone but admins, as the list
    data = payload.model_dump(mode="json", exclude_unset=True)
    rule = rewards.rule_create(actor=user, data=data, now=timezone.now())
    return Status(201, RuleOut.of(rule))


@router.patch("/reward-rules/{rule_id}", response={200: RuleOut, **ERRORS}, tags=["rewards"])
def rule_update(request: HttpRequest, payload: RulePatch, rule_id: int = _object_id()) -> Any:
    """Change a rule's fields; rewards already granted keep theirs."""
    user = _caller(request)
    rule = rewards.rule_get_for(user=user, rule_id=rule_id)
    current = {f: getattr(rule, f) for f in rewards.RULE_FIELDS}
    data = {**current, **payload.model_dump(mode="json", exclude_unset=True)}
    return RuleOut.of(rewards.rule_update(actor=user, rule=rule, data=data))


@router.post(
    "/reward-rules/{rule_id}/deactivate", response={200: RuleOut, **ERRORS}, tags=["rewards"]
)
def rule_deactivate(request: HttpRequest, rule_id: int = _object_id()) -> Any:
    """Stop a rule granting rewards (400 when it is inactive already)."""
    user = _caller(request)
    rule = rewards.rule_get_for(user=user, rule_id=rule_id)
    return RuleOut.of(rewards.rule_deactivate(actor=user, rule=rule))


# --- rewards ---------------------------------------------------------------------------------


class RewardQuery(ListQuery):
    status: RewardStatusValue = _opt()
    advocate_account_id: int = _id_filter("Only this advocate account's rewards.")


@router.get("/rewards", response={200: RewardPage, **ERRORS}, tags=["rewards"])
def rewards_list(request: HttpRequest, query: Query[RewardQuery]) -> Any:
    """Every reward, newest first (managers and admins)."""
    qs = rewards.rewards_visible_to(_caller(request))
    qs = qs.select_related("decided_by").order_by("-created_at", "-id")
    if query.status is not None:
        qs = qs.filter(status=query.status)
    if query.advocate_account_id is not None:
        qs = qs.filter(advocate_account_id=query.advocate_account_id)
    return _page(request, qs, query, RewardOut.of)


_DECISIONS: dict[str, Callable[..., Reward]] = {
    "approve": rewards.reward_approve,
    "reject": rewards.reward_reject,
    "override": rewards.reward_override,
    "fulfil": rewards.reward_fulfil,
}


@router.post("/rewards/{reward_id}/{action}", response={200: RewardOut, **ERRORS}, tags=["rewards"])
def reward_decide(
    request: HttpRequest,
    payload: DecisionIn,
    action: RewardActionValue = _PATH,
    reward_id: int = _object_id(),
) -> Any:
    """approve or reject a pending reward, override an ineligible one (with a note), or
    record that an approved one was handed over (fulfil)."""
    user = _caller(request)
    reward = rewards.reward_get_for(user=user, reward_id=reward_id)
    decided = _DECISIONS[action](actor=user, reward=reward, now=timezone.now(), note=payload.note)
    decided.refresh_from_db()
    return RewardOut.of(decided)


@router.get("/accounts/{account_id}/rewards", response={200: LedgerOut, **ERRORS}, tags=["rewards"])
def account_rewards(request: HttpRequest, account_id: int = _object_id()) -> Any:
    """An advocate account's ledger: its rewards, newest first, and their sums."""
    ledger = rewards.ledger_for(user=_caller(request), account_id=account_id)
    return LedgerOut(
        account_id=ledger.account.pk,
        totals=[
            LedgerTotalOut(
                currency=t.currency,
                status=t.status,  # type: ignore[arg-type]
                count=t.count,
                value=str(t.value),
            )
            for t in ledger.totals
        ],
        rewards=[RewardOut.of(r) for r in ledger.rewards[:500]],
    )


# --- intro templates -------------------------------------------------------------------------


def _template(c: texts.Current) -> TemplateOut:
    return TemplateOut(
        kind=c.kind,  # type: ignore[arg-type]
        label=c.label,
        subject=c.subject,
        body=c.body,
        is_default=c.row is None,
        updated_by_email=c.row.updated_by.email if c.row and c.row.updated_by else None,
        updated_at=c.row.updated_at if c.row else None,
    )


@router.get("/intro-templates", response={200: list[TemplateOut], **ERRORS}, tags=["templates"])
def templates_list(request: HttpRequest) -> Any:
    """Every intro template's wording in force (Goodword's own until an admin changes it)."""
    return [_template(c) for c in texts.templates_current()]


@router.put("/intro-templates/{kind}", response={200: TemplateOut, **ERRORS}, tags=["templates"])
def template_save(
    request: HttpRequest, payload: TemplateIn, kind: TemplateKindValue = _PATH
) -> Any:
    """An admin's wording of one template, in force from now (400 naming the line and
    column of a field that does not parse)."""
    texts.template_save(
        actor=_caller(request),
        kind=kind,
        subject=payload.subject,
        body=payload.body,
        now=timezone.now(),
    )
    return _template(texts.current_for(kind))


@router.post(
    "/intro-templates/{kind}/preview", response={200: PreviewOut, **ERRORS}, tags=["templates"]
)
def template_preview(
    request: HttpRequest, payload: TemplateIn, kind: TemplateKindValue = _PATH
) -> Any:
    """A wording filled in with sample values and with none (admins; saves nothing)."""
    if not _caller(request).is_admin_role:
        raise Forbidden("Only admins edit the intro templates.")
    p = texts.template_preview(kind=kind, subject=payload.subject, body=payload.body)
    return PreviewOut(
        errors=p.errors,
        sample=RenderedOut(subject=p.sample.subject, text=p.sample.text),
        bare=RenderedOut(subject=p.bare.subject, text=p.bare.text),
    )


@router.delete("/intro-templates/{kind}", response={200: TemplateOut, **ERRORS}, tags=["templates"])
def template_reset(request: HttpRequest, kind: TemplateKindValue = _PATH) -> Any:
    """Back to Goodword's own wording (admins)."""
    with transaction.atomic():
        texts.template_reset(actor=_caller(request), kind=kind)
    return _template(texts.current_for(kind))
