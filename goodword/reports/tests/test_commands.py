from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.utils import timezone

from goodword.cli import main
from goodword.reports.catalogue import NAMES
from goodword.reports.filters import Filters
from goodword.reports.pipeline import pipeline_report
from goodword.reports.tests.conftest import Book
from goodword.users.models import User

pytestmark = pytest.mark.django_db


def test_the_report_as_json_is_the_reports_figures(book: Book) -> None:
    # when the pipeline report is written as JSON for 2026 so far
    result = CliRunner().invoke(
        main, ["report", "pipeline", "--from", "2026-01-01", "--format", "json"]
    )

    # then it is the report the page and the API show
    assert result.exit_code == 0, result.output
    filters = Filters(date_from=dt.date(2026, 1, 1))
    expected = pipeline_report(user=None, filters=filters, today=timezone.now().date())
    assert json.loads(result.stdout) == expected.as_json()


def test_one_table_as_csv_to_a_file(book: Book, tmp_path: Path, rep: User) -> None:
    target = f"{tmp_path}/months.csv"
    result = CliRunner().invoke(
        main,
        ["report", "pipeline", "--table", "referred_per_month", "--as", rep.email, "-o", target],
    )
    assert result.exit_code == 0, result.output
    with open(target, encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["month", "deals", "amount", "unconverted"]
    assert len(rows) == 13  # twelve months and the header
    assert result.stderr.startswith("Referred deals are ")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["report", "forecast"], "no report named 'forecast'; the reports are " + ", ".join(NAMES)),
        (["report", "pipeline", "--from", "May"], "date_from: 'May' is not a date (YYYY-MM-DD)"),
        (["report", "pipeline", "--table", "nope"],
         "--table: pipeline has the tables open, referred_per_month"),
        (["report", "pipeline", "--as", "who@example.com"],
         "--as: no active user has the e-mail address who@example.com"),
    ],
)  # fmt: skip
def test_errors_are_one_line(book: Book, args: list[str], error: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {error}\n"
