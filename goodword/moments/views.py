"""The moments pages: an account's referral readiness (health and its components, the
moments behind readiness, why it was or was not asked), the programme of rules and its
backtest for admins, and the record of scans. Every table has its CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from goodword.crm.selectors import account_get_for
from goodword.crm.views import _csv_response, _user, access
from goodword.engine.rules import RulesError, parse_programme
from goodword.moments import selectors
from goodword.moments.backtest import ASK_COLUMNS, RangeError, ask_rows, backtest_run, range_check
from goodword.moments.programmes import programme_apply, programme_yaml

MOMENT_COLUMNS = [
    "account_external_id", "account", "rule_id", "kind", "key", "occurred_at", "contact_email",
    "evidence", "ask_id",
]  # fmt: skip
SCAN_COLUMNS = [
    "id", "mode", "status", "trigger", "as_of", "started_at", "finished_at", "batch_from",
    "batch_to", "events_read", "moments", "asks_created", "blocked", "errors",
]  # fmt: skip


@require_GET
@access
def account_readiness(request: HttpRequest, account_id: int) -> HttpResponse:
    """An account's health, readiness, moments and verdict; htmx gets the card alone."""
    account = account_get_for(user=_user(request), account_id=account_id)
    context = {"r": selectors.readiness_for(account=account, now=timezone.now())}
    if request.headers.get("HX-Request") == "true":
        return render(request, "moments/_readiness.html", context)
    return render(request, "moments/readiness.html", context)


@require_GET
@access
def moments_export(request: HttpRequest) -> Any:
    """Live moments of the accounts the user sees, as CSV (?account=ID for one)."""
    qs = selectors.moments_visible_to(_user(request)).filter(retracted_at__isnull=True)
    if (account := request.GET.get("account", "")).isdigit():
        qs = qs.filter(account_id=int(account))
    rows = (
        (
            m.account.external_id or "",
            m.account.name,
            m.rule_id,
            m.kind,
            m.key,
            m.occurred_at.isoformat(),
            m.contact.email if m.contact else "",
            m.evidence,
            m.ask_id or "",
        )
        for m in qs.select_related("account", "contact")
        .order_by("-occurred_at", "-id")
        .iterator(chunk_size=2000)
    )
    return _csv_response("moments.csv", MOMENT_COLUMNS, rows)


@require_http_methods(["GET", "POST"])
@access
def programme_settings(request: HttpRequest) -> HttpResponse:
    """Admins read and change the rules (YAML): Check shows the problems by line, Apply puts
    a valid programme in force. Anyone else gets 404."""
    user = _user(request)
    versions = selectors.programme_versions_for(user)
    text = programme_yaml()
    problems: list[str] = []
    checked = False
    if request.method == "POST":
        text = request.POST.get("yaml", "")
        try:
            parse_programme(text)
        except RulesError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            if request.POST.get("action") == "apply":
                programme_apply(text=text, by=user, note=request.POST.get("note", ""))
                return redirect("programme-settings")
            checked = True
    context = {
        "yaml": text,
        "problems": problems,
        "checked": checked,
        "versions": versions[:20],
    }
    return render(request, "moments/programme.html", context, status=400 if problems else 200)


@require_GET
@access
def scans(request: HttpRequest) -> Any:
    """The latest scans and what each did (admins and managers); ?export=csv for all."""
    qs = selectors.scans_visible_to(_user(request))
    if request.GET.get("export") == "csv":
        rows = (
            (
                s.pk,
                s.mode,
                s.status,
                s.trigger,
                s.as_of.isoformat(),
                s.started_at.isoformat(),
                s.finished_at.isoformat() if s.finished_at else "",
                s.batch_from,
                s.batch_to if s.batch_to is not None else "",
                s.events_read,
                s.moments,
                s.asks_created,
                s.blocked,
                "; ".join(s.errors),
            )
            for s in qs.iterator(chunk_size=500)
        )
        return _csv_response("scans.csv", SCAN_COLUMNS, rows)
    latest = list(qs[:50])
    return render(request, "moments/scans.html", {"scans": latest})


class BacktestForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    # Not stripped: the problems name lines, which must be the lines the admin sees.
    yaml = forms.CharField(
        label="Programme (YAML)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}),
    )

    def clean_yaml(self) -> str:
        text: str = self.cleaned_data["yaml"]
        try:
            self.cleaned_data["programme"] = parse_programme(text)
        except RulesError as exc:
            raise forms.ValidationError([str(p) for p in exc.problems]) from None
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            try:
                range_check(start, end, today=timezone.now().date())
            except RangeError as exc:
                self.add_error("end", str(exc))
        return data


@require_http_methods(["GET", "POST"])
@access
def programme_backtest(request: HttpRequest) -> Any:
    """Admins replay past weeks with a programme (the one in force, or edited here) and see
    the asks it would have created. GET shows the form; POST runs the backtest, a POST only
    because the YAML does not fit in a URL: it writes nothing. format=csv gives the
    simulated asks as CSV. Anyone else gets 404."""
    selectors.programme_versions_for(_user(request))  # the access check
    today = timezone.now().date()
    initial = {"start": today - dt.timedelta(weeks=26), "end": today, "yaml": programme_yaml()}
    form = BacktestForm(request.POST if request.method == "POST" else None, initial=initial)
    if not form.is_bound or not form.is_valid():
        status = 400 if form.is_bound else 200
        return render(request, "moments/backtest.html", {"form": form}, status=status)
    data = form.cleaned_data
    result = backtest_run(programme=data["programme"], start=data["start"], end=data["end"])
    if request.POST.get("format") == "csv":
        return _csv_response("backtest-asks.csv", list(ASK_COLUMNS), ask_rows(result))
    label_every = -(-len(result.weeks) // 8)  # about 8 dates under the bars: they must not touch
    context = {"form": form, "result": result, "label_every": label_every}
    return render(request, "moments/backtest.html", context)
