"""The moments CLI: `goodword rules validate|apply|show`, `goodword scan`, `goodword moments
export` and `goodword asks export`, run as a person would, through click's runner."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from django.utils import timezone

from goodword.cli import main
from goodword.config import EventsConfig
from goodword.crm.models import Account, Contact, Task, TaskKind, TaskStatus
from goodword.engine.rules import DEFAULT_YAML
from goodword.moments.models import Moment, ProgrammeVersion, Scan, ScanStatus
from goodword.moments.scan import scan_start
from goodword.users.models import User

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
REACHED = "report_created reached 1,000 on 2026-01-07 09:30 UTC, event m1"
FORMULA = '=HYPERLINK("http://evil.example","open")'
FIRST = """\
rules:
  - {id: reports, kind: milestone, event: report_created, thresholds: [100, 1000], weight: 30}
  - {id: renewed, kind: renewal, weight: 40}
  - {id: goals, kind: goal, weight: 50}
"""
SECOND = """\
rules:
  - {id: reports, kind: milestone, event: report_created, thresholds: [100, 10000], weight: 30}
  - {id: renewed, kind: renewal, weight: 45.5}
  - {id: promoter, kind: nps, weight: 25}
readiness:
  threshold: 50
"""
BROKEN = """\
rules:
  - {id: reports, kind: milestone, event: report_created, thresholds: [100], weight: 30}
  - {id: x, kind: nope, weight: 1}
  - {id: y, kind: nps, weight: -1, colour: red}
