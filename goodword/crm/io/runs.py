"""Imports requested through the API: the upload is kept under GOODWORD_HOME/uploads, and the
worker imports it (a big events file takes longer than an HTTP request should), keeping the
report on the ImportRun row for the caller to read."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from goodword.crm.io.presets import KINDS
from goodword.crm.io.report import ImportFileError, ImportRefused, ImportReport
from goodword.crm.models import ImportRun, ImportStatus
from goodword.jobs.services import handler, job_enqueue
from goodword.lib.errors import Forbidden, Invalid
from goodword.signals.store import StoreError
from goodword.users.models import User

log = logging.getLogger(__name__)

API_KINDS = (*KINDS, "events")
EVENT_SUFFIXES = (".parquet", ".csv", ".jsonl", ".csv.gz", ".jsonl.gz")
COPY_CHUNK = 1 << 20


def uploads_dir() -> Path:
    path = Path(settings.GOODWORD_HOME) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _suffix(kind: str, filename: str) -> str:
    name = filename.lower()
    if kind != "events":
        return ".csv"
    for suffix in EVENT_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise Invalid({"file": [f"{filename!r}: events files end in {', '.join(EVENT_SUFFIXES)}"]})


def importrun_create(
    *, actor: User, kind: str, filename: str, stream: IO[bytes], dry_run: bool = False
) -> ImportRun:
    """Keep the upload and queue its import. Raises Forbidden unless the actor is an admin,
    Invalid for an unknown kind or (events) an unknown file type."""
    if not actor.is_admin_role:
        raise Forbidden("only admins may import")
    if kind not in API_KINDS:
        raise Invalid({"kind": [f"{kind!r} is not one of {', '.join(API_KINDS)}"]})
    path = uploads_dir() / f"{uuid.uuid4().hex}{_suffix(kind, filename)}"
    with path.open("wb") as out:
        while chunk := stream.read(COPY_CHUNK):
            out.write(chunk)
    with transaction.atomic():
        run = ImportRun.objects.create(
            kind=kind,
            filename=filename[:255],
            path=str(path),
            dry_run=dry_run,
            requested_by=actor,
            created_at=timezone.now(),
        )
        job_enqueue(kind="import.run", payload={"run": run.pk}, key=f"import-run-{run.pk}")
    return run


def report_json(report: ImportReport, filename: str) -> dict[str, Any]:
    """The report as JSON, naming the file as it was uploaded (not where it waited)."""
    data = dataclasses.asdict(report)
    data["path"] = filename
    data["ok"] = report.ok
    data["summary"] = report.summary()
    data["errors"] = [filename + e.removeprefix(report.path) for e in report.errors]
    return data


@handler("import.run")
def importrun_execute(payload: dict[str, Any]) -> None:
    """Run a queued import once. A run that already ended is left alone, so a retried job
    does nothing; an import is all or nothing, so one cut off midway wrote nothing."""
    updated = ImportRun.objects.filter(
        pk=payload["run"], status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(status=ImportStatus.RUNNING)
    if not updated:
        return
    run = ImportRun.objects.get(pk=payload["run"])
    status, report = _run(run)
    ImportRun.objects.filter(pk=run.pk).update(
        status=status, report=report, finished_at=timezone.now()
    )
    Path(run.path).unlink(missing_ok=True)


def _run(run: ImportRun) -> tuple[str, dict[str, Any]]:
    try:
        return ImportStatus.DONE, report_json(_import(run), run.filename)
    except ImportRefused as exc:
        return ImportStatus.REFUSED, report_json(exc.report, run.filename)
    except ImportFileError as exc:
        return ImportStatus.FAILED, {"message": str(exc).replace(run.path, run.filename)}
    except StoreError as exc:  # the event store is busy past its deadline, or read-only
        return ImportStatus.FAILED, {"message": str(exc)}
    except Exception:
        # The run ends either way: a caller polling it must not see "running" for ever.
        log.exception("import run %s failed", run.pk)
        return ImportStatus.FAILED, {"message": "the import failed on our side (see the logs)"}


def _import(run: ImportRun) -> ImportReport:
    if run.kind == "events":
        from goodword.signals.eventsimport import import_events

        report: ImportReport = import_events(run.path, dry_run=run.dry_run)
        return report
    from goodword.crm.io.importing import import_file

    return import_file(run.kind, run.path, dry_run=run.dry_run)
