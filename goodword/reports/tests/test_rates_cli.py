"""`goodword rates import FILE [--dry-run]` and `goodword rates list [--currency X] [-o FILE]`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from goodword.cli import main
from goodword.reports.models import Rate, RateImport

pytestmark = pytest.mark.django_db

GOOD = "day,currency,rate\n2026-01-05,EUR,1.085\n2026-01-06,EUR,1.09\n2026-01-05,GBP,1.27\n"


def write(tmp_path: Path, text: str, name: str = "rates.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored() -> list[tuple[str, str, Decimal]]:
    return [(r.currency, r.day.isoformat(), r.rate) for r in Rate.objects.all()]


def test_import_writes_the_rates_and_says_what_it_did(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)

    result = CliRunner().invoke(main, ["rates", "import", str(path), "-q"])

    assert result.exit_code == 0, result.output
    assert result.stdout == "rates: 3 added, 0 updated, 0 unchanged\n"
    assert result.stderr == ""
    assert [(c, d) for c, d, _ in stored()] == [
        ("EUR", "2026-01-05"),
        ("EUR", "2026-01-06"),
        ("GBP", "2026-01-05"),
    ]
    assert RateImport.objects.get().source == str(path)


def test_a_dry_run_reports_and_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)

    result = CliRunner().invoke(main, ["rates", "import", str(path), "--dry-run", "-q"])

    assert result.exit_code == 0
    assert result.stdout == "rates (dry run, nothing written): 3 added, 0 updated, 0 unchanged\n"
    assert not Rate.objects.exists()


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_bad_rows_are_listed_on_stderr_and_exit_1(tmp_path: Path, dry_run: list[str]) -> None:
    path = write(tmp_path, "day,currency,rate\n2026-01-05,EUR,1.085\n2026-01-05,USD,1\n")

    result = CliRunner().invoke(main, ["rates", "import", str(path), "-q", *dry_run])

    assert result.exit_code == 1
    assert result.stderr == f"{path}:3: currency: USD is the home currency: its rate is always 1\n"
    assert result.stdout == "rates: nothing written; 1 error(s) in 2 row(s)\n"
    assert not Rate.objects.exists()


def test_a_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["rates", "import", str(tmp_path / "nope.csv")])

    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: No such file or directory\n"


def test_a_file_that_is_not_utf8_is_one_line_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(b"day,currency,rate\n2026-01-05,EUR,1\xff\n")

    result = CliRunner().invoke(main, ["rates", "import", str(path), "-q"])

    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}: is not UTF-8 text (byte 34)\n"
    assert not Rate.objects.exists()


def test_list_writes_the_import_columns_and_filters_by_currency(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["rates", "import", str(write(tmp_path, GOOD)), "-q"])

    everything = CliRunner().invoke(main, ["rates", "list"])
    eur = CliRunner().invoke(main, ["rates", "list", "--currency", "eur"])

    assert everything.exit_code == 0
    assert everything.stdout.splitlines() == [
        "day,currency,rate",
        "2026-01-05,EUR,1.085",
        "2026-01-06,EUR,1.09",
        "2026-01-05,GBP,1.27",
    ]
    assert eur.stdout.splitlines() == [
        "day,currency,rate",
        "2026-01-05,EUR,1.085",
        "2026-01-06,EUR,1.09",
    ]


def test_list_to_a_file_imports_again_unchanged(tmp_path: Path) -> None:
    Rate.objects.create(
        currency="CHF",
        day=dt.date(2026, 1, 5),
        rate="1.1234567891",
        imported_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    target = tmp_path / "out.csv"

    listed = CliRunner().invoke(main, ["rates", "list", "-o", str(target)])
    again = CliRunner().invoke(main, ["rates", "import", str(target), "--dry-run", "-q"])

    assert listed.stderr == f"rates: 1 written to {target}\n"
    assert target.read_bytes() == b"day,currency,rate\r\n2026-01-05,CHF,1.1234567891\r\n"
    assert again.stdout == "rates (dry run, nothing written): 0 added, 0 updated, 1 unchanged\n"
