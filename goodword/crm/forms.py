"""Forms for the web UI. They only render fields and carry raw values: the services clean
and check every value (goodword/crm/cleaning.py), so a value refused here is refused with the
same words by the API and the importers. `add_invalid` puts a service's errors on a form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html import escape
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from goodword.crm.models import Contact, DealKind, DealSource, Lifecycle, Stage, TaskKind
from goodword.lib.errors import Invalid
from goodword.users.models import User


def _text(label: str = "", *, required: bool = False, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label or None,
        required=required,
        widget=forms.TextInput(attrs=attrs),
        strip=True,
    )


def _date(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _choices(choices: Any, blank: str | None = None) -> list[tuple[str, str]]:
    items = [(str(v), str(label)) for v, label in choices]
    return [("", blank), *items] if blank is not None else items


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("email")


class UserChoiceIterator(ModelChoiceIterator):  # type: ignore[type-arg]
    """(pk, e-mail) pairs straight from one query: a deployment has thousands of users, and
    building a model instance per option was most of a page's time."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list("pk", "email")


class UserSelect(forms.Select):
    """A <select> rendered in Python rather than one template per option (thousands of
    options took a template engine hundreds of milliseconds)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        chosen = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(str(pk))}"{" selected" if str(pk) in chosen else ""}>'
            f"{escape(str(label))}</option>"
            for pk, label in self.choices
        )
        return mark_safe(f"<select{flatatt(final)}>{options}</select>")  # noqa: S308 - escaped above


class UserChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    iterator = UserChoiceIterator
    widget = UserSelect

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.email)


def _user_field(label: str, *, required: bool = False) -> UserChoiceField:
    return UserChoiceField(
        queryset=active_users(), required=required, label=label, empty_label="— nobody —"
    )


class ServiceForm(forms.Form):
    """A form whose `data_for_service` is the dict a service's `data` argument takes."""

    service_fields: tuple[str, ...] = ()

    def data_for_service(self) -> dict[str, Any]:
        return {f: self.cleaned_data.get(f) or "" for f in self.service_fields}


def add_invalid(form: forms.Form, exc: Invalid) -> None:
    """Show a service's per-field errors on the form (unknown fields go to the top)."""
    for field, reasons in exc.errors.items():
        target = field if field in form.fields else None
        for reason in reasons:
            prefix = "" if target or field == "__all__" else f"{field}: "
            form.add_error(target, prefix + reason)


class AccountForm(ServiceForm):
    service_fields: tuple[str, ...] = (
        "name",
        "external_id",
        "domain",
        "industry",
        "employees",
        "country",
        "lifecycle",
        "customer_since",
        "arr",
        "currency",
    )
    name = _text("Name", required=True)
    external_id = _text("External ID")
    domain = _text("Domain", placeholder="example.com")
    industry = _text("Industry")
    employees = _text("Employees", inputmode="numeric")
    country = _text("Country", placeholder="US", maxlength=2)
    lifecycle = forms.ChoiceField(choices=Lifecycle.choices, label="Lifecycle")
    owner = _user_field("Owner (AE)")
    csm = _user_field("CSM")
    customer_since = _date("Customer since")
    arr = _text("ARR", inputmode="decimal")
    currency = _text("Currency", required=True, maxlength=3)

    @staticmethod
    def initial_for(account: Any) -> dict[str, Any]:
        fields = [f for f in AccountForm.service_fields if f != "customer_since"]
        initial = {f: getattr(account, f) or "" for f in fields}
        initial["customer_since"] = (
            account.customer_since.isoformat() if account.customer_since else ""
        )
        initial["owner"] = account.owner_id
        initial["csm"] = account.csm_id
        return initial


class ContactForm(ServiceForm):
    service_fields: tuple[str, ...] = (
        "first_name",
        "last_name",
        "email",
        "title",
        "phone",
        "past_employers",
        "external_id",
    )
    first_name = _text("First name")
    last_name = _text("Last name")
    email = _text("E-mail", required=True, type="email")
    title = _text("Title")
    phone = _text("Phone", placeholder="+14155550100")
    past_employers = _text("Past employers", placeholder="globex.com; initech.com")
    external_id = _text("External ID")


