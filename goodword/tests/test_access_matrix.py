"""Every URL route and API operation, tried by every role against records that are not theirs.

Readers who may not see a record get 404 (the same answer as for a record that does not exist)
and nothing changes; a manager of another team may look but gets 403 on any change. The two
tables below must name every route and operation: a new one that is not added here fails
`test_every_route_is_covered` / `test_every_api_operation_is_covered`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from goodword.api import api
from goodword.crm.io.runs import importrun_create
from goodword.crm.models import (
    Account,
    Activity,
    Contact,
    Deal,
    DealStageChange,
    ImportRun,
    Stage,
    Task,
)
from goodword.handoffs.models import (
    ChecklistItem,
    Handoff,
    HandoffGoal,
    HandoffSettings,
    Stakeholder,
)
from goodword.jobs.models import Job
from goodword.moments.models import Moment, ProgrammeVersion
from goodword.referrals.models import (
    Consent,
    CreditChange,
    DealCredit,
    Introduction,
    IntroductionStep,
    IntroTemplate,
    Reward,
    RewardRule,
)
from goodword.reports.catalogue import NAMES as REPORT_NAMES
from goodword.reports.models import Rate, RateImport
from goodword.signals.models import (
    Event,
    Goal,
    Identity,
    IngestLog,
    Message,
    NpsResponse,
    Ticket,
    WriteKey,
)
from goodword.users.models import APIKey, User
from goodword.users.services import apikey_create


@dataclass(frozen=True)
class Route:
    target: str | None  # the object its path names: account, contact, deal, task; None: a list
    methods: tuple[str, ...]


# Web routes by name. Routes with no target are lists: foreign records must not appear in them.
WEB: dict[str, Route] = {
    "my-tasks": Route(None, ("GET",)),
    "tasks-export": Route(None, ("GET",)),
    "task-detail": Route("task", ("GET", "POST")),
    "task-edit": Route("task", ("GET", "POST")),
    "task-done": Route("task", ("GET", "POST")),
    "task-snooze": Route("task", ("GET", "POST")),
    "task-not-appropriate": Route("task", ("GET", "POST")),
    "accounts": Route(None, ("GET",)),
    "accounts-export": Route(None, ("GET",)),
    "account-detail": Route("account", ("GET", "POST")),
    "account-edit": Route("account", ("GET", "POST")),
    "contact-add": Route("account", ("GET", "POST")),
    "deal-add": Route("account", ("GET", "POST")),
    "task-add": Route("account", ("GET", "POST")),
    "contacts-export": Route(None, ("GET",)),
    "deals": Route(None, ("GET",)),
    "deals-board": Route(None, ("GET",)),
    "deals-export": Route(None, ("GET",)),
    "deal-detail": Route("deal", ("GET", "POST")),
    "deal-edit": Route("deal", ("GET", "POST")),
    "deal-move": Route("deal", ("GET", "POST")),
    "signals-nps": Route(None, ("GET",)),
    "signals-nps-export": Route(None, ("GET",)),
    "signals-tickets": Route(None, ("GET",)),
    "signals-tickets-export": Route(None, ("GET",)),
    "signals-messages": Route(None, ("GET",)),
    "signals-messages-export": Route(None, ("GET",)),
    "signals-goals": Route(None, ("GET",)),
    "signals-goals-export": Route(None, ("GET",)),
    "signals-weeks-export": Route(None, ("GET",)),
    "account-readiness": Route("account", ("GET",)),
    "moments-export": Route(None, ("GET",)),
    "ask-page": Route("ask", ("GET", "POST")),
    "ask-record": Route("ask", ("GET", "POST")),
    "ask-email": Route("ask", ("GET", "POST")),
    "intro-detail": Route("introduction", ("GET", "POST")),
    "intro-withdraw": Route("introduction", ("GET", "POST")),
    "referral-log": Route(None, ("GET",)),
    "intro-templates": Route(None, ("GET",)),
    "intro-board": Route(None, ("GET",)),
    "reports": Route(None, ("GET",)),
    "report-headlines": Route(None, ("GET",)),
    "account-digests": Route(None, ("GET", "POST")),
    "report-targets": Route(None, ("GET", "POST")),
    "report-targets-export": Route(None, ("GET",)),
    "handoffs": Route(None, ("GET",)),
    "handoffs-export": Route(None, ("GET",)),
    "handoff-detail": Route("handoff", ("GET", "POST")),
    "handoff-accept": Route("handoff", ("GET", "POST")),
    "handoff-assign": Route("handoff", ("GET", "POST")),
    "account-advocacy": Route("account", ("GET", "POST")),
    "rewards-ledger": Route("account", ("GET", "POST")),
    "rewards-ledger-export": Route("account", ("GET", "POST")),
}
# Pages for admins only: everyone else gets 404, as for a page that does not exist.
ADMIN_ONLY = {"intake-status", "rewards-rules", "rewards-rules-export"}
# Admin pages with a form: GET and POST are 404 for everyone else.
ADMIN_FORMS = {"programme-settings", "programme-backtest", "rewards-rule-new", "handoff-settings"}
# Admin forms about one reward rule: GET and POST are 404 for everyone else.
ADMIN_RULE_FORMS = {"rewards-rule-edit": ("GET", "POST"), "rewards-rule-deactivate": ("POST",)}
# The intro templates' forms, by kind: everyone may read the list (WEB), only admins change
# or preview a template (403 for everyone else, who can see the wording on the list); an
# unknown kind is 404 for all.
ADMIN_TEMPLATE_FORMS = {
    "intro-templates-edit": ("GET", "POST"),
    "intro-templates-preview": ("POST",),
    "intro-templates-reset": ("POST",),
}
# A reward's decisions (approve, reject, override, fulfil): for managers and admins, of any
# team (the approval queue is the programme's); 404 for reps, CSMs and users without a role.
REWARD_DECISIONS = {"rewards-approve", "rewards-reject", "rewards-override", "rewards-fulfil"}
# Pages for admins and managers: 404 for reps and CSMs.
LEADS_ONLY = {
    "scans",
    "rewards-queue",
    "rewards-queue-export",
    "rewards-fulfilment",
    "rewards-fulfilment-export",
    "rates",
    "rates-export",
    "report-costs",
    "report-costs-export",
    "report-spend-export",
}
# The rates' import forms and the programme costs' and spend's forms (POST only): 404 for reps,
# CSMs and users without a role, 403 for managers, who may read them.
RATE_FORMS = {"rates-check", "rates-import", "report-costs-save", "report-spend-save"}
# A report's page, by name: everyone signed in reads it, over the deals they may see.
REPORT_PAGES = {"report"}
# A handoff's checklist item (two ids in the path) and the deal page's link to its handoff
# (a redirect): test_handoff_item_and_deal_link_hide_foreign_handoffs.
HANDOFF_LINKS = {"handoff-checklist", "deal-handoff"}
# Routes open to anyone. The API (api/…) is covered operation by operation in API below.
PUBLIC = {"login", "logout"}
# Pages people outside the company open from our emails: the key in the path is the only
# credential (referrals/tests/test_public_views.py covers them: GET changes nothing, each
# broken key gets a page that tells nothing).
PUBLIC |= {"intro-advocate", "intro-consent", "intro-unsubscribe"}
# Segment-compatible event intake: its own keys (write keys, ingest API keys), no session.
INGEST = {
    "ingest-track",
    "ingest-identify",
    "ingest-group",
    "ingest-page",
    "ingest-screen",
    "ingest-batch",
}

# API operations: "METHOD path" → what the path or body names.
API: dict[str, str | None] = {
    "GET /api/v1/accounts": None,
    "POST /api/v1/accounts": "create",
    "GET /api/v1/accounts/{account_id}": "account",
    "PATCH /api/v1/accounts/{account_id}": "account",
    "GET /api/v1/contacts": None,
    "POST /api/v1/contacts": "body:account",
    "GET /api/v1/contacts/{contact_id}": "contact",
    "PATCH /api/v1/contacts/{contact_id}": "contact",
    "GET /api/v1/stages": "stages",
    "GET /api/v1/deals": None,
    "POST /api/v1/deals": "body:account",
    "GET /api/v1/deals/{deal_id}": "deal",
    "PATCH /api/v1/deals/{deal_id}": "deal",
    "GET /api/v1/tasks": None,
    "POST /api/v1/tasks": "body:account",
    "GET /api/v1/tasks/{task_id}": "task",
    "PATCH /api/v1/tasks/{task_id}": "task",
    "POST /api/v1/tasks/{task_id}/snooze": "task",
    "POST /api/v1/tasks/{task_id}/not-appropriate": "task",
    "GET /api/v1/accounts/{account_id}/readiness": "account",
    "GET /api/v1/moments": None,
    # Imports are for admins only: see test_only_admins_may_import_or_read_import_runs.
    "POST /api/v1/imports/{kind}": "import",
    "GET /api/v1/import-runs/{run_id}": "import",
    "GET /api/v1/asks/{task_id}": "ask",
    "POST /api/v1/asks/{task_id}/record": "ask",
    "POST /api/v1/asks/{task_id}/email": "ask",
    "GET /api/v1/introductions": None,
    "GET /api/v1/introductions/{introduction_id}": "introduction",
    "POST /api/v1/introductions/{introduction_id}/withdraw": "introduction",
    "POST /api/v1/referrals": "body:contact",
    "GET /api/v1/deals/{deal_id}/credits": "deal",
    "PUT /api/v1/deals/{deal_id}/credits": "deal",
    "GET /api/v1/accounts/{account_id}/rewards": "account",
    # Reward rules are for admins, rewards for managers and admins (404 for everyone else);
    # see test_api_reward_operations_are_404_for_those_who_may_not.
    "GET /api/v1/reward-rules": "admins",
    "POST /api/v1/reward-rules": "admins",
    "PATCH /api/v1/reward-rules/{rule_id}": "admins",
    "POST /api/v1/reward-rules/{rule_id}/deactivate": "admins",
    "GET /api/v1/rewards": "leads",
    "POST /api/v1/rewards/{reward_id}/{action}": "leads",
    # Everyone reads the intro templates; only admins change them (403 for everyone else).
    "GET /api/v1/intro-templates": "templates",
    "PUT /api/v1/intro-templates/{kind}": "templates:admin",
    "POST /api/v1/intro-templates/{kind}/preview": "templates:admin",
    "DELETE /api/v1/intro-templates/{kind}": "templates:admin",
    # Rates: managers and admins read them, admins import (test_api_rates_import_only_admins).
    "GET /api/v1/rates": "leads",
    "POST /api/v1/rates/import": "rates:admin",
    # Reports: everyone, over the deals they may see (test_reports_show_only_what_one_may_see).
    "GET /api/v1/reports/{name}": "reports",
    "GET /api/v1/handoffs": None,
    "GET /api/v1/handoffs/{handoff_id}": "handoff",
    "PATCH /api/v1/handoffs/{handoff_id}": "handoff",
    "POST /api/v1/handoffs/{handoff_id}/accept": "handoff",
    "POST /api/v1/handoffs/{handoff_id}/assign": "handoff",
    "PUT /api/v1/handoffs/{handoff_id}/checklist/{item_id}": "handoff",
}
# Operations tried by test_api_operation_hides_foreign_records: those naming a record.
NOT_FOREIGN = {
    "create",
    "stages",
    "import",
    "admins",
    "leads",
    "templates",
    "templates:admin",
    "rates:admin",
    "reports",
}
PATH_IDS = {
    "account": "account_id",
    "contact": "contact_id",
    "deal": "deal_id",
    "task": "task_id",
    "ask": "task_id",
    "introduction": "introduction_id",
    "handoff": "handoff_id",
}

# Readers to whom the West team's records are foreign: they must get 404.
BLIND = ["rep", "csm", "nobody"]


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern.name))
    return found


def _api_operations() -> set[str]:
    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
    }


def test_every_route_is_covered():
    names = {
        name
        for route, name in _walk(get_resolver().url_patterns)
        if not route.startswith(("admin/", "api/"))
    }
    special = PUBLIC | INGEST | ADMIN_ONLY | ADMIN_FORMS | LEADS_ONLY | REWARD_DECISIONS
    special |= set(ADMIN_RULE_FORMS) | set(ADMIN_TEMPLATE_FORMS) | RATE_FORMS | REPORT_PAGES
    special |= HANDOFF_LINKS
    assert names - special == set(WEB)


@pytest.mark.parametrize("name", sorted(INGEST))
def test_event_intake_needs_a_key_not_a_session(client, name, rep, account):
    # given a logged-in user without any key
    client.force_login(rep)
    before = snapshot()
    body = {"userId": "u1", "event": "x", "groupId": "ACC-1", "batch": []}
    answer = client.post(reverse(name), data=body, content_type="application/json")
    assert answer.status_code == 401
    # then nothing changed but the intake's count of refused requests
    assert list(IngestLog.objects.values_list("rejected", flat=True)) == [
        {"unknown or missing key (requests)": 1}
    ]
    IngestLog.objects.all().delete()
    assert snapshot() == before


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_admin_only_route_is_404_for_everyone_else(client, world, role, name):
    # given a signed-in user who is not an admin
    client.force_login(world["users"][role])
    before = snapshot()
    # when they ask for an admin page, then it does not exist for them; POST is not a method
    assert client.get(reverse(name)).status_code == 404
    assert client.post(reverse(name), _post_data()).status_code == 405
    assert snapshot() == before
    # and an admin sees it
    client.force_login(world["users"]["admin"])
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize("name", sorted(ADMIN_FORMS))
def test_admin_form_is_404_for_everyone_else(client, world, role, name):
    # given a signed-in user who is not an admin
    client.force_login(world["users"][role])
    before = snapshot()
    # when they open or post the admin form, then it does not exist for them
    assert client.get(reverse(name)).status_code == 404
    assert client.post(reverse(name), _post_data()).status_code == 404
    assert snapshot() == before
    client.force_login(world["users"]["admin"])
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("role", ["rep", "csm", "nobody"])
@pytest.mark.parametrize("name", sorted(LEADS_ONLY))
def test_leads_only_route_is_404_for_reps_and_csms(client, world, role, name):
    client.force_login(world["users"][role])
    assert client.get(reverse(name)).status_code == 404
    assert client.post(reverse(name), _post_data()).status_code == 405
    for lead in ("manager", "admin"):
        client.force_login(world["users"][lead])
        assert client.get(reverse(name)).status_code == 200


def _answers(client: Any, url: str, methods: tuple[str, ...]) -> dict[str, int]:
    """GET and POST on url: the methods the route takes, then 405 for the other one."""
    return {
        "GET": client.get(url).status_code,
        "POST": client.post(url, _post_data()).status_code,
    }


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize("name", sorted(ADMIN_RULE_FORMS))
def test_a_reward_rule_is_404_for_everyone_but_admins(client, rewarded, role, name):
    world, rule = rewarded, rewarded["rule"]
    client.force_login(world["users"][role])
    before = snapshot()
    answers = _answers(client, reverse(name, args=[rule.pk]), ADMIN_RULE_FORMS[name])
    for method, status in answers.items():
        assert status == (404 if method in ADMIN_RULE_FORMS[name] else 405), (method, status)
    assert snapshot() == before


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize("name", sorted(ADMIN_TEMPLATE_FORMS))
def test_an_intro_template_changes_only_for_admins(client, world, role, name):
    client.force_login(world["users"][role])
    before = snapshot()
    methods = ADMIN_TEMPLATE_FORMS[name]
    answers = _answers(client, reverse(name, args=["blurb"]), methods)
    for method, status in answers.items():
        assert status == (403 if method in methods else 405), (method, status)
    unknown = _answers(client, reverse(name, args=["no-such-kind"]), methods)
    for method, status in unknown.items():
        assert status == (404 if method in methods else 405), (method, status)
    assert snapshot() == before


@pytest.mark.parametrize("role", ["rep", "csm", "nobody"])
@pytest.mark.parametrize("name", sorted(REWARD_DECISIONS))
def test_a_rewards_decision_is_404_for_reps_and_csms(client, rewarded, role, name):
    world, reward = rewarded, rewarded["reward"]
    client.force_login(world["users"][role])
    before = snapshot()
    answers = _answers(client, reverse(name, args=[reward.pk]), ("POST",))
    assert answers == {"GET": 405, "POST": 404}
    assert snapshot() == before


def test_every_api_operation_is_covered():
    assert _api_operations() == set(API)


def snapshot() -> list[Any]:
    """Every row a request could change, to compare before and after."""
    models: list[type[Model]] = [
        Account,
        Contact,
        Deal,
        DealStageChange,
        Task,
        Activity,
        Job,
        User,
        Event,
        Identity,
        IngestLog,
        NpsResponse,
        Ticket,
        Message,
        Goal,
        ImportRun,
        WriteKey,
        Moment,
        ProgrammeVersion,
        Introduction,
        IntroductionStep,
        Consent,
        DealCredit,
        CreditChange,
        IntroTemplate,
        RewardRule,
        Reward,
        Rate,
        RateImport,
        Handoff,
        HandoffGoal,
        Stakeholder,
        ChecklistItem,
        HandoffSettings,
        APIKey,  # last: API tests leave out its last_used_at, which a request may set
    ]
    return [list(m._default_manager.order_by("pk").values()) for m in models]


@pytest.fixture
def world(
    rep,
    csm,
    nobody,
    manager,
    other_manager,
    admin_user,
    account,
    contact,
    deal,
    task,
    other_account,
    other_contact,
    other_deal,
    other_task,
):
    """East: rep owns, csm looks after, manager leads. West: other_rep, other_manager."""
    return {
        "users": {
            "rep": rep,
            "csm": csm,
            "nobody": nobody,
            "manager": manager,
            "other_manager": other_manager,
            "admin": admin_user,
        },
        "west": {
            "account": other_account,
            "contact": other_contact,
            "deal": other_deal,
            "task": other_task,
            "moment": _moment(other_account),
            "introduction": _introduction(other_contact, other_account.owner),
            "ask": _ask(other_contact, other_account.owner),
            "handoff": _handoff(other_deal),
        },
        "east": {
            "account": account,
            "contact": contact,
            "deal": deal,
            "task": task,
            "introduction": _introduction(contact, account.owner),
            "ask": _ask(contact, account.owner),
            "handoff": _handoff(deal),
        },
        "rule": _rule(),
    }


@pytest.fixture
def rewarded(world: dict[str, Any]) -> dict[str, Any]:
    """The world with a reward rule and a West advocate's pending reward."""
    west = world["west"]
    rule = _rule()
    return {**world, "rule": rule, "reward": _reward(rule, west["introduction"], west["deal"])}


