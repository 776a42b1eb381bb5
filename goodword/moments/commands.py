"""`goodword rules`, `goodword scan`, `goodword backtest`, `goodword moments export` and
`goodword asks export`: parse, call goodword.moments, report. The CLI acts as an admin
operator: it sees everything and applies programmes with no user attached.

Exit codes: 0 done; 1 an invalid programme or a failed scan; 2 a usage error (a missing
file, a bad option value); 3 another scan is running.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TextIO

import click

from goodword.cli import output_to, setup_django

if TYPE_CHECKING:
    from goodword.crm.models import Task
    from goodword.engine.programme import Programme, Rule
    from goodword.engine.rules import Problem
    from goodword.moments.backtest import BacktestResult
    from goodword.moments.models import Scan

CHUNK_SIZE = 2000
NOTE_MAX = 200  # ProgrammeVersion.note
MOMENT_COLUMNS = (
    "account_external_id",
    "rule_id",
    "kind",
    "threshold",
    "occurred_at",
    "contact_email",
    "evidence",
)
ASK_COLUMNS = (
    "task_id",
    "account_external_id",
    "account_name",
    "owner_email",
    "contact_email",
    "status",
    "due_at",
    "created_at",
    "completed_at",
    "outcome",
    "reason",
    "why_now",
    "moments",
)
PROGRAMME_FILE = click.Path(exists=True, dir_okay=False, readable=True)
FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: formula-safe cells; json: one array, one object per line, raw values.",
)
OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout)."
)


class ScanBusyError(click.ClickException):
    # Its own exit code, so a cron job can tell "try later" from "it failed".
    exit_code = 3


# --- goodword rules ---------------------------------------------------------------------


@click.group()
def rules() -> None:
    """Check, apply and show the referral programme (the rules that find success moments)."""


@rules.command("validate")
@click.argument("file", type=PROGRAMME_FILE)
def rules_validate_cmd(file: str) -> None:
    """Check the programme in FILE: print its rules, or every problem (on stderr) as
    FILE:LINE: FIELD: MESSAGE and exit 1."""
    programme = _parse_or_exit(file, _read(file))
    ids = [rule.id for rule in programme.rules]
    listed = f" ({', '.join(ids)})" if ids else ""
    click.echo(f"{file}: valid, {_plural(len(ids), 'rule')}{listed}")


@rules.command("apply")
@click.argument("file", type=PROGRAMME_FILE)
@click.option("--note", default="", help=f"Why, kept with the version (≤ {NOTE_MAX} characters).")
def rules_apply_cmd(file: str, note: str) -> None:
    """Put the programme in FILE in force and report which rules are new, changed, removed or
    re-weighted. An invalid file is reported as by `validate` and nothing is written."""
    if len(note) > NOTE_MAX:
        raise click.BadParameter(
            f"is {len(note)} characters; at most {NOTE_MAX}", param_hint="--note"
        )
    text = _read(file)
    new = _parse_or_exit(file, text)
    setup_django()
    from goodword.moments.programmes import programme_apply

    old = _in_force()
    version = programme_apply(text=text, by=None, note=note)
    click.echo(f"{file}: in force as programme version {version.pk}")
    for line in programme_changes(old, new):
        click.echo(line)


@rules.command("show")
def rules_show_cmd() -> None:
    """Print the programme in force as YAML: `goodword rules show > programme.yaml`, edit,
    then `goodword rules apply programme.yaml`."""
    setup_django()
    from goodword.moments.programmes import programme_yaml

    text = programme_yaml()
    click.echo(text, nl=not text.endswith("\n"))


def _read(file: str) -> str:
    # utf-8-sig: an editor's byte-order mark is not part of the programme.
    try:
        with open(file, encoding="utf-8-sig") as stream:
            return stream.read()
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{file} is not UTF-8 text", param_hint="FILE") from None


def _parse_or_exit(file: str, text: str) -> Programme:
    from goodword.engine.rules import RulesError, parse_programme

    try:
        return parse_programme(text)
    except RulesError as exc:
        for problem in exc.problems:
            click.echo(_located(file, problem), err=True)
        sys.exit(1)


def _located(file: str, problem: Problem) -> str:
    """FILE:LINE: FIELD: MESSAGE, the form editors and CI annotations jump to."""
    where = file if problem.line is None else f"{file}:{problem.line}"
    what = f"{problem.field}: " if problem.field else ""
    return f"{where}: {what}{problem.message}"


def _in_force() -> Programme:
    from goodword.engine.programme import Programme
    from goodword.engine.rules import RulesError
    from goodword.moments.programmes import programme_current

    try:
        return programme_current()[0]
    except RulesError:
        # A version applied by an older release may use words this one no longer reads.
        click.echo(
            "warning: the programme in force does not read; every rule counts as new", err=True
        )
        return Programme()


def programme_changes(old: Programme, new: Programme) -> list[str]:
    """What applying `new` over `old` changes, in words, one line per kind of change."""
    before = {rule.id: rule for rule in old.rules}
    changes: dict[str, list[str]] = {}
    for rule in new.rules:
        for key, text in _rule_changes(before.get(rule.id), rule):
            changes.setdefault(key, []).append(text)
    ids = {rule.id for rule in new.rules}
    changes["removed"] = [rule_id for rule_id in before if rule_id not in ids]
    return _change_lines(changes, _settings_changed(old, new))


def _rule_changes(was: Rule | None, rule: Rule) -> Iterator[tuple[str, str]]:
    from goodword.engine.rules import rule_fingerprint

    if was is None:
        yield "new", rule.id + ("" if rule.enabled else " (switched off)")
    elif rule_fingerprint(was) != rule_fingerprint(rule):
        yield "changed", rule.id
    else:
        if was.weight != rule.weight:
            yield "re-weighted", f"{rule.id} ({was.weight:g} → {rule.weight:g})"
        if was.enabled != rule.enabled:
            yield ("on" if rule.enabled else "off"), rule.id
        if was.enabled:
            return
    # The scan keeps progress per rule fingerprint, and none for a rule that was off: such a
    # rule starts over.
    if rule.enabled:
        yield "again", rule.id


def _settings_changed(old: Programme, new: Programme) -> list[str]:
    names = (f.name for f in fields(new) if f.name != "rules")
    return [name for name in names if getattr(old, name) != getattr(new, name)]


def _change_lines(changes: dict[str, list[str]], settings: list[str]) -> list[str]:
    titles = {
        "new": "new rules",
        "changed": "changed rules",
        "removed": "removed rules (their moments stay)",
        "re-weighted": "re-weighted only",
        "on": "switched on",
        "off": "switched off",
    }
    lines = [
        f"{title}: {', '.join(changes[key])}" for key, title in titles.items() if changes.get(key)
    ]
    if settings:
        lines.append(f"changed settings: {', '.join(settings)}")
    if changes.get("again"):
        lines.append(f"the next scan runs these rules in full: {', '.join(changes['again'])}")
    return lines or ["no rule or setting changed"]


# --- goodword scan ----------------------------------------------------------------------


@click.command()
@click.option("--full", is_flag=True, help="Run every rule over all events, not only new ones.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-DATETIME",
    help="The scan's now (weeks ending by then are complete): ISO 8601, UTC unless it has a "
    "zone; a date is its midnight UTC. [default: now]",
)
def scan(full: bool, now_text: str | None) -> None:
    """Run the programme's rules over the events and records, write the moments they find and
    print what the scan did. Exits 1 when the scan failed, 3 when another one is running."""
    setup_django()
    from goodword.moments.models import ScanStatus
    from goodword.moments.scan import ScanBusy, ScanLost, scan_run

    now = _when(now_text, "--now")
    started = time.monotonic()
    try:
        record = scan_run(full=full, now=now, trigger="cli", say=_say)
    except ScanBusy as exc:
        raise ScanBusyError(f"{exc}; try again when it has finished") from None
    except ScanLost as exc:
        raise click.ClickException(f"{exc}; this scan wrote nothing") from None
    _say(f"scan #{record.pk} {record.status} in {time.monotonic() - started:.1f} s")
    for line in scan_summary(record):
        click.echo(line)
    for error in record.errors:
        click.echo(f"error: {error}", err=True)
    if record.status != ScanStatus.DONE:
        sys.exit(1)


def _say(line: str) -> None:
    click.echo(line, err=True)


def _when(raw: str | None, option: str) -> dt.datetime | None:
    """An option's ISO 8601 date-time; UTC when it has no zone, a bare date its midnight UTC
    (the rule lib.validators.parse_datetime applies to every imported date-time)."""
    if raw is None:
        return None
    from goodword.lib.validators import parse_datetime

    try:
        parsed = parse_datetime(raw)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if parsed is None:
        raise click.BadParameter("is empty", param_hint=option)
    return parsed


def scan_summary(scan: Scan) -> list[str]:
    """The scan's record in words; per-rule and per-gate lines sorted so any database gives
    the same text (PostgreSQL's jsonb does not keep key order)."""
    from goodword.moments.models import ScanMode

    batches = "all" if scan.batch_to is None else f"{scan.batch_from} to {scan.batch_to}"
    lines = [
        f"scan #{scan.pk}: {scan.status}, {scan.mode}, as of {_iso(scan.as_of)}",
        f"events read: {scan.events_read:,} (batches {batches})",
        "moments by rule:" if scan.moments else "moments by rule: none",
    ]
    for rule_id, tally in sorted(scan.moments.items()):
        # In a full scan every rule runs in full; say why only when it is the exception.
        why = "" if scan.mode == ScanMode.FULL else scan.full_rules.get(rule_id)
        lines.append(
            f"  {rule_id}: found {tally.get('found', 0):,}, moved {tally.get('moved', 0):,}, "
            f"retracted {tally.get('retracted', 0):,}" + (f" (in full: {why})" if why else "")
        )
    lines.append(f"asks created: {scan.asks_created:,}")
    lines.append("blocked by gate:" if scan.blocked else "blocked by gate: none")
    for gate, count in sorted(scan.blocked.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {gate}: {count:,}")
    lines.append(f"errors: {len(scan.errors)}")
    return lines


# --- goodword backtest ------------------------------------------------------------------

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.option(
    "--from",
    "start",
    required=True,
    type=DAY,
    metavar="DATE",
    help="Replay from the first week end (Monday 00:00 UTC) on or after DATE.",
)
@click.option(
    "--to",
    "end",
    required=True,
    type=DAY,
    metavar="DATE",
    help="…to the last on or before DATE: not after today, at most 3 years after --from.",
)
@click.option(
    "--rules",
    "rules_file",
    type=PROGRAMME_FILE,
    help="A programme file to try instead of the programme in force.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="text: tables per week, owner and rule; csv: one row per simulated ask (the text "
    "report on stderr); json: the totals and the asks.",
)
@OUTPUT
def backtest(
    start: dt.datetime, end: dt.datetime, rules_file: str | None, fmt: str, output: str | None
) -> None:
    """Replay past weeks and report the referral asks the rules would have created, per week,
    owner and rule, and how many due accounts each gate held back. Writes nothing. Exit 1:
    an invalid rules file (its problems on stderr, as `rules validate` prints them)."""
    programme = _parse_or_exit(rules_file, _read(rules_file)) if rules_file else None
    setup_django()
    from goodword.moments.backtest import RangeError, backtest_run

    try:
        result = backtest_run(
            programme=programme or _in_force(), start=start.date(), end=end.date()
        )
    except RangeError as exc:
        raise click.UsageError(str(exc)) from None
    with output_to(output) as out:
        _backtest_write(out, result, fmt)


def _backtest_write(out: TextIO, result: BacktestResult, fmt: str) -> None:
    from goodword.moments.backtest import ASK_COLUMNS, ask_rows, summary

    if fmt == "json":
        asks = [dict(zip(ASK_COLUMNS, row, strict=True)) for row in ask_rows(result)]
        out.write(json.dumps({"summary": summary(result), "asks": asks}, indent=1) + "\n")
        return
    report = "".join(f"{line}\n" for line in backtest_lines(result))
    if fmt == "text":
        out.write(report)
        return
    write_rows(out, ASK_COLUMNS, ask_rows(result), "csv")
    click.echo(report, err=True, nl=False)


def backtest_lines(result: BacktestResult) -> list[str]:
    """The backtest in words: a headline, a table per week, then totals per owner and rule."""
    sources = ", ".join(f"{rule} ({how})" for rule, how in sorted(result.sources.items()))
    weeks = [
        [f"{week.at:%Y-%m-%d}", week.due, len(week.asks), *counts]
        for week, counts in result.week_rows
    ]
    owners = [[f"{owner} <{email}>", n] for owner, email, n in result.by_owner]
    rules = [[t.rule_id, t.moments, t.led, t.behind] for t in result.by_rule]
    return [
        f"backtest {result.start} to {result.end}: {_plural(len(result.weeks), 'week')}, "
        f"{_plural(len(result.asks), 'ask')}, {result.due:,} due",
        f"moments: {sources or 'no active rule'}",
        "",
        *_columns(["week end", "due", "asks", *result.gates], weeks),
        "",
        "asks by owner:" if owners else "asks by owner: none",
        *_columns(["", ""], owners, "  ")[1:],  # no header: the line above says it
        "",
        "asks by rule (led: added the most readiness; behind: added any):",
        *_columns(["rule", "moments", "led", "behind"], rules, "  "),
    ]


def _columns(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> list[str]:
    """An aligned table: numbers to the right, text to the left."""
    cells = [list(header), *([f"{v:,}" if isinstance(v, int) else str(v) for v in r] for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [bool(rows) and isinstance(rows[0][i], int) for i in range(len(header))]
    return [
        indent
        + "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ).rstrip()
        for row in cells
    ]


# --- goodword moments export / goodword asks export -------------------------------------


@click.group()
def moments() -> None:
    """The success moments the scan found."""


@moments.command("export")
@FORMAT
@OUTPUT
@click.option("--rule", "rule_id", metavar="ID", help="Only this rule's moments.")
@click.option(
    "--since",
    metavar="DATE",
    help="Only moments on or after this date or ISO date-time (UTC unless it has a zone).",
)
@click.option("--all", "everything", is_flag=True, help="Retracted moments too.")
def moments_export_cmd(
    fmt: str, output: str | None, rule_id: str | None, since: str | None, everything: bool
) -> None:
    """Export the live moments (not retracted), oldest first, streamed."""
    setup_django()
    rows = moment_rows(rule_id=rule_id, since=_when(since, "--since"), everything=everything)
    with output_to(output) as out:
        written = write_rows(out, MOMENT_COLUMNS, rows, fmt)
    if output:
        click.echo(f"moments: {written:,} exported to {output}", err=True)


@click.group()
def asks() -> None:
    """The referral asks: tasks the scan created for account owners."""


@asks.command("export")
@FORMAT
@OUTPUT
@click.option(
    "--status",
    type=click.Choice(["open", "done", "cancelled", "all"]),
    default="all",
    show_default=True,
)
def asks_export_cmd(fmt: str, output: str | None, status: str) -> None:
    """Export referral asks with the moments that led to them (evidence joined by " | ")."""
    setup_django()
    with output_to(output) as out:
        written = write_rows(out, ASK_COLUMNS, ask_rows(status=status), fmt)
    if output:
        click.echo(f"asks: {written:,} exported to {output}", err=True)


def moment_rows(
    *, rule_id: str | None, since: dt.datetime | None, everything: bool
) -> Iterator[tuple[Any, ...]]:
    """Moments as tuples in MOMENT_COLUMNS order, read in chunks."""
    from django.db.models.fields.json import KT

    from goodword.moments.models import Moment
    from goodword.moments.services import live_moments

    qs = Moment.objects.all() if everything else Moment.objects.filter(live_moments())
    if rule_id:
        qs = qs.filter(rule_id=rule_id)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    rows = qs.order_by("occurred_at", "pk").values_list(
        "account__external_id",
        "rule_id",
        "kind",
        KT("data__threshold"),
        "occurred_at",
        "contact__email",
        "evidence",
    )
    for account, rule, kind, threshold, at, email, evidence in rows.iterator(CHUNK_SIZE):
        shown = threshold if kind == "milestone" else None
        yield account, rule, kind, shown, _iso(at), email, evidence


def ask_rows(*, status: str) -> Iterator[tuple[Any, ...]]:
    """Referral asks as tuples in ASK_COLUMNS order, read in chunks with their moments."""
    from django.db.models import Prefetch

    from goodword.crm.models import Task, TaskKind
    from goodword.moments.models import Moment

    cited = Moment.objects.order_by("occurred_at", "pk").only("ask", "evidence")
    qs = (
        Task.objects.filter(kind=TaskKind.REFERRAL_ASK)
        .select_related("account", "owner", "contact")
        .prefetch_related(Prefetch("moments", queryset=cited))
        .order_by("pk")
    )
    if status != "all":
        qs = qs.filter(status=status)
    for task in qs.iterator(CHUNK_SIZE):
        yield _ask_row(task)


def _ask_row(task: Task) -> tuple[Any, ...]:
    account, contact = task.account, task.contact
    return (
        task.pk,
        account.external_id if account else None,
        account.name if account else None,
        task.owner.email,
        contact.email if contact else None,
        task.status,
        _iso(task.due_at),
        _iso(task.created_at),
        _iso(task.completed_at),
        task.outcome,
        getattr(task, "reason", ""),  # a field another change adds; older schemas lack it
        task.notes,
        " | ".join(moment.evidence for moment in task.moments.all()),
    )


def write_rows(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> int:
    """Write rows as CSV (formula-safe) or a JSON array; returns how many were written."""
    from goodword.lib.csvsafe import csv_lines

    written = 0

    def counted() -> Iterator[Sequence[Any]]:
        nonlocal written
        for row in rows:
            written += 1
            yield row

    pieces = csv_lines(list(header), counted()) if fmt == "csv" else _json_lines(header, counted())
    for piece in pieces:
        out.write(piece)
    return written


def _json_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    # One object per line keeps a large export greppable while it stays one JSON document.
    opening = "["
    for row in rows:
        yield f"{opening}\n{json.dumps(dict(zip(header, row, strict=True)))}"
        opening = ","
    yield "[]\n" if opening == "[" else "\n]\n"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
