"""Errors that services and selectors raise; the interfaces map them to 404, 403 and 400."""

from __future__ import annotations


class NotFound(Exception):
    """The object does not exist, or the user may not see it (the two are never told apart)."""


class Forbidden(Exception):
    """The user may see the object but not change it."""


class Invalid(Exception):
    """Input was refused. `errors` maps each field to its reasons; nothing was written."""

    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = errors
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = []
        for field, reasons in self.errors.items():
            label = "" if field == "__all__" else f"{field}: "
            parts.append(label + "; ".join(reasons))
        return ", ".join(parts)
