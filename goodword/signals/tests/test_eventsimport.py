"""Bulk import of usage events: every format lands the same rows, a bad file writes nothing
and names each problem as FILE:ROW: column: reason, a dry run writes nothing, importing again
adds nothing, and memory does not grow with the file."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.db import connection

from goodword.config import events_config
from goodword.crm.io.report import ImportFileError, ImportRefused
from goodword.signals import store
from goodword.signals.eventsimport import import_events
from goodword.signals.models import EventWeek, IngestLog
from goodword.signals.moving import events_move
from goodword.signals.segment import Parsed
from goodword.signals.services import events_ingest

UTC = dt.UTC
HEADER = ["message_id", "account_external_id", "user_id", "event", "timestamp", "properties"]
GIVEN = [
    ["e1", "ACC-1", "u1", "report_created", "2025-01-05T23:59:59.999999Z", '{"n": 2}'],
    ["e2", "ACC-1", "anon:x", "login", "2025-01-06T01:00:00+02:00", ""],
    ["e3", "ACC-2", "u9", "login", "2025-01-06T00:00:00Z", '{"tags": ["a"], "n": null}'],
]
# what the store holds for GIVEN (account pks filled in by the test)
STORED = [
    (
        "e1",
        "ACC-1",
        "u1",
        "report_created",
        dt.datetime(2025, 1, 5, 23, 59, 59, 999999, UTC),
        '{"n":2}',
    ),
    ("e2", "ACC-1", "anon:x", "login", dt.datetime(2025, 1, 5, 23, 0, tzinfo=UTC), "{}"),
    (
        "e3",
        "ACC-2",
        "u9",
        "login",
        dt.datetime(2025, 1, 6, 0, 0, tzinfo=UTC),
        '{"tags":["a"],"n":null}',
    ),
]


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    """rows in the format path's name says."""
    name = path.name
    opener: Any = gzip.open if name.endswith(".gz") else open
    if name.endswith(".parquet"):
        columns = {h: [r[i] for r in rows] for i, h in enumerate(header)}
        pq.write_table(pa.table(columns), path)
    elif ".csv" in name:
        with opener(path, "wt", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
    else:
        with opener(path, "wt", encoding="utf-8") as out:
            for row in rows:
                record: dict[str, Any] = dict(zip(header, row, strict=True))
                if record.get("properties"):
                    record["properties"] = json.loads(record["properties"])
                out.write(json.dumps(record) + "\n")
    return path


def in_store() -> list[tuple[Any, ...]]:
    with store.connect() as opened:
        rows = opened.events().order_by("message_id").to_pyarrow().to_pylist()
    return [
        (
            r["message_id"],
            r["account_id"],
            r["user_id"],
            r["event"],
            r["timestamp"],
            r["properties"],
        )
        for r in rows
    ]


def expected(*accounts: Any) -> list[tuple[Any, ...]]:
    pks = {a.external_id: a.pk for a in accounts}
    return [(m, pks[a], *rest) for m, a, *rest in STORED]


def weeks() -> dict[tuple[int, dt.date], int]:
    return {(w.account_id, w.week): w.events for w in EventWeek.objects.all()}


@pytest.mark.parametrize("name", ["e.parquet", "e.csv", "e.csv.gz", "e.jsonl", "e.jsonl.gz"])
def test_each_format_imports_the_same_events(events_store, account, other_account, tmp_path, name):
    # given the three events in one format
    path = write(tmp_path / name, GIVEN)
    # when the file is imported
    report = import_events(path)
    # then they are in the store, counted per week, and the import is logged
    assert (report.rows, report.created, report.unchanged, report.refused) == (3, 3, 0, 0)
    assert report.errors == []
    assert in_store() == expected(account, other_account)
    assert weeks() == {
        (account.pk, dt.date(2024, 12, 30)): 2,
        (other_account.pk, dt.date(2025, 1, 6)): 1,
    }
    log = IngestLog.objects.get()
    assert (log.source, log.received, log.stored, log.duplicates) == ("import", 3, 3, 0)


def test_a_parquet_file_may_type_its_timestamps_and_nest_its_properties(
    events_store, account, tmp_path
):
    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                "message_id": ["p1", "p2"],
                "account_external_id": ["ACC-1", "ACC-1"],
                "user_id": ["u1", "u2"],
                "event": ["login", "login"],
                "timestamp": pa.array(
                    [dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 2, tzinfo=UTC)],
                    pa.timestamp("ms", tz="Europe/Berlin"),
                ),
                "properties": [{"n": 1, "plan": "pro"}, None],
            }
        ),
        path,
    )
    assert import_events(path).created == 2
    assert [(r[0], r[4], r[5]) for r in in_store()] == [
        ("p1", dt.datetime(2025, 1, 1, tzinfo=UTC), '{"n":1,"plan":"pro"}'),
        ("p2", dt.datetime(2025, 1, 2, tzinfo=UTC), "{}"),
    ]


