import click


@click.command()
def import_cmd() -> None:
    """Import users, accounts, contacts or deals from a CSV file."""


@click.command()
def export_cmd() -> None:
    """Export records as CSV or JSON."""