def _handoff(deal: Deal) -> Handoff:
    """A handoff of the deal as if it had been won, with one checklist item."""
    now = dt.datetime.now(dt.UTC)
    handoff = Handoff.objects.create(deal=deal, created_at=now, updated_at=now, accept_by=now)
    ChecklistItem.objects.create(handoff=handoff, label="Kickoff booked", position=1)
    return handoff


def _rule() -> RewardRule:
    return RewardRule.objects.create(
        name="Thank-you gift",
        trigger="won",
        kind="gift_card",
        value="50.00",
        currency="USD",
        hold_days=0,
        active=True,
        created_at=dt.datetime.now(dt.UTC),
    )


def _reward(rule: RewardRule, introduction: Introduction, deal: Deal) -> Reward:
    now = dt.datetime.now(dt.UTC)
    return Reward.objects.create(
        rule=rule,
        introduction=introduction,
        advocate_account=introduction.advocate_account,
        advocate=introduction.advocate,
        deal=deal,
        kind="gift_card",
        value="50.00",
        currency="USD",
        status="pending",
        created_at=now,
        available_at=now,
    )


def _moment(account: Account) -> Moment:
    now = dt.datetime.now(dt.UTC)
    return Moment.objects.create(
        account=account,
        rule_id="promoter",
        kind="nps",
        key="nps:1",
        occurred_at=now,
        evidence="NPS 10 from a West customer",
        found_at=now,
        updated_at=now,
    )


