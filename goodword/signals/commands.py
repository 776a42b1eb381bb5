"""`goodword writekey`: the keys products send events with (Segment's write keys)."""

from __future__ import annotations

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
