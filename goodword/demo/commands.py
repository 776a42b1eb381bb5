import click


@click.command()
def demo() -> None:
    """Build the demo company and serve it."""