def _ask(contact: Contact, owner: User) -> Task:
    now = dt.datetime.now(dt.UTC)
    return Task.objects.create(
        kind="referral_ask",
        subject=f"Ask {contact.email} for a referral",
        owner=owner,
        account=contact.account,
        contact=contact,
        due_at=now,
        created_at=now,
    )


def _introduction(advocate: Contact, owner: User | None) -> Introduction:
    now = dt.datetime.now(dt.UTC)
    return Introduction.objects.create(
        state="advocate_agreed",
        advocate_account=advocate.account,
        advocate=advocate,
        owner=owner,
        person_name="Secret Person",
        person_email="secret.person@example.com",
        waiting_since=now,
        created_at=now,
        updated_at=now,
    )


def _post_data() -> dict[str, str]:
    """Valid-looking input for every form, so that only the access check can stop it."""
    won = Stage.objects.get(is_won=True)
    return {
        "name": "Taken over",
        "subject": "Taken over",
        "email": "intruder@example.com",
        "first_name": "In",
        "last_name": "Truder",
        "stage": str(won.pk),
        "stage_id": str(won.pk),
        "amount": "1.00",
        "currency": "USD",
        "kind": "new",
        "source": "other",
        "lifecycle": "churned",
        "outcome": "done",
        "due_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "status": "done",
        "until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat(),
        "reason": "Taken over",
    }


