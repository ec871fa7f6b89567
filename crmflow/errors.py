"""The project's own errors: one clear sentence for the user, never a stack.

Every failure a user can cause (a bad file, a missing column, a locked
database) is raised as a :class:`CrmflowError` whose ``message`` says what is
wrong and whose ``hint`` says how to fix it. The command line prints
``message`` + ``hint`` on one line and exits with status 2; the dashboard shows
the same text in an error box.
"""

from __future__ import annotations


class CrmflowError(Exception):
    """A problem the user can fix; ``str()`` is the one line shown to them.

    Raised either with English ``message`` and ``hint``, or with a translation
    ``key`` and its values: then the message is ``err_<key>``, the command
    line's hint ``err_<key>_cli`` and the dashboard's hint ``err_<key>_page``
    (what to do on the page, never a command-line option), each in every
    language (:meth:`localized`)."""

    def __init__(self, message: str = "", hint: str = "", *, key: str | None = None, **params: object) -> None:
        self.key = key
        self.params = params
        if key is not None:
            from crmflow.i18n import t

            message = message or t(f"err_{key}", "en", **params)
            hint = hint or t(f"err_{key}_cli", "en", **params)
        self.message = message.rstrip(".")
        self.hint = hint.rstrip(".")
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.message}. {self.hint}." if self.hint else f"{self.message}."

    def localized(self, lang: str = "en") -> str:
        """The one line for a dashboard user in ``lang``: what is wrong and what
        to do on the page. An error raised without a key is shown as it is."""
        if self.key is None:
            return self.line()
        from crmflow.i18n import t
        from crmflow.messages import has_label, localized_params

        params = localized_params(self.params, lang)
        message = t(f"err_{self.key}", lang, **params).rstrip(".。")
        hint_key = f"err_{self.key}_page" if has_label(f"err_{self.key}_page", lang) else f"err_{self.key}_cli"
        hint = t(hint_key, lang, **params).rstrip(".。") if has_label(hint_key, lang) else ""
        stop = "。" if lang == "zh" else ". "
        end = "。" if lang == "zh" else "."
        return f"{message}{stop}{hint}{end}" if hint else f"{message}{end}"


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
