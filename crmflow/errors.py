"""The project's own errors: one clear sentence for the user, never a stack.

Every failure a user can cause (a bad file, a missing column, a locked
database) is raised as a :class:`CrmflowError` whose ``message`` says what is
wrong and whose ``hint`` says how to fix it. The command line prints
``message`` + ``hint`` on one line and exits with status 2; the dashboard shows
the same text in an error box.
"""

from __future__ import annotations


class CrmflowError(Exception):
    """A problem the user can fix; ``str()`` is the one line shown to them."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message.rstrip(".")
        self.hint = hint.rstrip(".")
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.message}. {self.hint}." if self.hint else f"{self.message}."


class InputFileError(CrmflowError):
    """The input file cannot be read or used."""


class MappingError(CrmflowError):
    """A required column could not be found or a --map override is wrong."""


class DatasetError(CrmflowError):
    """A stored dataset is missing, or its name is taken or invalid."""


class DatabaseBusyError(CrmflowError):
    """The database file is held by another process (e.g. the open dashboard)."""


class QueryError(CrmflowError):
    """A named query failed inside the database engine."""
