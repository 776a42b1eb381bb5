"""The rewards pages: the admins' reward rules, the managers' approval queue and fulfilment
list, and an advocate account's ledger, each table with its CSV export. Thin views: access
through the rewards selectors (404 for whoever may not see), writes through the services;
a refusal re-renders the page with its errors (status 400, nothing written)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goodword.crm.views import _csv_response, _next_url, _page, _query_without, _user, access
from goodword.lib.errors import Invalid
from goodword.referrals import rewards
from goodword.referrals.models import Reward, RewardKind, RewardRule, RewardTrigger

RULE_FIELDS = ("name", "trigger", "kind", "value", "currency", "hold_days")
HELD_SHOWN = 50


# --- rules ---------------------------------------------------------------------------------


@require_GET
@access
def rules_page(request: HttpRequest) -> HttpResponse:
    rules = rewards.rules_for(_user(request))
    return render(request, "referrals/rewards/rules.html", {"rules": rules})


RULE_CSV = ["id", "name", "trigger", "kind", "value", "currency", "hold_days", "active"]


@require_GET
@access
def rules_export(request: HttpRequest) -> Any:
    rules = rewards.rules_for(_user(request))
    rows = rules.values_list(*RULE_CSV, "created_at")
    return _csv_response("reward-rules.csv", [*RULE_CSV, "created_at"], rows.iterator())


def _rule_form(
    request: HttpRequest,
    rule: RewardRule | None,
    values: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    context = {
        "rule": rule,
        "values": values,
        "errors": errors or {},
        "general_errors": (errors or {}).get("__all__", []),
        "triggers": RewardTrigger.choices,
        "kinds": RewardKind.choices,
    }
    return render(
        request, "referrals/rewards/rule_form.html", context, status=400 if errors else 200
    )


def _posted_rule(request: HttpRequest) -> dict[str, Any]:
    return {field: request.POST.get(field, "") for field in RULE_FIELDS}


@require_http_methods(["GET", "HEAD", "POST"])
@access
def rule_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rewards.rules_for(user)  # 404 for anyone but an admin
    if request.method != "POST":
        return _rule_form(request, None, {"currency": "USD", "hold_days": "0", "value": "0"})
    data = _posted_rule(request)
    try:
        rewards.rule_create(actor=user, data=data, now=timezone.now())
    except Invalid as refused:
        return _rule_form(request, None, data, refused.errors)
    return redirect("rewards-rules")


@require_http_methods(["GET", "HEAD", "POST"])
@access
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = _user(request)
    rule = rewards.rule_get_for(user=user, rule_id=rule_id)
    if request.method != "POST":
        values = {field: getattr(rule, field) for field in RULE_FIELDS}
        return _rule_form(request, rule, {**values, "active": rule.active})
    data = {**_posted_rule(request), "active": request.POST.get("active") == "on"}
    try:
        rewards.rule_update(actor=user, rule=rule, data=data)
    except Invalid as refused:
        return _rule_form(request, rule, data, refused.errors)
    return redirect("rewards-rules")


@require_POST
@access
def rule_deactivate(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = _user(request)
    rule = rewards.rule_get_for(user=user, rule_id=rule_id)
    try:
        rewards.rule_deactivate(actor=user, rule=rule)
    except Invalid as refused:
        reasons = [f"{rule.name}: {r}" for rs in refused.errors.values() for r in rs]
        context = {"rules": rewards.rules_for(user), "refusals": reasons}
        return render(request, "referrals/rewards/rules.html", context, status=400)
    return redirect("rewards-rules")


# --- the approval queue and fulfilment -----------------------------------------------------


def _queue(request: HttpRequest, refusals: list[str] | None = None) -> HttpResponse:
    user = _user(request)
    held = rewards.rewards_held(user)
    context = {
        "page": _page(request, rewards.rewards_queue(user)),
        "query": _query_without(request, "page"),
        "held": held[:HELD_SHOWN],
        "held_count": held.count(),
        "refusals": refusals or [],
    }
    status = 400 if refusals else 200
    return render(request, "referrals/rewards/queue.html", context, status=status)


@require_GET
@access
def queue_page(request: HttpRequest) -> HttpResponse:
    return _queue(request)


def _fulfilment(request: HttpRequest, refusals: list[str] | None = None) -> HttpResponse:
    context = {
        "page": _page(request, rewards.rewards_to_fulfil(_user(request))),
        "query": _query_without(request, "page"),
        "refusals": refusals or [],
    }
    status = 400 if refusals else 200
    return render(request, "referrals/rewards/fulfilment.html", context, status=status)


@require_GET
@access
def fulfilment_page(request: HttpRequest) -> HttpResponse:
    return _fulfilment(request)


Decision = Callable[..., Reward]
DECISIONS: dict[str, tuple[Decision, str]] = {
    "approve": (rewards.reward_approve, "rewards-queue"),
    "reject": (rewards.reward_reject, "rewards-queue"),
    "override": (rewards.reward_override, "rewards-queue"),
    "fulfil": (rewards.reward_fulfil, "rewards-fulfilment"),
}


@require_POST
@access
def reward_decide(request: HttpRequest, reward_id: int, action: str) -> HttpResponse:
    """Approve, reject, override or fulfil one reward; back to the page the form was on."""
    user = _user(request)
    reward = rewards.reward_get_for(user=user, reward_id=reward_id)
    service, page = DECISIONS[action]
    note = request.POST.get("note", "")
    try:
        service(actor=user, reward=reward, now=timezone.now(), note=note)
    except Invalid as refused:
        # Shown above the table: a reward decided meanwhile is no longer in it.
        reasons = [f"Reward #{reward.pk}: {r}" for rs in refused.errors.values() for r in rs]
        return _fulfilment(request, reasons) if action == "fulfil" else _queue(request, reasons)
    return redirect(_next_url(request, reverse(page)))


# --- exports -------------------------------------------------------------------------------

REWARD_CSV = [
    "id",
    "status",
    "advocate_account",
    "advocate",
    "advocate_email",
    "person",
    "person_email",
    "introduction_id",
    "deal",
    "rule",
    "trigger",
    "kind",
    "value",
    "currency",
    "created_at",
    "available_at",
    "ineligible_because",
    "decided_by",
    "decided_at",
    "decision_note",
    "fulfilled_at",
    "fulfilment_note",
]


def _reward_row(r: Reward) -> list[Any]:
    intro, advocate = r.introduction, r.advocate
    return [
        r.pk,
        r.status,
        r.advocate_account.name,
        str(advocate) if advocate else "",
        advocate.email if advocate else "",
        intro.person_name,
        intro.person_email,
        intro.pk,
        r.deal.name if r.deal else "",
        r.rule.name,
        r.rule.trigger,
        r.kind,
        r.value,
        r.currency,
        r.created_at,
        r.available_at,
        r.ineligible_because,
        r.decided_by.email if r.decided_by else "",
        r.decided_at,
        r.decision_note,
        r.fulfilled_at,
        r.fulfilment_note,
    ]


def _reward_rows(qs: Iterable[Reward]) -> Iterator[list[Any]]:
    return (_reward_row(reward) for reward in qs)


def _export(filename: str, qs: Any) -> Any:
    return _csv_response(filename, REWARD_CSV, _reward_rows(qs.iterator(chunk_size=2000)))


@require_GET
@access
def queue_export(request: HttpRequest) -> Any:
    return _export("reward-queue.csv", rewards.rewards_queue(_user(request)))


@require_GET
@access
def fulfilment_export(request: HttpRequest) -> Any:
    """Approved and fulfilled rewards: the list to hand over, and what was handed over."""
    return _export("rewards-approved-fulfilled.csv", rewards.rewards_settled(_user(request)))


# --- an advocate account's ledger ----------------------------------------------------------


@require_GET
@access
def ledger_page(request: HttpRequest, account_id: int) -> HttpResponse:
    ledger = rewards.ledger_for(user=_user(request), account_id=account_id)
    context = {
        "ledger": ledger,
        "account": ledger.account,
        "page": _page(request, ledger.rewards),
        "query": _query_without(request, "page"),
    }
    return render(request, "referrals/rewards/ledger.html", context)


@require_GET
@access
def ledger_export(request: HttpRequest, account_id: int) -> Any:
    ledger = rewards.ledger_for(user=_user(request), account_id=account_id)
    return _export(f"rewards-account-{ledger.account.pk}.csv", ledger.rewards)


def _decision(action: str) -> Any:
    return path(
        f"rewards/<int:reward_id>/{action}/",
        reward_decide,
        {"action": action},
        name=f"rewards-{action}",
    )


urlpatterns = [
    path("rewards/rules/", rules_page, name="rewards-rules"),
    path("rewards/rules/export.csv", rules_export, name="rewards-rules-export"),
    path("rewards/rules/new/", rule_new, name="rewards-rule-new"),
    path("rewards/rules/<int:rule_id>/edit/", rule_edit, name="rewards-rule-edit"),
    path(
        "rewards/rules/<int:rule_id>/deactivate/",
        rule_deactivate,
        name="rewards-rule-deactivate",
    ),
    path("rewards/queue/", queue_page, name="rewards-queue"),
    path("rewards/queue/export.csv", queue_export, name="rewards-queue-export"),
    path("rewards/fulfilment/", fulfilment_page, name="rewards-fulfilment"),
    path("rewards/fulfilment/export.csv", fulfilment_export, name="rewards-fulfilment-export"),
    *[_decision(action) for action in DECISIONS],
    path("accounts/<int:account_id>/rewards/", ledger_page, name="rewards-ledger"),
    path(
        "accounts/<int:account_id>/rewards/export.csv",
        ledger_export,
        name="rewards-ledger-export",
    ),
]