def test_a_dry_run_reports_what_it_would_add_and_writes_nothing(
    events_store, account, other_account, tmp_path
):
    report = import_events(write(tmp_path / "e.csv", GIVEN), dry_run=True)
    assert (report.dry_run, report.rows, report.created, report.unchanged) == (True, 3, 3, 0)
    assert report.summary().startswith("events (dry run, nothing written): 3 created")
    assert in_store() == []
    assert weeks() == {}
    assert not IngestLog.objects.exists()


def test_importing_the_same_file_again_adds_and_counts_nothing(
    events_store, account, other_account, tmp_path
):
    path = write(tmp_path / "e.jsonl", GIVEN)
    import_events(path)
    again = import_events(path)
    assert (again.rows, again.created, again.unchanged) == (3, 0, 3)
    assert in_store() == expected(account, other_account)
    assert sum(weeks().values()) == 3


def test_events_the_intake_moved_already_are_skipped_and_not_counted_twice(
    events_store, account, other_account, tmp_path
):
    # given e1 arrived through the intake and was moved to the store
    at = dt.datetime(2025, 1, 5, 23, 59, 59, 999999, UTC)
    events_ingest(
        events=[Parsed("e1", "track", "user:u1", "report_created", "ACC-1", {"n": 2}, at)],
        received_at=at,
    )
    assert events_move() == 1
    # when a file with e1, e2 and e3 is imported
    report = import_events(write(tmp_path / "e.parquet", GIVEN))
    # then e2 and e3 are added, and each event counted once
    assert (report.created, report.unchanged) == (2, 1)
    assert [r[0] for r in in_store()] == ["e1", "e2", "e3"]
    assert sum(weeks().values()) == 3


BAD = [
    ["b1", "ACC-1", "u1", "login", "2025-01-05T10:00:00Z", ""],
    ["", "ACC-404", "", "", "2025-01-05 10:00:00", "[1]"],
    ["b1", "ACC-1", "u1", "login", "yesterday", '{"n": '],
    ["b4", "ACC-1", "u1", "x" * 201, "", ""],
]


def test_a_bad_file_is_refused_naming_each_problem_and_writes_nothing(
    events_store, account, tmp_path
):
    path = write(tmp_path / "bad.csv", BAD)
    with pytest.raises(ImportRefused) as refused:
        import_events(path)
    report = refused.value.report
    assert report.errors == [
        f"{path}:3: message_id: is required",
        f"{path}:3: user_id: is required",
        f"{path}:3: event: is required",
        f"{path}:3: account_external_id: no account has external id 'ACC-404'",
        f"{path}:3: timestamp: '2025-01-05 10:00:00' has no time zone (end it with Z or +hh:mm)",
        f"{path}:3: properties: must be a JSON object",
        f"{path}:4: timestamp: 'yesterday' is not an ISO 8601 date and time (2025-01-31T09:30:00Z)",
        f"{path}:4: properties: is not JSON",
        f"{path}:5: event: is longer than 200 characters",
        f"{path}:5: timestamp: is required",
        f"{path}:4: message_id: 'b1' appears more than once (first in row 2)",
    ]
    assert (report.rows, report.refused, report.created) == (4, 3, 0)
    assert in_store() == []
    assert weeks() == {}
    assert not IngestLog.objects.exists()


