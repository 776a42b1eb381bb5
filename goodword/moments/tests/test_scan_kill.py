"""A scan SIGKILLed at any point leaves nothing half-written, and the next scan completes the
work; the worker's schedule starts a scan only when one is due and none is running.

The kill test runs real `goodword` processes on an install of its own (see test_durability):
the demo company (which ends with a first scan), then a programme whose `reports` rule
changed, so the next scan must add moments; that scan is killed at several points."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from goodword.engine.rules import DEFAULT_YAML
from goodword.moments.models import Scan, ScanStatus
from goodword.moments.scan import scan_scheduled, scan_start
from goodword.signals.tests.test_durability import Home, _postgres_params, home

__all__ = ["home"]  # the fixture, used by name below
CHANGED = DEFAULT_YAML.replace("thresholds: [100, 1000, 10000]", "thresholds: [50, 500, 5000]")


def query(home: Home, sql: str) -> list[tuple[Any, ...]]:
    if connection.vendor == "postgresql":
        with psycopg.connect(dbname=home.database, **_postgres_params()) as db:
            cursor = db.execute(sql)
            return list(cursor) if cursor.description else []
    lite = sqlite3.connect(home.database)
    try:
        rows = list(lite.execute(sql))
        lite.commit()
        return rows
    finally:
        lite.close()


def reports_keys(home: Home) -> set[tuple[int, str]]:
    rows = query(
        home,
        "SELECT account_id, key FROM moments_moment "
        "WHERE rule_id = 'reports' AND retracted_at IS NULL",
    )
    return {(a, k) for a, k in rows}


@pytest.mark.slow
@pytest.mark.django_db
def test_a_killed_scan_leaves_nothing_half_written_and_the_next_completes(
    home: Home, tmp_path: Path
) -> None:
    # Given the demo company, scanned, and a changed reports rule (new thresholds)
    assert CHANGED != DEFAULT_YAML
    home.run("demo", "--accounts", "60", "--no-serve")
    before = reports_keys(home)
    programme = tmp_path / "p.yaml"
    programme.write_text(CHANGED)
    home.run("rules", "apply", str(programme))
    command = [str(Path(sys.executable).with_name("goodword")), "scan"]
    for delay in (0.2, 0.8, 1.4, 2.0, 3.0):
        # When a scan is killed `delay` seconds after it started
        process = subprocess.Popen(command, env=home.env, start_new_session=True)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # Then the reports moments are the old set or the new one, never a mix
        now = reports_keys(home)
        committed = bool(now) and all(key in {"50", "500", "5000"} for _, key in now)
        assert now == before or committed, (delay, len(now), len(before))
        if committed:
            break  # that scan got to commit; a later kill would only kill a no-op
        # and the killed scan's row is still running: let its lease run out
        query(home, "UPDATE moments_scan SET lease_until = '2000-01-01' WHERE status = 'running'")
    # When the next scan runs
    home.run("scan")
    # Then it has done the work: a full recompute finds nothing to change
    home.run("scan", "--full")
    last = query(home, "SELECT status, moments FROM moments_scan ORDER BY id DESC LIMIT 1")[0]
    assert last[0] == "done"
    totals = eval_moments(last[1])
    assert all(t == {"found": 0, "moved": 0, "retracted": 0} for t in totals.values()), totals
    assert {k for k in reports_keys(home) if k[1] in {"50", "500", "5000"}}
    statuses = {row[0] for row in query(home, "SELECT status FROM moments_scan")}
    assert "running" not in statuses


@pytest.mark.slow
@pytest.mark.django_db
def test_two_scans_started_at_once_from_two_processes_write_each_moment_once(
    home: Home, tmp_path: Path
) -> None:
    # Given the demo company, scanned
    home.run("demo", "--accounts", "60", "--no-serve")
    command = [str(Path(sys.executable).with_name("goodword")), "scan"]
    refused = 0
    for round_, thresholds in enumerate(("[50, 500, 5000]", "[60, 600, 6000]", "[70, 700]")):
        # and a changed reports rule, so a scan has moments to add and retract
        programme = tmp_path / f"p{round_}.yaml"
        programme.write_text(
            DEFAULT_YAML.replace("thresholds: [100, 1000, 10000]", f"thresholds: {thresholds}")
        )
        home.run("rules", "apply", str(programme))
        # When two `goodword scan` processes start at the same moment
        started = [
            subprocess.Popen(
                command,
                env=home.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        ended = [(process, *process.communicate(timeout=300)) for process in started]
        # Then each either did the scan or was refused because the other was running
        for process, _, err in ended:
            assert process.returncode == 0 or "another scan is running" in err, err
        assert any(process.returncode == 0 for process, _, _ in ended)
        refused += sum(process.returncode != 0 for process, _, _ in ended)
        # and the new thresholds' moments are there, each once, with the old ones retracted
        keys = {key for _, key in reports_keys(home)}
        assert keys
        assert keys <= set(thresholds.strip("[]").split(", ")), keys
        twice = query(
            home,
            "SELECT account_id, rule_id, key FROM moments_moment "
            "GROUP BY account_id, rule_id, key HAVING count(*) > 1",
        )
        assert twice == []
        # and no account has two open asks, and no scan is left running
        asks = query(
            home,
            "SELECT account_id FROM crm_task WHERE kind = 'referral_ask' AND status = 'open' "
            "GROUP BY account_id HAVING count(*) > 1",
        )
        assert asks == []
        assert query(home, "SELECT id FROM moments_scan WHERE status = 'running'") == []
    # The two overlapped at least once (each scan takes longer than starting a process).
    assert refused >= 1


def eval_moments(raw: Any) -> dict[str, dict[str, int]]:
    import json

    return raw if isinstance(raw, dict) else json.loads(raw)


@pytest.mark.django_db
def test_the_worker_scans_when_one_is_due_and_none_runs() -> None:
    # Given no scan yet: the worker's turn runs one
    first = scan_scheduled()
    assert first is not None
    assert first.status == ScanStatus.DONE
    # When the last scan started 5 minutes ago, the next turn waits
    Scan.objects.update(started_at=timezone.now() - dt.timedelta(minutes=5))
    assert scan_scheduled() is None
    # And when it started 16 minutes ago but another scan is running, the turn skips quietly
    Scan.objects.update(started_at=timezone.now() - dt.timedelta(minutes=16))
    scan_start(full=False, trigger="elsewhere", now=timezone.now())
    assert scan_scheduled() is None
    assert Scan.objects.filter(status=ScanStatus.RUNNING).count() == 1


@pytest.mark.django_db
@override_settings(SCAN_EVERY_MINUTES=0)
def test_a_schedule_of_zero_turns_the_worker_scans_off() -> None:
    assert scan_scheduled() is None
    assert not Scan.objects.exists()
