"""The CRM endpoints of /api/v1/: accounts, contacts, deals, tasks and the pipeline stages.

Thin on purpose: parse, reach the object through the selectors' access functions, call a
service, render. Lists are paginated with limit/offset and report the total count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.params.functions import Path
from pydantic import BeforeValidator, ConfigDict

from goodword.crm import selectors, services
from goodword.crm.io.runs import importrun_create
from goodword.crm.models import Account, Contact, Deal, ImportRun, Stage
from goodword.crm.schemas import (
    MAX_ID,
    NO_NUL,
    AccountIn,
    AccountOut,
    AccountPage,
    AccountPatch,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    DealIn,
    DealKindValue,
    DealOut,
    DealPage,
    DealPatch,
    DealSourceValue,
    ErrorOut,
    IsoDateTime,
    LifecycleValue,
    StageOut,
    TaskIn,
    TaskNotAppropriateIn,
    TaskOut,
    TaskPage,
    TaskPatch,
    TaskSnoozeIn,
    TaskStatusValue,
    _drop_null_defaults,
    _opt,
)
from goodword.lib.errors import Invalid
from goodword.users.models import User

router = Router()

ERRORS: dict[int, type[Schema]] = {code: ErrorOut for code in (400, 401, 403, 404, 422)}

# Services name the objects they refuse (owner, contact); the API's clients know the fields.
_FIELD_NAMES = {
    "owner": "owner_email",
    "csm": "csm_email",
    "contact": "contact_id",
    "deal": "deal_id",
    "stage": "stage_id",
    "referred_by": "referred_by_contact_id",
}


@contextmanager
def _api_field_names() -> Iterator[None]:
    try:
        yield
    except Invalid as exc:
        raise Invalid({_FIELD_NAMES.get(k, k): v for k, v in exc.errors.items()}) from None


def _caller(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "APIKeyAuth sets request.user"
    return user


def _active_user(field: str, email: str | None) -> User | None:
    if email is None:
        return None
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise Invalid({field: [f"no active user has the e-mail address {email!r}"]})
    return user


def _body(payload: Schema, *drop: str) -> dict[str, Any]:
    """The fields the client sent, as JSON values (the services' cleaners parse strings)."""
    data = payload.model_dump(mode="json", exclude_unset=True)
    return {k: v for k, v in data.items() if k not in drop}


# --- lists ----------------------------------------------------------------------------


class ListQuery(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)

    limit: int = Field(50, ge=1, le=200, description="Page size, at most 200.")
    offset: int = Field(0, ge=0, le=2_000_000_000, description="Objects to skip.")


def _object_id() -> Any:
    return Path(..., ge=1, le=MAX_ID)


def _true_or_false(value: Any) -> Any:
    """Only `true` or `false`: pydantic would also read 1, yes, on, t... as booleans."""
    if isinstance(value, str) and value not in {"true", "false"}:
        raise ValueError("must be true or false")
    return value


QueryBool = Annotated[bool, BeforeValidator(_true_or_false)]


def _text_filter(description: str, max_length: int = 254) -> Any:
    return _opt(max_length=max_length, pattern=NO_NUL, description=description)


def _id_filter(description: str) -> Any:
    return _opt(ge=1, le=MAX_ID, description=description)


def _page_url(request: HttpRequest, offset: int, limit: int) -> str:
    params = request.GET.copy()
    params["offset"], params["limit"] = str(offset), str(limit)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def _page[M: Model](
    request: HttpRequest, qs: QuerySet[M], query: ListQuery, render: Callable[[M], Any]
) -> dict[str, Any]:
    unknown = sorted(set(request.GET) - set(type(query).model_fields))
    if unknown:
        # A misspelt filter would otherwise widen the list silently.
        raise Invalid({name: ["is not a parameter of this list"] for name in unknown})
    count = qs.count()
    end = query.offset + query.limit
    return {
        "count": count,
        "next": _page_url(request, end, query.limit) if end < count else None,
        "previous": (
            _page_url(request, max(query.offset - query.limit, 0), query.limit)
            if query.offset > 0
            else None
        ),
        "items": [render(obj) for obj in qs[query.offset : end]],
    }


# --- accounts -------------------------------------------------------------------------


class AccountQuery(ListQuery):
    q: str = _text_filter("Part of the name or domain.", 200)
    lifecycle: LifecycleValue = _opt()
    owner_email: str = _text_filter("Owner's e-mail address.")
    industry: str = _text_filter("Industry, case-insensitive.", 100)
    country: str = _text_filter("ISO 3166-1 alpha-2 code.", 2)
    external_id: str = _text_filter("The id in the system of record.", 100)


def _account_filters(query: AccountQuery) -> Q:
    q = Q()
    if query.q:
        q &= Q(name__icontains=query.q) | Q(domain__icontains=query.q)
    if query.lifecycle:
        q &= Q(lifecycle=query.lifecycle)
    if query.owner_email is not None:
        q &= Q(owner__email__iexact=query.owner_email)
    if query.industry is not None:
        q &= Q(industry__iexact=query.industry)
    if query.country is not None:
        q &= Q(country__iexact=query.country)
    if query.external_id is not None:
        q &= Q(external_id=query.external_id)
    return q


@router.get("/accounts", response={200: AccountPage, **ERRORS}, tags=["accounts"])
def accounts_list(request: HttpRequest, query: Query[AccountQuery]) -> dict[str, Any]:
    """Accounts the caller may see, by name."""
    qs = selectors.accounts_visible_to(_caller(request)).filter(_account_filters(query))
    return _page(request, qs.select_related("owner", "csm"), query, AccountOut.of)


@router.get("/accounts/{account_id}", response={200: AccountOut, **ERRORS}, tags=["accounts"])
def account_get(request: HttpRequest, account_id: int = _object_id()) -> AccountOut:
    return AccountOut.of(selectors.account_get_for(user=_caller(request), account_id=account_id))


@router.post("/accounts", response={201: AccountOut, **ERRORS}, tags=["accounts"])
def account_create(request: HttpRequest, payload: AccountIn) -> Status[AccountOut]:
    """Owner defaults to the caller; CSM to none."""
    caller = _caller(request)
    sent = payload.model_fields_set
    owner = _active_user("owner_email", payload.owner_email) if "owner_email" in sent else caller
    csm = _active_user("csm_email", payload.csm_email)
    with _api_field_names():
        account = services.account_create(
            actor=caller, data=_body(payload, "owner_email", "csm_email"), owner=owner, csm=csm
        )
    return Status(201, AccountOut.of(account))


@router.patch("/accounts/{account_id}", response={200: AccountOut, **ERRORS}, tags=["accounts"])
def account_update(
    request: HttpRequest, payload: AccountPatch, account_id: int = _object_id()
) -> AccountOut:
    caller = _caller(request)
    account = selectors.account_get_for(user=caller, account_id=account_id, write=True)
    users: dict[str, User | None] = {
        field.removesuffix("_email"): _active_user(field, getattr(payload, field))
        for field in ("owner_email", "csm_email")
        if field in payload.model_fields_set
    }
    with _api_field_names():
        account = services.account_update(
            actor=caller,
            account=account,
            data=_body(payload, "owner_email", "csm_email"),
            **users,
        )
    return AccountOut.of(account)


# --- contacts -------------------------------------------------------------------------


class ContactQuery(ListQuery):
    account_id: int = _id_filter("Only this account's contacts.")
    email: str = _text_filter("E-mail address, case-insensitive.")
    q: str = _text_filter("Part of the name or e-mail address.", 200)


def _contact_filters(query: ContactQuery) -> Q:
    q = Q()
    if query.account_id is not None:
        q &= Q(account_id=query.account_id)
    if query.email is not None:
        q &= Q(email__iexact=query.email)
    if query.q:
        q &= (
            Q(first_name__icontains=query.q)
            | Q(last_name__icontains=query.q)
            | Q(email__icontains=query.q)
        )
    return q


@router.get("/contacts", response={200: ContactPage, **ERRORS}, tags=["contacts"])
def contacts_list(request: HttpRequest, query: Query[ContactQuery]) -> dict[str, Any]:
    """Contacts at accounts the caller may see, by last name."""
    qs = selectors.contacts_visible_to(_caller(request)).filter(_contact_filters(query))
    return _page(request, qs, query, ContactOut.of)


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_get(request: HttpRequest, contact_id: int = _object_id()) -> ContactOut:
    return ContactOut.of(selectors.contact_get_for(user=_caller(request), contact_id=contact_id))


@router.post("/contacts", response={201: ContactOut, **ERRORS}, tags=["contacts"])
def contact_create(request: HttpRequest, payload: ContactIn) -> Status[ContactOut]:
    caller = _caller(request)
    account = selectors.account_get_for(user=caller, account_id=payload.account_id, write=True)
    with _api_field_names():
        contact = services.contact_create(
            actor=caller, account=account, data=_body(payload, "account_id")
        )
    return Status(201, ContactOut.of(contact))


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_update(
    request: HttpRequest, payload: ContactPatch, contact_id: int = _object_id()
) -> ContactOut:
    caller = _caller(request)
    contact = selectors.contact_get_for(user=caller, contact_id=contact_id, write=True)
    with _api_field_names():
        contact = services.contact_update(actor=caller, contact=contact, data=_body(payload))
    return ContactOut.of(contact)


# --- stages ---------------------------------------------------------------------------


@router.get("/stages", response={200: list[StageOut], **ERRORS}, tags=["deals"])
def stages_list(request: HttpRequest) -> list[StageOut]:
    """The pipeline in order, with each stage's win probability."""
    return [StageOut.of(stage) for stage in selectors.stages_list()]


def _stage(stage_id: int | None) -> Stage:
    """The stage a body names, or the first open one; a missing id is a field error."""
    stages = selectors.stages_list()
    if stage_id is None:
        stage = stages.filter(is_won=False, is_lost=False).first()
    else:
        stage = stages.filter(pk=stage_id).first()
    if stage is None:
        raise Invalid({"stage_id": [f"there is no stage {stage_id}"]})
    return stage


# --- deals ----------------------------------------------------------------------------


class DealQuery(ListQuery):
    account_id: int = _id_filter("Only this account's deals.")
    stage: int = _id_filter("Stage id (see /stages).")
    source: DealSourceValue = _opt()
    kind: DealKindValue = _opt()
    owner_email: str = _text_filter("Owner's e-mail address.")
    open: QueryBool = _opt(description="true: only deals in a stage that is not closed.")
    closed: QueryBool = _opt(description="true: only won or lost deals.")


def _deal_filters(query: DealQuery) -> Q:
    q = Q()
    for field, value in [
        ("account_id", query.account_id),
        ("stage_id", query.stage),
        ("source", query.source),
        ("kind", query.kind),
        ("owner__email__iexact", query.owner_email),
    ]:
        if value is not None:
            q &= Q(**{field: value})
    closed = Q(stage__is_won=True) | Q(stage__is_lost=True)
    if query.open is not None:
        q &= ~closed if query.open else closed
    if query.closed is not None:
        q &= closed if query.closed else ~closed
    return q


@router.get("/deals", response={200: DealPage, **ERRORS}, tags=["deals"])
def deals_list(request: HttpRequest, query: Query[DealQuery]) -> dict[str, Any]:
    """Deals the caller may see, newest first."""
    qs = selectors.deals_visible_to(_caller(request)).filter(_deal_filters(query))
    return _page(request, qs.select_related("owner", "stage"), query, DealOut.of)


@router.get("/deals/{deal_id}", response={200: DealOut, **ERRORS}, tags=["deals"])
def deal_get(request: HttpRequest, deal_id: int = _object_id()) -> DealOut:
    return DealOut.of(selectors.deal_get_for(user=_caller(request), deal_id=deal_id))


_REFERRED_BY = ("referred_by_contact_id", "referred_by_account_id")


def _referred_by(caller: User, payload: DealPatch) -> Contact | Account | None:
    """The advocate a payload names, among the records the caller may see (an id of one
    they may not see reads as no such record)."""
    contact_id, account_id = payload.referred_by_contact_id, payload.referred_by_account_id
    if contact_id is not None and account_id is not None:
        raise Invalid({"referred_by_contact_id": ["give a contact or an account, not both"]})
    if contact_id is not None:
        contact = selectors.contacts_visible_to(caller).filter(pk=contact_id).first()
        if contact is None:
            raise Invalid({"referred_by_contact_id": ["no contact you can see has this id"]})
        return contact
    if account_id is not None:
        account = selectors.accounts_visible_to(caller).filter(pk=account_id).first()
        if account is None:
            raise Invalid({"referred_by_account_id": ["no account you can see has this id"]})
        return account
    return None


@router.post("/deals", response={201: DealOut, **ERRORS}, tags=["deals"])
def deal_create(request: HttpRequest, payload: DealIn) -> Status[DealOut]:
    """Owner defaults to the caller, stage to the first of the pipeline."""
    caller = _caller(request)
    account = selectors.account_get_for(user=caller, account_id=payload.account_id, write=True)
    sent = payload.model_fields_set
    owner = _active_user("owner_email", payload.owner_email) if "owner_email" in sent else caller
    stage = _stage(payload.stage_id)
    with _api_field_names():
        deal = services.deal_create(
            actor=caller,
            account=account,
            stage=stage,
            owner=owner,
            data=_body(payload, "account_id", "stage_id", "owner_email", *_REFERRED_BY),
            referred_by=_referred_by(caller, payload),
        )
    return Status(201, DealOut.of(deal))


@router.patch("/deals/{deal_id}", response={200: DealOut, **ERRORS}, tags=["deals"])
def deal_update(request: HttpRequest, payload: DealPatch, deal_id: int = _object_id()) -> DealOut:
    """A new stage_id moves the deal (recorded in its stage history)."""
    caller = _caller(request)
    deal = selectors.deal_get_for(user=caller, deal_id=deal_id, write=True)
    sent = payload.model_fields_set
    owner: dict[str, Any] = {}
    if "owner_email" in sent:
        owner["owner"] = _active_user("owner_email", payload.owner_email)
    stage = _stage(payload.stage_id) if payload.stage_id is not None else None
    with _api_field_names(), transaction.atomic():
        data = _body(payload, "stage_id", "owner_email", *_REFERRED_BY)
        referred_by = _referred_by(caller, payload)
        deal = services.deal_update(
            actor=caller, deal=deal, data=data, referred_by=referred_by, **owner
        )
        if stage is not None:
            deal = services.deal_move(actor=caller, deal=deal, stage=stage)
    return DealOut.of(deal)


# --- tasks ----------------------------------------------------------------------------


class TaskQuery(ListQuery):
    status: TaskStatusValue = _opt()
    owner_email: str = _text_filter("Owner's e-mail address.")
    account_id: int = _id_filter("Only this account's tasks.")
    due_before: IsoDateTime = _opt(description="Due strictly before this time.")
    due_after: IsoDateTime = _opt(description="Due at or after this time.")


def _task_filters(query: TaskQuery) -> Q:
    q = Q()
    for field, value in [
        ("status", query.status),
        ("owner__email__iexact", query.owner_email),
        ("account_id", query.account_id),
        ("due_at__lt", query.due_before),
        ("due_at__gte", query.due_after),
    ]:
        if value is not None:
            q &= Q(**{field: value})
    return q


@router.get("/tasks", response={200: TaskPage, **ERRORS}, tags=["tasks"])
def tasks_list(request: HttpRequest, query: Query[TaskQuery]) -> dict[str, Any]:
    """Tasks the caller may see, soonest due first."""
    qs = selectors.tasks_visible_to(_caller(request)).filter(_task_filters(query))
    return _page(request, qs.select_related("owner"), query, TaskOut.of)


@router.get("/tasks/{task_id}", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_get(request: HttpRequest, task_id: int = _object_id()) -> TaskOut:
    return TaskOut.of(selectors.task_get_for(user=_caller(request), task_id=task_id))


def _task_links(
    caller: User, payload: TaskIn
) -> tuple[Account | None, Contact | None, Deal | None]:
    """The account, contact and deal a new task hangs on, each one the caller may edit."""
    account = contact = deal = None
    if payload.account_id is not None:
        account = selectors.account_get_for(user=caller, account_id=payload.account_id, write=True)
    if payload.contact_id is not None:
        contact = selectors.contact_get_for(user=caller, contact_id=payload.contact_id, write=True)
    if payload.deal_id is not None:
        deal = selectors.deal_get_for(user=caller, deal_id=payload.deal_id, write=True)
    return account, contact, deal


@router.post("/tasks", response={201: TaskOut, **ERRORS}, tags=["tasks"])
def task_create(request: HttpRequest, payload: TaskIn) -> Status[TaskOut]:
    """Owner defaults to the caller, due_at to now."""
    caller = _caller(request)
    account, contact, deal = _task_links(caller, payload)
    owner = caller
    if "owner_email" in payload.model_fields_set:
        owner = _active_user("owner_email", payload.owner_email) or caller
    with _api_field_names():
        task = services.task_create(
            actor=caller,
            owner=owner,
            account=account,
            contact=contact,
            deal=deal,
            data=_body(payload, "owner_email", "account_id", "contact_id", "deal_id"),
        )
    return Status(201, TaskOut.of(task))


@router.patch("/tasks/{task_id}", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_update(request: HttpRequest, payload: TaskPatch, task_id: int = _object_id()) -> TaskOut:
    caller = _caller(request)
    task = selectors.task_get_for(user=caller, task_id=task_id, write=True)
    owner: dict[str, Any] = {}
    if "owner_email" in payload.model_fields_set:
        owner["owner"] = _active_user("owner_email", payload.owner_email)
    with _api_field_names():
        task = services.task_update(
            actor=caller, task=task, data=_body(payload, "owner_email"), **owner
        )
    return TaskOut.of(task)


@router.post("/tasks/{task_id}/snooze", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_snooze(
    request: HttpRequest, payload: TaskSnoozeIn, task_id: int = _object_id()
) -> TaskOut:
    """Put an open task off until `until`; it falls due again then. 400 if the task is no
    longer open or `until` is not after now or more than 365 days ahead."""
    caller = _caller(request)
    task = selectors.task_get_for(user=caller, task_id=task_id, write=True)
    return TaskOut.of(services.task_snooze(actor=caller, task=task, until=payload.until))


@router.post("/tasks/{task_id}/not-appropriate", response={200: TaskOut, **ERRORS}, tags=["tasks"])
def task_not_appropriate(
    request: HttpRequest, payload: TaskNotAppropriateIn, task_id: int = _object_id()
) -> TaskOut:
    """Close an open referral ask as not appropriate, saying why (its status becomes
    cancelled). 400 if the task is not a referral ask or is no longer open."""
    caller = _caller(request)
    task = selectors.task_get_for(user=caller, task_id=task_id, write=True)
    return TaskOut.of(services.ask_not_appropriate(actor=caller, task=task, reason=payload.reason))


# --- imports --------------------------------------------------------------------------


class ImportRunOut(Schema):
    id: int
    kind: str
    filename: str
    dry_run: bool
    status: Literal["queued", "running", "done", "refused", "failed"]
    report: dict[str, Any] = Field(
        description="When ended: rows, created, updated, unchanged, refused, errors (as "
        '"FILE:ROW: column: reason"), error_count, summary; or message when the file could '
        "not be read."
    )
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def of(run: ImportRun) -> ImportRunOut:
        return ImportRunOut(
            id=run.pk,
            kind=run.kind,
            filename=run.filename,
            dry_run=run.dry_run,
            status=run.status,  # type: ignore[arg-type]
            report=run.report,
            created_at=run.created_at,
            finished_at=run.finished_at,
        )


ImportKind = Literal[
    "users", "accounts", "contacts", "deals", "nps", "tickets", "messages", "goals", "events"
]


@router.post("/imports/{kind}", response={202: ImportRunOut, **ERRORS}, tags=["imports"])
def import_create(
    request: HttpRequest,
    kind: ImportKind,
    file: File[UploadedFile | None] = None,
    dry_run: QueryBool = False,
) -> Status[ImportRunOut]:
    """Upload a file to import (admins only): CSV for every kind, and .parquet, .csv or
    .jsonl for events. The worker imports it, all or nothing; poll the run for its report."""
    # Django's multipart parser drops an empty file part, so "missing" and "empty" are one.
    if file is None or not file.size:
        raise Invalid({"file": ["upload a non-empty file as the multipart field `file`"]})
    run = importrun_create(
        actor=_caller(request),
        kind=kind,
        filename=file.name or "upload",
        stream=file,
        dry_run=dry_run,
    )
    return Status(202, ImportRunOut.of(run))


@router.get("/import-runs/{run_id}", response={200: ImportRunOut, **ERRORS}, tags=["imports"])
def import_get(request: HttpRequest, run_id: int = _object_id()) -> ImportRunOut:
    return ImportRunOut.of(selectors.importrun_get_for(user=_caller(request), run_id=run_id))
