"""Shared fixtures: a small company with two teams, one user per role, and records owned by
some of them, so each test can say who may see what; and the browser-test plumbing: one
headless Debian chromium per session, a page per test, and a screenshot under
test-artifacts/ when a test fails."""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Callable, Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from goodword.crm.models import Account, Contact, Deal, Stage, Task
from goodword.crm.services import account_create, contact_create, deal_create, task_create
from goodword.users.models import User
from goodword.users.services import user_create

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is slow by design; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _peers_built_in_the_request(settings: Any) -> None:
    """Copies for whom to ask for built in a thread would outlive the test's database."""
    settings.PEERS_BUILD_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _own_event_store(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A DuckDB event store per test: one process may open a DuckDB file at a time, and
    test workers run side by side."""
    from goodword.config import EventsConfig

    folder = tmp_path_factory.mktemp("store")
    settings.EVENTS_STORE = EventsConfig("duckdb", path=str(folder / "events.duckdb"))


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def make(email: str, role: str = "rep", team: str = "East") -> User:
        return user_create(
            email=email,
            role=role,
            password=PASSWORD,
            team=team,
            first_name=email.split("@")[0].title(),
        )

    return make


@pytest.fixture
def rep(make_user: Callable[..., User]) -> User:
    return make_user("rep@example.com", "rep", "East")


@pytest.fixture
def other_rep(make_user: Callable[..., User]) -> User:
    return make_user("other.rep@example.com", "rep", "West")


@pytest.fixture
def csm(make_user: Callable[..., User]) -> User:
    return make_user("csm@example.com", "csm", "East")


@pytest.fixture
def manager(make_user: Callable[..., User]) -> User:
    return make_user("manager@example.com", "manager", "East")


@pytest.fixture
def other_manager(make_user: Callable[..., User]) -> User:
    return make_user("other.manager@example.com", "manager", "West")


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user("admin@example.com", "admin", "")


@pytest.fixture
def nobody(make_user: Callable[..., User]) -> User:
    """A rep who owns nothing."""
    return make_user("nobody@example.com", "rep", "")


@pytest.fixture
def stages(db: Any) -> dict[str, Stage]:
    # A transactional test elsewhere may have flushed the rows the data migration made.
    from django.apps import apps

    default_stages = importlib.import_module("goodword.crm.migrations.0003_default_stages")
    default_stages.create(apps, None)
    return {s.name: s for s in Stage.objects.all()}


@pytest.fixture
def account(rep: User, csm: User) -> Account:
    return account_create(
        actor=rep,
        owner=rep,
        csm=csm,
        data={
            "external_id": "ACC-1",
            "name": "Acme Analytics",
            "domain": "acme.io",
            "industry": "Software",
            "employees": 250,
            "country": "US",
            "lifecycle": "customer",
            "customer_since": "2025-01-15",
            "arr": "48000",
            "currency": "USD",
        },
    )


@pytest.fixture
def other_account(other_rep: User) -> Account:
    return account_create(
        actor=other_rep,
        owner=other_rep,
        data={
            "external_id": "ACC-2",
            "name": "Zenith Logistics",
            "domain": "zenith.example",
            "lifecycle": "prospect",
            "currency": "EUR",
        },
    )


@pytest.fixture
def contact(rep: User, account: Account) -> Contact:
    return contact_create(
        actor=rep,
        account=account,
        data={
            "external_id": "CON-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@acme.io",
            "title": "VP Operations",
            "phone": "+14155550100",
            "past_employers": "globex.com;initech.com",
        },
    )


@pytest.fixture
def other_contact(other_rep: User, other_account: Account) -> Contact:
    return contact_create(
        actor=other_rep,
        account=other_account,
        data={
            "external_id": "CON-2",
            "first_name": "Zed",
            "last_name": "Zimmer",
            "email": "zed@zenith.example",
        },
    )


@pytest.fixture
def prospect(rep: User) -> Account:
    """Globex, a prospect the rep owns."""
    return account_create(
        actor=rep,
        owner=rep,
        data={"external_id": "ACC-9", "name": "Globex", "domain": "globex.com"},
    )


@pytest.fixture
def referred(rep: User, prospect: Account, contact: Contact, stages: dict[str, Stage]) -> Deal:
    """Globex's new-business deal, owned by the rep, referred by Ada of Acme (a customer)."""
    return deal_create(
        actor=rep,
        account=prospect,
        owner=rep,
        stage=stages["Prospecting"],
        data={
            "external_id": "DEAL-9",
            "name": "Globex new",
            "amount": "9000",
            "kind": "new",
            "source": "referral",
        },
        referred_by=contact,
    )


@pytest.fixture
def deal(rep: User, account: Account, stages: dict[str, Stage]) -> Deal:
    return deal_create(
        actor=rep,
        account=account,
        owner=rep,
        stage=stages["Qualification"],
        data={
            "external_id": "DEAL-1",
            "name": "Acme expansion",
            "amount": "12000.00",
            "currency": "USD",
            "kind": "expansion",
            "source": "inbound",
            "close_date": "2026-12-31",
        },
    )


@pytest.fixture
def other_deal(other_rep: User, other_account: Account, stages: dict[str, Stage]) -> Deal:
    return deal_create(
        actor=other_rep,
        account=other_account,
        owner=other_rep,
        stage=stages["Prospecting"],
        data={
            "external_id": "DEAL-2",
            "name": "Zenith new",
            "amount": Decimal("5000"),
            "currency": "EUR",
            "kind": "new",
            "source": "outbound",
        },
    )


@pytest.fixture
def task(rep: User, account: Account, contact: Contact) -> Task:
    return task_create(
        actor=rep,
        owner=rep,
        account=account,
        contact=contact,
        data={
            "kind": "call",
            "subject": "Call Ada about the rollout",
            "due_at": (timezone.now() + dt.timedelta(days=1)).isoformat(),
        },
    )


@pytest.fixture
def ask(rep: User, account: Account, contact: Contact) -> Task:
    """An open referral ask, as the scan makes one: for the owner, naming the contact."""
    return task_create(
        actor=None,
        owner=rep,
        account=account,
        contact=contact,
        data={
            "kind": "referral_ask",
            "subject": "Ask Ada for a referral",
            "due_at": (timezone.now() + dt.timedelta(days=2)).isoformat(),
            "notes": "Rollout finished ahead of plan.",
        },
    )


@pytest.fixture
def other_task(other_rep: User, other_account: Account) -> Task:
    return task_create(
        actor=other_rep,
        owner=other_rep,
        account=other_account,
        data={
            "kind": "email",
            "subject": "Send Zenith the proposal",
            "due_at": timezone.now().isoformat(),
        },
    )


# --- browser tests ----------------------------------------------------------------

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(page: Any, base: str, user: Any) -> None:
    """Sign `user` in through the login form in the browser and wait for the home page."""
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