def _path(name: str, route: Route, target: Any) -> str:
    return reverse(name, args=[target.pk]) if route.target else reverse(name)


def _visible_text(kind: str, obj: Any) -> str:
    return {
        "account": obj.name if kind == "account" else "",
        "contact": getattr(obj, "email", ""),
        "deal": getattr(obj, "name", ""),
        "task": getattr(obj, "subject", ""),
        "moment": getattr(obj, "evidence", ""),
        "introduction": getattr(obj, "person_email", ""),
        "ask": getattr(obj, "subject", ""),
        "handoff": f'href="/handoffs/{obj.pk}/"',
    }[kind]


@pytest.mark.parametrize("role", BLIND)
@pytest.mark.parametrize("name", sorted(WEB))
def test_web_route_hides_foreign_records(client, world, role, name):
    route = WEB[name]
    client.force_login(world["users"][role])
    before = snapshot()
    if route.target is None:
        response = client.get(reverse(name))
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for kind, obj in world["west"].items():
            assert _visible_text(kind, obj).encode() not in body, (name, kind)
    else:
        target = world["west"][route.target]
        answers = {}
        for method in route.methods:
            url = _path(name, route, target)
            response = client.get(url) if method == "GET" else client.post(url, _post_data())
            answers[method] = response.status_code
        # 405 for a method the route does not take; 404 for every method it does.
        assert set(answers.values()) <= {404, 405}, (name, answers)
        assert 404 in answers.values(), (name, answers)
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(n for n, r in WEB.items() if r.target))
def test_manager_of_another_team_may_look_but_not_change(client, world, name):
    route = WEB[name]
    client.force_login(world["users"]["other_manager"])
    target = world["east"][route.target]
    before = snapshot()
    url = _path(name, route, target)
    response = client.post(url, _post_data())
    assert response.status_code in {403, 405}, response.status_code
    if "GET" in route.methods:
        assert client.get(url).status_code in {200, 405}
    assert snapshot() == before


