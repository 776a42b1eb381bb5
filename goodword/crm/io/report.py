"""What an import did, or would do, and why rows were refused."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_MESSAGES = 1000


@dataclass
class ImportReport:
    kind: str
    path: str
    preset: str = "native"
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, line: int, column: str, reason: str) -> None:
        """Record one refused cell as FILE:ROW: column: reason (only the first 1,000 kept)."""
        self.error_count += 1
        if len(self.errors) < MAX_MESSAGES:
            self.errors.append(f"{self.path}:{line}: {column}: {reason}")

    @property
    def errors_not_shown(self) -> int:
        return self.error_count - len(self.errors)

    def summary(self) -> str:
        counts = (
            f"{self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.refused} refused"
        )
        if self.dry_run:
            return f"{self.kind} (dry run, nothing written): {counts}"
        if not self.ok:
            return f"{self.kind}: nothing written; {counts}"
        return f"{self.kind}: {counts}"


class ImportRefused(Exception):
    """The file had bad rows; nothing was written. `report.errors` says where and why."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(f"{report.path}: {report.error_count} error(s); nothing was written")


class ImportFileError(Exception):
    """The file cannot be read at all (missing, not UTF-8 text, no header)."""
