"""Messages a user reads, in their language: notes of the validation report.

A :class:`Note` is a ``str`` (its English text, what the command line prints
and the stored report keeps) that also carries its translation key and
values, so the dashboard shows it in the page's language. Its text comes from
the translation tables (``note_<key>``); a note that tells the user what to
do has two endings: ``note_<key>`` names the command-line option, and
``note_<key>_page`` (when it exists) says what to do on the Data page.
Errors work the same way (:class:`crmflow.errors.CrmflowError` with ``key``).
"""

from __future__ import annotations

from typing import Any

from crmflow.i18n import DEFAULT_LANGUAGE, TRANSLATIONS, t


def has_label(key: str, lang: str = DEFAULT_LANGUAGE) -> bool:
    return key in TRANSLATIONS.get(lang, {})


class Note(str):
    """One note of the validation report (see the module docstring)."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, **params: Any) -> Note:
        obj = super().__new__(cls, t(f"note_{key}", DEFAULT_LANGUAGE, **params))
        obj.key = key
        obj.params = params
        return obj

    def __reduce__(self) -> tuple:
        return (_note, (self.key, self.params))

    def text(self, lang: str = DEFAULT_LANGUAGE, *, page: bool = False) -> str:
        """The note in ``lang``; with ``page`` the Data page's version (no command-line options)."""
        if page and has_label(f"note_{self.key}_page", lang):
            return t(f"note_{self.key}_page", lang, **self.params)
        return t(f"note_{self.key}", lang, **self.params)


def _note(key: str, params: dict[str, Any]) -> Note:
    return Note(key, **params)


def note_text(note: str, lang: str = DEFAULT_LANGUAGE, *, page: bool = False) -> str:
    """A report note in ``lang`` (a plain string, e.g. from a stored report, as it is)."""
    return note.text(lang, page=page) if isinstance(note, Note) else str(note)