def test_admin_site_is_closed_to_everyone_but_admins(client, world):
    for role in ("rep", "csm", "nobody", "manager"):
        client.force_login(world["users"][role])
        response = client.get("/admin/crm/account/")
        assert response.status_code == 302, role
        assert "/login" in response["Location"]
    client.force_login(world["users"]["admin"])
    assert client.get("/admin/crm/account/").status_code == 200


def _bearer(user: User) -> dict[str, str]:
    _, key = apikey_create(user=user, scopes=["read", "write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def _api_call(
    client, operation: str, target_kind: str | None, west: dict[str, Any], headers: dict[str, str]
):
    method, template = operation.split(" ", 1)
    path = template
    resource = template.split("/")[3]
    bodies: dict[str, dict[str, Any]] = {
        "accounts": {"name": "Taken over"},
        "contacts": {"email": "intruder@example.com"},
        "deals": {"name": "Taken over"},
        "tasks": {"subject": "Taken over"},
        "moments": {},
        "asks": {"channel": "call", "outcome": "declined"},
        "introductions": {"note": "Taken over"},
        "referrals": {
            "person": {"name": "In Truder", "email": "intruder@example.com"},
            "consent": "in_person",
        },
        "handoffs": {"promised": "Taken over"},
    }
    body = bodies[resource]
    # Actions take their own bodies; a valid one, so only the access check stops it.
    action = template.rsplit("/", 1)[1]
    if action == "snooze":
        body = {"until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()}
    elif action == "not-appropriate":
        body = {"reason": "Taken over"}
    elif action == "email":
        body = {"subject": "Taken over", "body": "Taken over"}
    elif action == "assign":
        body = {"csm_email": None}
    elif action == "accept":
        body = {}
    elif "{item_id}" in template:
        body = {"done": True}
        template = template.replace("{item_id}", str(west["handoff"].checklist.first().pk))
    elif action == "credits":
        account = west["account"]
        body = {"shares": [{"advocate_account_id": account.pk, "share": "100"}], "reason": "x"}
    if target_kind in PATH_IDS:
        path = template.replace("{" + PATH_IDS[target_kind] + "}", str(west[target_kind].pk))
    if target_kind == "body:account":
        body["account_id"] = west["account"].pk
    if target_kind == "body:contact":
        body["advocate_contact_id"] = west["contact"].pk
    if method == "GET":
        return client.get(path, **headers)
    if method in {"PATCH", "PUT"}:
        send = client.patch if method == "PATCH" else client.put
        return send(path, body, content_type="application/json", **headers)
    return client.post(path, body, content_type="application/json", **headers)


@pytest.mark.parametrize("role", BLIND)
# Creating an account or listing stages names no existing record: nothing foreign to reach.
@pytest.mark.parametrize(
    "operation",
    sorted(op for op, kind in API.items() if kind not in NOT_FOREIGN),
)
def test_api_operation_hides_foreign_records(client, world, role, operation):
    target_kind = API[operation]
    headers = _bearer(world["users"][role])
    before = snapshot()
    response = _api_call(client, operation, target_kind, world["west"], headers)
    if target_kind is None:
        assert response.status_code == 200
        ids = {item["id"] for item in response.json()["items"]}
        kind = operation.split("/")[-1].rstrip("s")
        assert world["west"][kind].pk not in ids
    else:
        assert response.status_code == 404, (operation, response.status_code, response.content)
        assert response.json()["code"] == "not_found"
    # The key's last_used_at may change; every other row must not.
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize(
    "operation",
    sorted(
        op
        for op, t in API.items()
        if t not in NOT_FOREIGN
        and (
            op.startswith(("PATCH", "PUT"))
            or (op.startswith("POST") and t in {"task", "ask", "introduction", "body:contact"})
        )
    ),
)
def test_api_manager_of_another_team_cannot_change(client, world, operation):
    headers = _bearer(world["users"]["other_manager"])
    before = snapshot()
    response = _api_call(client, operation, API[operation], world["east"], headers)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize(
    "operation", sorted(op for op, kind in API.items() if kind in {"admins", "leads"})
)
def test_api_reward_operations_are_404_for_those_who_may_not(client, rewarded, role, operation):
    if API[operation] == "leads" and role in {"manager", "other_manager"}:
        pytest.skip("managers decide rewards (goodword/referrals/tests/test_api.py)")
    headers = _bearer(rewarded["users"][role])
    method, path = operation.split(" ", 1)
    path = path.replace("{rule_id}", str(rewarded["rule"].pk))
    path = path.replace("{reward_id}", str(rewarded["reward"].pk)).replace("{action}", "approve")
    before = snapshot()
    body: dict[str, Any] = {"name": "Taken over", "trigger": "won", "kind": "swag"}
    if "{reward_id}" in operation:
        body = {"note": "Taken over"}
    if method == "GET":
        response = client.get(path, **headers)
    elif method == "PATCH":
        response = client.patch(path, body, content_type="application/json", **headers)
    else:
        response = client.post(path, body, content_type="application/json", **headers)
    assert response.status_code == 404, (operation, response.content)
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize(
    "operation", sorted(op for op, kind in API.items() if kind == "templates:admin")
)
def test_api_intro_templates_change_only_for_admins(client, world, role, operation):
    headers = _bearer(world["users"][role])
    method, path = operation.split(" ", 1)
    before = snapshot()
    body = {"subject": "", "body": "Taken over"}
    for kind, status in (("blurb", 403), ("no-such-kind", 422)):
        url = path.replace("{kind}", kind)
        if method == "DELETE":
            response = client.delete(url, **headers)
        else:
            send = client.put if method == "PUT" else client.post
            response = send(url, body, content_type="application/json", **headers)
        assert response.status_code == status, (operation, kind, response.content)
    assert client.get("/api/v1/intro-templates", **headers).status_code == 200
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager"])
def test_only_admins_may_import_or_read_import_runs(client, world, role, tmp_path):
    # given an import run an admin started
    upload = tmp_path / "nps.csv"
    upload.write_bytes(b"external_id,account_external_id,score,responded_at\n")
    with upload.open("rb") as stream:
        run = importrun_create(
            actor=world["users"]["admin"], kind="nps", filename="nps.csv", stream=stream
        )
    headers = _bearer(world["users"][role])
    before = snapshot()
    # when anyone else uploads a file or asks for the run
    with upload.open("rb") as stream:
        posted = client.post("/api/v1/imports/nps", {"file": stream}, **headers)
    got = client.get(f"/api/v1/import-runs/{run.pk}", **headers)
    # then the upload is refused, the run is not found, and nothing changed
    assert (posted.status_code, posted.json()["code"]) == (403, "forbidden")
    assert (got.status_code, got.json()["code"]) == (404, "not_found")
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
@pytest.mark.parametrize("name", sorted(RATE_FORMS))
def test_rates_import_forms_only_for_admins(client, world, role, name):
    client.force_login(world["users"][role])
    before = snapshot()
    assert client.get(reverse(name)).status_code == 405
    expected = 403 if role in {"manager", "other_manager"} else 404
    assert client.post(reverse(name), _post_data()).status_code == expected
    assert snapshot() == before


@pytest.mark.parametrize("role", BLIND)
@pytest.mark.parametrize("report", REPORT_NAMES)
def test_reports_show_only_what_one_may_see(client, world, role, report):
    # given the other team's deal, worth an amount nobody else's is
    west = world["west"]["deal"]
    Deal.objects.filter(pk=west.pk).update(amount="987654.32", source="referral")
    client.force_login(world["users"][role])
    before = snapshot()
    # when a user who may not see it opens the report, its CSV or its JSON
    page = client.get(reverse("report", args=[report]))
    headers = _bearer(world["users"][role])
    answer = client.get(f"/api/v1/reports/{report}", **headers)
    # then the figures leave it out, and nothing changed
    assert page.status_code == 200
    assert answer.status_code == 200
    for body in (page.content, answer.content):
        assert b"987654.32" not in body
        assert b"987,654.32" not in body
        assert west.name.encode() not in body
    assert client.post(reverse("report", args=[report])).status_code == 405
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", ["rep", "csm", "nobody", "manager", "other_manager"])
def test_api_rates_import_only_admins(client, world, role):
    headers = _bearer(world["users"][role])
    before = snapshot()
    body = {"rows": [{"day": "2026-01-05", "currency": "EUR", "rate": "1.1"}]}
    response = client.post("/api/v1/rates/import", body, content_type="application/json", **headers)
    expected = 403 if role in {"manager", "other_manager"} else 404
    assert response.status_code == expected, response.content
    assert snapshot()[:-1] == before[:-1]


@pytest.mark.parametrize("role", BLIND)
def test_handoff_item_and_deal_link_hide_foreign_handoffs(client, world, role):
    # given the West deal's handoff and its checklist item
    handoff = world["west"]["handoff"]
    item = handoff.checklist.first()
    client.force_login(world["users"][role])
    before = snapshot()
    # when a user who may not see it ticks the item or follows the deal's link
    ticked = client.post(reverse("handoff-checklist", args=[handoff.pk, item.pk]), {"done": "1"})
    linked = client.get(reverse("deal-handoff", args=[world["west"]["deal"].pk]))
    # then neither exists for them, and nothing changed
    assert (ticked.status_code, linked.status_code) == (404, 404)
    assert snapshot() == before
    # and the other team's manager may follow the link but not tick the item
    client.force_login(world["users"]["other_manager"])
    before = snapshot()
    east = world["east"]["handoff"]
    east_item = east.checklist.first()
    assert client.get(reverse("deal-handoff", args=[world["east"]["deal"].pk])).status_code == 302
    answer = client.post(reverse("handoff-checklist", args=[east.pk, east_item.pk]), {"done": "1"})
    assert answer.status_code == 403
    assert snapshot() == before
