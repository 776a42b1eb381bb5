"""`goodword writekey` (the keys products send events with, Segment's write keys) and
`goodword events stats`."""

from __future__ import annotations

import datetime as dt
import json

import click

from goodword.cli import setup_django


@click.group()
def writekey() -> None:
    """Create and revoke write keys for the event intake (/v1/track, /v1/batch, …)."""


@writekey.command("create")
@click.option("--name", default="", help="A label: which product or environment sends with it.")
@click.option(
    "--rate-limit",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Events per second each web process accepts with this key [default: 2000].",
)
def writekey_create_cmd(name: str, rate_limit: int | None) -> None:
    """Create a write key and print it once; only its hash is stored."""
    setup_django()
    from goodword.signals.services import writekey_create

    row, key = writekey_create(name=name, rate_limit=rate_limit)
    click.echo(key)
    click.echo(
        f"Write key {row.prefix}: use it as the write key of a Segment or RudderStack SDK "
        "pointed at this server. Store it now: it cannot be shown again.",
        err=True,
    )


@writekey.command("revoke")
@click.argument("prefix")
def writekey_revoke_cmd(prefix: str) -> None:
    """Revoke the write key whose prefix (shown at creation) is PREFIX."""
    setup_django()
    from goodword.signals.services import writekey_revoke

    row = writekey_revoke(prefix=prefix)
    click.echo(f"Revoked write key {row.prefix}")


@click.group()
def events() -> None:
    """The event intake: what it took in (`goodword import events FILE` loads a file)."""


@events.command("stats")
@click.option(
    "--since",
    default=None,
    help="From this ISO date-time or date (UTC unless it has a zone), rounded down to the "
    "hour; or a span back from now such as 24h or 7d. [default: all time]",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def events_stats_cmd(since: str | None, as_json: bool) -> None:
    """Events received, stored, duplicates dropped, waiting for an account, and rejected
    (by reason)."""
    setup_django()
    from goodword.signals.selectors import ingest_stats

    stats = ingest_stats(since=_since(since))
    if as_json:
        click.echo(json.dumps(stats.as_json(), indent=2))
        return
    click.echo(f"since:                {stats.since.isoformat() if stats.since else 'all time'}")
    click.echo(f"received:             {stats.received:,}")
    click.echo(f"stored:               {stats.stored:,}")
    click.echo(f"duplicates dropped:   {stats.duplicates:,}")
    click.echo(f"held on arrival:      {stats.held:,}")
    click.echo(f"waiting for account:  {stats.waiting:,} (now)")
    rejected = sum(stats.rejected.values())
    click.echo(f"rejected:             {rejected:,}")
    for reason, count in sorted(stats.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {reason}: {count:,}")


def _since(raw: str | None) -> dt.datetime | None:
    if raw is None:
        return None
    from django.utils import timezone

    from goodword.lib.validators import parse_datetime

    value = raw.strip().lower()
    units = {"h": "hours", "d": "days"}
    if value[:-1].isdigit() and value[-1:] in units:
        return timezone.now() - dt.timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        return parse_datetime(raw)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


@click.group()
def praise() -> None:
    """The praise scorer that ticket texts and messages go through."""


@praise.command("score")
@click.argument("text")
def praise_score_cmd(text: str) -> None:
    """Print TEXT's praise score (0 to 1), whether it counts as praise, and why."""
    from goodword.engine import praise as scorer

    value = scorer.score(text)
    verdict = "praise" if value >= scorer.THRESHOLD else "not praise"
    click.echo(f"{value:.3f} ({verdict} at the threshold {scorer.THRESHOLD})")
    for cue in scorer.cues(text):
        click.echo(f"  {cue}")


@praise.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="[default: 0.5]")
def praise_evaluate_cmd(file: str, threshold: float | None) -> None:
    """Precision and recall on FILE, JSON lines of {"text": ..., "label": ...} where only the
    label "praise" counts as praise (the tests' sets: goodword/engine/tests/data/)."""
    from goodword.engine import praise as scorer

    try:
        examples = scorer.load_labelled(file)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    chosen = scorer.THRESHOLD if threshold is None else threshold
    result = scorer.evaluate(((m.text, m.praise) for m in examples), chosen)
    click.echo(
        f"{len(examples)} messages, threshold {chosen}: precision {result.precision:.3f}, "
        f"recall {result.recall:.3f} (tp {result.tp}, fp {result.fp}, fn {result.fn}, "
        f"tn {result.tn})"
    )