def test_a_dry_run_of_a_bad_file_returns_the_problems(events_store, account, tmp_path):
    report = import_events(write(tmp_path / "bad.csv", BAD), dry_run=True)
    assert (report.ok, report.error_count, report.refused) == (False, 11, 3)
    assert in_store() == []


def test_csv_rows_are_counted_as_a_person_reads_them(events_store, account, tmp_path):
    # given a blank line and a quoted value over two lines (3 and 4) before a bad row
    path = tmp_path / "lines.csv"
    path.write_text(
        ",".join(HEADER)
        + '\n\nq1,ACC-1,u1,"an event named\nover two lines",2025-01-05T10:00:00Z,\n'
        + "q2,ACC-1,u1,login,2025-01-05T10:00:00Z,nope\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefused) as refused:
        import_events(path)
    assert refused.value.report.errors == [f"{path}:5: properties: is not JSON"]


def test_a_jsonl_line_of_the_wrong_shape_is_named(events_store, account, tmp_path):
    path = tmp_path / "shapes.jsonl"
    good = {"message_id": "j1", "account_external_id": "ACC-1", "user_id": "u1",
            "event": "login", "timestamp": "2025-01-05T10:00:00Z"}  # fmt: skip
    lines = [
        json.dumps(good),
        "{not json",
        "[1, 2]",
        json.dumps(good | {"message_id": "j4", "user_id": {"id": 1}}),
        json.dumps(good | {"message_id": 5, "user_id": 6}),  # numbers are taken as text
        json.dumps(good | {"message_id": "j6", "properties": [1]}),
        json.dumps(good | {"message_id": "j7", "properties": '{"n": 1}'}),  # JSON as text
        json.dumps(good | {"message_id": "j8", "properties": "x"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_events(path)
    assert refused.value.report.errors == [
        f"{path}:2: line: is not JSON (Expecting property name enclosed in double quotes at "
        "character 2)",
        f"{path}:3: line: must be a JSON object",
        f"{path}:4: user_id: must be a string",
        f"{path}:6: properties: must be a JSON object",
        f"{path}:8: properties: is not JSON",
    ]
    assert (refused.value.report.rows, refused.value.report.refused) == (8, 5)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("events.txt", b"x", "events files end in .parquet, .csv, .csv.gz, .jsonl, .jsonl.gz"),
        ("latin1.csv", ",".join(HEADER).encode() + b"\n\xe9,\n", "is not UTF-8 text"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "cannot be read"),
        ("fake.parquet", b"PAR1 not really", "is not a Parquet file"),
    ],
)
def test_a_file_that_cannot_be_read_is_an_error(
    events_store, account, tmp_path, name, content, message
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_events(path)
    assert in_store() == []


def test_a_missing_file_is_an_error(events_store, tmp_path):
    with pytest.raises(ImportFileError, match="No such file"):
        import_events(tmp_path / "absent.csv")


def test_a_parquet_file_without_a_column_or_zone_is_an_error(events_store, account, tmp_path):
    lacking = tmp_path / "lacking.parquet"
    pq.write_table(pa.table({"message_id": ["a"], "user_id": ["u"]}), lacking)
    with pytest.raises(
        ImportFileError, match=r"has no column\(s\) account_external_id, event, timestamp"
    ):
        import_events(lacking)
    naive = tmp_path / "naive.parquet"
    columns: dict[str, Any] = {h: ["x"] for h in HEADER[:4]}
    pq.write_table(pa.table(columns | {"timestamp": [dt.datetime(2025, 1, 1)]}), naive)
    with pytest.raises(ImportFileError, match="column timestamp has no time zone"):
        import_events(naive)


def test_a_csv_without_a_needed_column_names_it_at_row_1(events_store, account, tmp_path):
    path = write(tmp_path / "short.csv", [["e1", "u1"]], header=["message_id", "user_id"])
    with pytest.raises(ImportRefused) as refused:
        import_events(path)
    assert refused.value.report.errors == [
        f"{path}:1: account_external_id: column is missing",
        f"{path}:1: event: column is missing",
        f"{path}:1: timestamp: column is missing",
    ]


@pytest.mark.parametrize("name", ["e.csv.gz", "e.parquet"])
def test_progress_adds_up_to_the_file_size(events_store, account, other_account, tmp_path, name):
    path = write(tmp_path / name, GIVEN * 1)
    steps: list[int] = []
    import_events(path, progress=steps.append)
    assert sum(steps) == path.stat().st_size
    assert all(step > 0 for step in steps)


def test_a_store_read_in_place_refuses_imports(settings, account, tmp_path):
    settings.EVENTS_STORE = events_config(f"spark://local[2]?path={tmp_path}", tmp_path)
    with pytest.raises(store.StoreReadOnly, match="read in place"):
        import_events(write(tmp_path / "e.csv", GIVEN))


# --- memory ---------------------------------------------------------------------------

MEASURE = """
import resource, sys
from goodword.cli import setup_django
setup_django()
from django.utils import timezone
from goodword.crm.models import Account
from goodword.signals import eventsimport
eventsimport.STAGE_SETTINGS["memory_limit"] = "48MB"
now = timezone.now()
Account.objects.bulk_create(
    (Account(external_id=f"ACC-{i}", name=f"A{i}", created_at=now, updated_at=now)
    for i in range(100)),
    ignore_conflicts=True,
)
report = eventsimport.import_events(sys.argv[1])
assert report.created == int(sys.argv[2]), report.summary()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def events_file(path: Path, rows: int) -> Path:
    """rows events in Parquet row groups of 100,000, written a group at a time."""
    schema = pa.schema([(h, pa.string()) for h in HEADER])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            i = np.arange(start, start + n)
            text = pc.binary_join_element_wise(f"{rows}-", pa.array(i).cast(pa.string()), "")
            seconds = pa.array(1_700_000_000 + 37 * i).cast(pa.timestamp("s", "UTC"))
            columns = {
                "message_id": text,
                "account_external_id": pc.binary_join_element_wise(
                    "ACC-", pa.array(i % 100).cast(pa.string()), ""
                ),
                "user_id": pc.binary_join_element_wise(
                    "u", pa.array(i % 997).cast(pa.string()), ""
                ),
                "event": pa.array(["login"] * n),
                "timestamp": pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ"),
                "properties": pa.array(['{"n": 1}'] * n),
            }
            writer.write_table(pa.table(columns, schema=schema))
    return path


def peak_rss_mb(tmp_path: Path, rows: int) -> int:
    """The peak memory of a process importing a file of `rows` events into the install at
    tmp_path/home (migrated by the first call)."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GOODWORD_EVENTS_URL")}
    env |= {"GOODWORD_HOME": str(home), "DJANGO_SETTINGS_MODULE": "goodword.settings"}
    env["GOODWORD_EVENTS_URL"] = f"duckdb://{home / 'events.duckdb'}?memory_limit=48MB"
    if not home.exists():
        goodword = str(Path(sys.executable).with_name("goodword"))
        subprocess.run([goodword, "migrate"], env=env, check=True, capture_output=True)
    path = events_file(tmp_path / f"events-{rows}.parquet", rows)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(rows)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.slow
def test_memory_does_not_grow_with_the_file(tmp_path):
    """Each size in its own process (on an install with SQLite: the database plays no part
    in the memory an import takes), so each peak is that import's alone. DuckDB's memory
    limits (the checks' and the store's) are set low, so that the smaller file already
    fills them: what is left to grow is what the import itself holds."""
    if connection.vendor == "postgresql":
        pytest.skip("the memory is the file's, not the database's: measured in the SQLite run")
    small, large = peak_rss_mb(tmp_path, 200_000), peak_rss_mb(tmp_path, 2_000_000)
    # ten times the rows: 1.8 million more rows held in memory would add over 250 MB
    assert large - small < 60, (small, large)