"""
DEFAULT_RULES = (  # engine/data/programme.yaml's, sorted
    "goals",
    "happy-ticket",
    "hours-saved",
    "praise",
    "promoter",
    "renewed",
    "reports",
    "wau-surge",
)
# Another change adds Task.reason; the export works, and these tests pass, with or without it.
HAS_REASON = any(f.name == "reason" for f in Task._meta.get_fields())


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def programme_file(tmp_path: Path, text: str, name: str = "programme.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- rules validate ---------------------------------------------------------------------


def test_validate_lists_the_rules_of_a_valid_file(tmp_path: Path) -> None:
    # Given a valid programme file
    file = programme_file(tmp_path, FIRST)
    # When it is validated
    result = run("rules", "validate", file)
    # Then its rules are listed and the exit code is 0
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{file}: valid, 3 rules (reports, renewed, goals)\n"
    assert result.stderr == ""


def test_validate_reports_every_problem_with_its_line_on_stderr(tmp_path: Path) -> None:
    file = programme_file(tmp_path, BROKEN)
    result = run("rules", "validate", file)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{file}:3: rules[1].kind: 'nope' is not a kind of rule (one of expansion, goal, "
        "milestone, nps, praise, renewal, support, surge)",
        f"{file}:4: rules[2].weight: must be at least 0, not -1",
        f"{file}:4: rules[2]: unknown key 'colour' (one of enabled, id, kind, label, min_score, "
        "weight)",
    ]


def test_validate_an_empty_file_names_no_line(tmp_path: Path) -> None:
    file = programme_file(tmp_path, "")
    result = run("rules", "validate", file)
    assert result.exit_code == 1
    assert result.stderr == f"{file}: the file is empty; it needs at least a list of rules\n"


def test_validate_a_missing_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    result = run("rules", "validate", missing)
    assert result.exit_code == 2
    assert f"Error: Invalid value for 'FILE': File '{missing}' does not exist." in result.stderr


def test_validate_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("rules: [{id: caf\xe9}]\n".encode("latin-1"))
    result = run("rules", "validate", str(path))
    assert result.exit_code == 2
    assert f"Error: Invalid value for FILE: {path} is not UTF-8 text" in result.stderr


# --- rules apply ------------------------------------------------------------------------


@pytest.mark.django_db
def test_apply_puts_the_file_in_force_and_reports_what_changed(tmp_path: Path) -> None:
    # Given a programme in force with reports, renewed and goals
    first = programme_file(tmp_path, FIRST, "first.yaml")
    assert run("rules", "apply", first).exit_code == 0
    # When a file that changes reports, re-weighs renewed, drops goals, adds promoter and
    # raises the readiness threshold is applied
    second = programme_file(tmp_path, SECOND, "second.yaml")
    result = run("rules", "apply", second, "--note", "tighter asks")
    # Then a new version is in force and each change is named
    assert result.exit_code == 0, result.output
    newest = ProgrammeVersion.objects.order_by("-applied_at", "-id")[0]
    assert (newest.yaml, newest.note, newest.applied_by) == (SECOND, "tighter asks", None)
    assert ProgrammeVersion.objects.count() == 2
    assert result.stdout.splitlines() == [
        f"{second}: in force as programme version {newest.pk}",
        "new rules: promoter",
        "changed rules: reports",
        "removed rules (their moments stay): goals",
        "re-weighted only: renewed (40 → 45.5)",
        "changed settings: readiness",
        "the next scan runs these rules in full: reports, promoter",
    ]


@pytest.mark.django_db
def test_apply_names_rules_switched_off_and_on(tmp_path: Path) -> None:
    off = FIRST.replace("weight: 40}", "weight: 40, enabled: false}")
    assert run("rules", "apply", programme_file(tmp_path, off, "off.yaml")).exit_code == 0
    result = run(
        "rules", "apply", programme_file(tmp_path, FIRST.replace("goals, kind", "g2, kind"))
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "new rules: g2",
        "removed rules (their moments stay): goals",
        "switched on: renewed",
        "the next scan runs these rules in full: renewed, g2",
    ]


@pytest.mark.django_db
def test_an_invalid_file_is_reported_as_by_validate_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    file = programme_file(tmp_path, BROKEN)
    result = run("rules", "apply", file)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        f"{file}:3: rules[1].kind: 'nope' is not a kind of rule (one of expansion, goal, "
        "milestone, nps, praise, renewal, support, surge)"
    )
    assert len(result.stderr.splitlines()) == 3
    assert ProgrammeVersion.objects.count() == 0


@pytest.mark.django_db
def test_a_note_longer_than_200_characters_is_refused(tmp_path: Path) -> None:
    result = run("rules", "apply", programme_file(tmp_path, FIRST), "--note", "x" * 201)
    assert result.exit_code == 2
    assert "Invalid value for --note: is 201 characters; at most 200" in result.stderr
    assert ProgrammeVersion.objects.count() == 0


# --- rules show -------------------------------------------------------------------------


@pytest.mark.django_db
def test_show_prints_the_default_and_applying_it_back_changes_nothing(tmp_path: Path) -> None:
    # Given no programme applied yet, the default is shown
    shown = run("rules", "show")
    assert shown.exit_code == 0
    assert shown.stdout == DEFAULT_YAML
    # When what it printed is applied
    result = run("rules", "apply", programme_file(tmp_path, shown.stdout))
    # Then nothing changed, and show prints the same text again
    assert result.stdout.splitlines()[1:] == ["no rule or setting changed"]
    assert run("rules", "show").stdout == DEFAULT_YAML


@pytest.mark.django_db
def test_show_prints_the_version_in_force(tmp_path: Path) -> None:
    run("rules", "apply", programme_file(tmp_path, FIRST))
    assert run("rules", "show").stdout == FIRST


# --- scan -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_scan_on_an_empty_store_records_a_done_scan_and_prints_its_summary() -> None:
    # When the first scan runs with a naive --now (taken as UTC)
    result = run("scan", "--now", "2026-03-02T09:30:00")
    # Then one full scan is done, as of that time in UTC
    assert result.exit_code == 0, result.output
    scan = Scan.objects.get()
    assert (scan.status, scan.mode, scan.trigger) == ("done", "full", "cli")
    assert scan.as_of == dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert result.stdout.splitlines() == [
        f"scan #{scan.pk}: done, full, as of 2026-03-02T09:30:00+00:00",
        "events read: 0 (batches 0 to 0)",
        "moments by rule:",
        *(f"  {rule_id}: found 0, moved 0, retracted 0" for rule_id in DEFAULT_RULES),
        "asks created: 0",
        "blocked by gate: none",
        "errors: 0",
    ]
    # and the progress went to stderr
    assert "reading 0 events (batches 0 to 0)" in result.stderr
    assert f"scan #{scan.pk} done in " in result.stderr


@pytest.mark.django_db
def test_scan_while_another_runs_exits_3_and_starts_nothing() -> None:
    # Given a scan running in the worker
    running = scan_start(full=True, trigger="worker", now=T0)
    # When a scan is started from the command line
    result = run("scan")
    # Then it is refused with exit code 3, and only the running scan exists
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: another scan is running since {running.started_at:%Y-%m-%d %H:%M:%S} UTC; "
        "try again when it has finished\n"
    )
    assert list(Scan.objects.values_list("pk", "status")) == [(running.pk, "running")]


@pytest.mark.django_db
def test_a_failed_scan_prints_its_errors_and_exits_1(settings: Any, tmp_path: Path) -> None:
    # Given an event store that cannot be opened (its folder is a file)
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    path = tmp_path / "not-a-folder" / "events.duckdb"
    settings.EVENTS_STORE = EventsConfig("duckdb", path=str(path))
    # When a scan runs, with a --now in another zone
    result = run("scan", "--now", "2026-03-02T10:30:00+01:00")
    # Then the scan is failed, with its errors on stderr
    assert result.exit_code == 1
    scan = Scan.objects.get()
    assert scan.status == ScanStatus.FAILED
    assert scan.as_of == dt.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert result.stdout.splitlines()[0] == (
        f"scan #{scan.pk}: failed, full, as of 2026-03-02T09:30:00+00:00"
    )
    assert result.stdout.splitlines()[-1] == "errors: 1"
    assert f"error: {scan.errors[0]}\n" in result.stderr


@pytest.mark.django_db
def test_a_bad_now_is_a_usage_error_and_starts_nothing() -> None:
    result = run("scan", "--now", "tomorrow")
    assert result.exit_code == 2
    assert (
        "Invalid value for --now: 'tomorrow' is not a date-time (ISO 8601, "
        "e.g. 2026-11-23T14:03:00Z)" in result.stderr
    )
    assert Scan.objects.count() == 0


# --- moments export ---------------------------------------------------------------------


def make_moment(account: Account, rule_id: str, kind: str, key: str, **fields: Any) -> Moment:
    now = timezone.now()
    values: dict[str, Any] = {"occurred_at": T0, "evidence": f"{rule_id} {key}", "data": {}}
    values.update(fields)
    return Moment.objects.create(
        account=account, rule_id=rule_id, kind=kind, key=key, found_at=now, updated_at=now, **values
    )


@pytest.fixture
def moments(account: Account, contact: Contact) -> list[Moment]:
    """A milestone, a promoter answer (whose evidence is a formula) and a retracted one."""
    return [
        make_moment(
            account,
            "reports",
            "milestone",
            "1000",
            occurred_at=T0 + dt.timedelta(days=2),
            evidence=REACHED,
            data={"threshold": "1000", "message_id": "m1", "event": "report_created"},
        ),
        make_moment(
            account,
            "promoter",
            "nps",
            "7",
            occurred_at=dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            contact=contact,
            evidence=FORMULA,
            data={"score": 10},
        ),
        make_moment(
            account,
            "reports",
            "milestone",
            "100",
            data={"threshold": "100"},
            retracted_at=T0 + dt.timedelta(days=3),
        ),
    ]


def export(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


HEADER = "account_external_id,rule_id,kind,threshold,occurred_at,contact_email,evidence"


@pytest.mark.usefixtures("moments")
def test_moments_csv_has_the_live_moments_oldest_first_with_formulas_neutralised() -> None:
    lines = export("moments", "export").splitlines()
    assert lines == [
        HEADER,
        "ACC-1,promoter,nps,,2026-01-06T10:00:00+00:00,ada@acme.io,"
        '"\'=HYPERLINK(""http://evil.example"",""open"")"',
        f'ACC-1,reports,milestone,1000,2026-01-07T09:30:00+00:00,,"{REACHED}"',
    ]
    cells = list(csv.reader(lines))
    assert cells[1][6] == "'" + FORMULA


@pytest.mark.usefixtures("moments")
def test_moments_all_rule_and_since_narrow_or_widen_the_export() -> None:
    every = export("moments", "export", "--all").splitlines()
    assert [row[4] for row in csv.reader(every[1:])] == [
        "2026-01-05T09:30:00+00:00",
        "2026-01-06T10:00:00+00:00",
        "2026-01-07T09:30:00+00:00",
    ]
    reports = export("moments", "export", "--all", "--rule", "reports").splitlines()
    assert [row[3] for row in csv.reader(reports[1:])] == ["100", "1000"]
    since = export("moments", "export", "--since", "2026-01-07").splitlines()
    assert [row[1] for row in csv.reader(since[1:])] == ["reports"]


@pytest.mark.usefixtures("moments")
def test_moments_json_is_a_list_of_objects_with_the_csv_columns_and_raw_values() -> None:
    rows = json.loads(export("moments", "export", "--format", "json"))
    assert rows == [
        {
            "account_external_id": "ACC-1",
            "rule_id": "promoter",
            "kind": "nps",
            "threshold": None,
            "occurred_at": "2026-01-06T10:00:00+00:00",
            "contact_email": "ada@acme.io",
            "evidence": FORMULA,
        },
        {
            "account_external_id": "ACC-1",
            "rule_id": "reports",
            "kind": "milestone",
            "threshold": "1000",
            "occurred_at": "2026-01-07T09:30:00+00:00",
            "contact_email": None,
            "evidence": REACHED,
        },
    ]


@pytest.mark.django_db
def test_an_empty_export_is_a_header_or_an_empty_list() -> None:
    assert export("moments", "export").splitlines() == [HEADER]
    assert json.loads(export("moments", "export", "--format", "json")) == []


@pytest.mark.usefixtures("moments")
def test_moments_export_to_a_file_says_how_many_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "moments.csv"
    result = run("moments", "export", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"moments: 2 exported to {out}\n"
    assert out.read_text(encoding="utf-8").splitlines()[0] == HEADER


@pytest.mark.django_db
def test_a_bad_since_is_a_usage_error() -> None:
    result = run("moments", "export", "--since", "last week")
    assert result.exit_code == 2
    assert "Invalid value for --since: 'last week' is not a date-time" in result.stderr


# --- asks export ------------------------------------------------------------------------


@pytest.fixture
def asks(rep: User, account: Account, contact: Contact, moments: list[Moment]) -> list[Task]:
    """An open ask citing two moments, and a cancelled one citing none."""
    open_ask = Task.objects.create(
        kind=TaskKind.REFERRAL_ASK,
        subject="Ask Ada for a referral",
        owner=rep,
        account=account,
        contact=contact,
        due_at=T0 + dt.timedelta(days=9),
        created_at=T0 + dt.timedelta(days=7),
        notes="=readiness 55 of 40",
    )
    Moment.objects.filter(pk__in=[moments[0].pk, moments[1].pk]).update(ask=open_ask)
    cancelled = Task.objects.create(
        kind=TaskKind.REFERRAL_ASK,
        subject="Ask Acme for a referral",
        owner=rep,
        account=account,
        due_at=T0,
        created_at=T0 - dt.timedelta(days=2),
        status=TaskStatus.CANCELLED,
        completed_at=T0 + dt.timedelta(hours=1),
        outcome="not now",
    )
    if HAS_REASON:
        Task.objects.filter(pk=cancelled.pk).update(reason="mid-migration")
    return [open_ask, cancelled]


ASK_HEADER = (
    "task_id,account_external_id,account_name,owner_email,contact_email,status,due_at,"
    "created_at,completed_at,outcome,reason,why_now,moments"
)


def test_asks_csv_has_every_referral_ask_with_the_evidence_it_cites(
    asks: list[Task], task: Task
) -> None:
    # Given two asks and a task of another kind (the `task` fixture, a call)
    open_ask, cancelled = asks
    reason = "mid-migration" if HAS_REASON else ""
    # When the asks are exported
    lines = export("asks", "export").splitlines()
    # Then both asks, and only they, are rows; the moments in time order, formulas neutralised
    assert lines[0] == ASK_HEADER
    assert list(csv.reader(lines[1:])) == [
        [
            str(open_ask.pk),
            "ACC-1",
            "Acme Analytics",
            "rep@example.com",
            "ada@acme.io",
            "open",
            "2026-01-14T09:30:00+00:00",
            "2026-01-12T09:30:00+00:00",
            "",
            "",
            "",
            "'=readiness 55 of 40",
            f"'{FORMULA} | {REACHED}",
        ],
        [
            str(cancelled.pk),
            "ACC-1",
            "Acme Analytics",
            "rep@example.com",
            "",
            "cancelled",
            "2026-01-05T09:30:00+00:00",
            "2026-01-03T09:30:00+00:00",
            "2026-01-05T10:30:00+00:00",
            "not now",
            reason,
            "",
            "",
        ],
    ]


@pytest.mark.usefixtures("asks")
def test_asks_status_narrows_the_export() -> None:
    rows = list(csv.DictReader(export("asks", "export", "--status", "cancelled").splitlines()))
    assert [row["status"] for row in rows] == ["cancelled"]
    assert export("asks", "export", "--status", "done").splitlines() == [ASK_HEADER]


def test_asks_json_is_a_list_of_objects_with_raw_values(asks: list[Task]) -> None:
    open_ask = asks[0]
    rows = json.loads(export("asks", "export", "--format", "json", "--status", "open"))
    assert rows == [
        {
            "task_id": open_ask.pk,
            "account_external_id": "ACC-1",
            "account_name": "Acme Analytics",
            "owner_email": "rep@example.com",
            "contact_email": "ada@acme.io",
            "status": "open",
            "due_at": "2026-01-14T09:30:00+00:00",
            "created_at": "2026-01-12T09:30:00+00:00",
            "completed_at": None,
            "outcome": "",
            "reason": "",
            "why_now": "=readiness 55 of 40",
            "moments": f"{FORMULA} | {REACHED}",
        }
    ]