def advocates(user: User | None = None) -> QuerySet[Contact]:
    """Whom a deal can be referred by in the UI: the contacts of customer accounts (those
    `user` may see, when given: no one learns of another team's customers from a form)."""
    from goodword.crm.selectors import contacts_visible_to

    qs = contacts_visible_to(user) if user is not None else Contact.objects.all()
    return qs.filter(account__lifecycle=Lifecycle.CUSTOMER).order_by(
        "account__name", "account_id", "last_name", "first_name", "id"
    )


class AdvocateChoiceIterator(ModelChoiceIterator):  # type: ignore[type-arg]
    """(pk, "Name <e-mail> · Account") straight from one query, as UserChoiceIterator."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        rows = self.queryset.values_list("pk", "first_name", "last_name", "email", "account__name")
        for pk, first, last, email, account in rows:
            name = f"{first} {last}".strip()
            yield (pk, f"{name} <{email}> · {account}" if name else f"{email} · {account}")


# Shows the picker only while the form's source is Referral (without script it always shows,
# and the service says when it is needed).
_ONLY_FOR_REFERRALS = (
    "<script>(function () {"
    " var here = document.currentScript, label = here.closest('label'),"
    " form = here.closest('form'), source = form && form.querySelector('[name=source]');"
    " if (!label || !source) return;"
    " function show() { label.hidden = source.value !== 'referral'; }"
    " source.addEventListener('change', show); show();"
    " })();</script>"
)


class AdvocateSelect(UserSelect):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        select = super().render(name, value, attrs, renderer)
        return mark_safe(select + _ONLY_FOR_REFERRALS)  # noqa: S308 - our own markup


class AdvocateChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    iterator = AdvocateChoiceIterator
    widget = AdvocateSelect


class DealForm(ServiceForm):
    service_fields: tuple[str, ...] = (
        "name",
        "amount",
        "currency",
        "kind",
        "source",
        "close_date",
        "external_id",
    )
    name = _text("Name", required=True)
    amount = _text("Amount", inputmode="decimal")
    currency = _text("Currency", required=True, maxlength=3)
    kind = forms.ChoiceField(choices=DealKind.choices, label="Kind")
    source = forms.ChoiceField(choices=DealSource.choices, label="Source")
    referred_by = AdvocateChoiceField(
        queryset=advocates(),
        required=False,
        label="Referred by (the customer contact, for a referral)",
        empty_label="— choose the advocate —",
    )
    owner = _user_field("Owner")
    close_date = _date("Expected close")
    external_id = _text("External ID")

    def __init__(
        self, *args: Any, deal: Any = None, user: User | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if deal is not None and deal.source == DealSource.REFERRAL:
            # Its credit is shown and changed apart from the deal's fields (by managers).
            del self.fields["referred_by"]
        elif user is not None:
            field = self.fields["referred_by"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = advocates(user)

    @staticmethod
    def initial_for(deal: Any) -> dict[str, Any]:
        initial = {f: getattr(deal, f) or "" for f in DealForm.service_fields}
        initial["close_date"] = deal.close_date.isoformat() if deal.close_date else ""
        initial["owner"] = deal.owner_id
        return initial


class DealCreateForm(DealForm):
    stage = forms.ModelChoiceField(queryset=Stage.objects.order_by("position", "id"), label="Stage")


class CreditsForm(forms.Form):
    """A manager's override of a deal's credit: rows of advocate and share, and why. An
    advocate is "c<contact id>" (credited with their account) or "a<account id>"."""

    reason = forms.CharField(
        label="Why the credit changes", required=False, max_length=300, strip=True
    )

    def rows(self, data: Any) -> list[tuple[str, str]]:
        """The (advocate, share) pairs that were filled in, in the order given."""
        advocates = data.getlist("advocate")
        shares = data.getlist("share")
        pairs = zip(advocates, shares, strict=False)
        return [(a.strip(), s.strip()) for a, s in pairs if a.strip() or s.strip()]


class CreditsClearForm(forms.Form):
    source = forms.ChoiceField(
        choices=[c for c in DealSource.choices if c[0] != DealSource.REFERRAL],
        label="Its source instead",
    )
    reason = forms.CharField(label="Why it is no referral", required=True, max_length=300)


class TaskForm(ServiceForm):
    service_fields: tuple[str, ...] = ("kind", "subject", "due_at", "notes")
    subject = _text("Subject", required=True)
    kind = forms.ChoiceField(choices=TaskKind.choices, label="Kind")
    due_at = forms.CharField(
        label="Due (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    owner = _user_field("Owner", required=True)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TaskEditForm(TaskForm):
    service_fields: tuple[str, ...] = ("kind", "subject", "due_at", "notes", "outcome", "status")
    outcome = _text("Outcome")
    status = forms.ChoiceField(
        choices=[("open", "Open"), ("done", "Done"), ("cancelled", "Cancelled")], label="Status"
    )

    @staticmethod
    def initial_for(task: Any) -> dict[str, Any]:
        initial = {f: getattr(task, f) or "" for f in TaskEditForm.service_fields}
        initial["due_at"] = task.due_at.strftime("%Y-%m-%dT%H:%M")
        initial["owner"] = task.owner_id
        return initial


class TaskDoneForm(forms.Form):
    outcome = _text("Outcome", placeholder="Outcome (optional)", maxlength=200)


class TaskSnoozeForm(forms.Form):
    """A day to snooze until; the task falls due again at that day's start, in UTC (the
    service checks the day is after now and within its limit)."""

    until = forms.DateField(
        label="Snooze until",
        widget=forms.DateInput(attrs={"type": "date", "aria-label": "Snooze until"}),
        error_messages={"required": "choose a day", "invalid": "choose a day, YYYY-MM-DD"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", False)  # one form per row: no repeated element ids
        super().__init__(*args, **kwargs)
        today = timezone.now().astimezone(dt.UTC).date()
        self.fields["until"].widget.attrs.update(
            min=(today + dt.timedelta(days=1)).isoformat(),
            max=(today + dt.timedelta(days=365)).isoformat(),
        )

    def until_time(self) -> dt.datetime:
        day: dt.date = self.cleaned_data["until"]
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class AskNotAppropriateForm(forms.Form):
    # Not required here: the service refuses a blank reason, in the same words wherever it
    # is called from; the browser still asks for one before sending.
    reason = forms.CharField(
        label="Reason",
        required=False,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "required": True,
                "maxlength": 300,
                "placeholder": "Why not? (required)",
                "aria-label": "Why this ask is not appropriate",
            }
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", False)  # one form per row: no repeated element ids
        super().__init__(*args, **kwargs)


class MoveForm(forms.Form):
    stage = forms.IntegerField()


# --- filters --------------------------------------------------------------------------


class AccountFilterForm(forms.Form):
    SORTS = {
        "name": ("name", "id"),
        "-name": ("-name", "-id"),
        "arr": ("arr", "id"),
        "-arr": ("-arr", "id"),
        "customer_since": ("customer_since", "id"),
        "-customer_since": ("-customer_since", "id"),
        "country": ("country", "name", "id"),
        "lifecycle": ("lifecycle", "name", "id"),
        "owner": ("owner__email", "name", "id"),
    }
    q = _text(placeholder="Search name, domain or external ID", type="search")
    lifecycle = forms.ChoiceField(
        choices=_choices(Lifecycle.choices, "Any lifecycle"), required=False
    )
    owner = UserChoiceField(queryset=active_users(), required=False, empty_label="Any owner")
    industry = _text(placeholder="Industry")
    country = _text(placeholder="Country", maxlength=2)
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)


class DealFilterForm(forms.Form):
    SORTS = {
        "-created_at": ("-created_at", "id"),
        "created_at": ("created_at", "id"),
        "name": ("name", "id"),
        "-amount": ("-amount", "id"),
        "amount": ("amount", "id"),
        "close_date": ("close_date", "id"),
        "stage": ("stage__position", "id"),
    }
    STATUSES = [("", "Any status"), ("open", "Open"), ("won", "Won"), ("lost", "Lost")]
    q = _text(placeholder="Search name or external ID", type="search")
    status = forms.ChoiceField(choices=STATUSES, required=False)
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.order_by("position", "id"), required=False, empty_label="Any stage"
    )
    owner = UserChoiceField(queryset=active_users(), required=False, empty_label="Any owner")
    source = forms.ChoiceField(choices=_choices(DealSource.choices, "Any source"), required=False)
    kind = forms.ChoiceField(choices=_choices(DealKind.choices, "Any kind"), required=False)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)


class TaskFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=_choices(TaskKind.choices, "Any kind"), required=False)


class BoardFilterForm(forms.Form):
    owner = UserChoiceField(queryset=active_users(), required=False, empty_label="Any owner")
    source = forms.ChoiceField(choices=_choices(DealSource.choices, "Any source"), required=False)
    kind = forms.ChoiceField(choices=_choices(DealKind.choices, "Any kind"), required=False)
