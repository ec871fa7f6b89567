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

#: Rejection reasons of ``queries/ingest/parse_*.sql`` and their labels.
REASON_KEYS = {
    "missing customer id": "data_reason_missing_customer_id",
    "missing order date": "data_reason_missing_order_date",
    "order date is not a date": "data_reason_order_date_not_a_date",
    "order date is out of range": "data_reason_order_date_out_of_range",
    "missing amount": "data_reason_missing_amount",
    "amount is not a number": "data_reason_amount_not_a_number",
    "amount is too large": "data_reason_amount_too_large",
    "missing date": "data_reason_missing_date",
    "date is not a date": "data_reason_date_not_a_date",
    "date is out of range": "data_reason_date_out_of_range",
    "missing interaction type": "data_reason_missing_interaction_type",
    "repeated customer id (the first row is kept)": "data_reason_repeated_customer_id",
    "cancelled line (status)": "data_reason_cancelled",
    "missing quantity": "data_reason_missing_quantity",
    "quantity is not a number": "data_reason_quantity_not_a_number",
    "missing unit price": "data_reason_missing_unit_price",
    "unit price is not a number": "data_reason_unit_price_not_a_number",
    # the Servqual survey (queries/ingest/parse_surveys.sql)
    **{r: "sq_reason_" + r.replace(" ", "_").lower() for r in (
        "missing survey item", "missing expectation score", "expectation score is not a number",
        "expectation score is outside the scale", "missing perception score", "perception score is not a number",
        "perception score is outside the scale", "not a Servqual dimension", "item has no Servqual dimension")},
}


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
        params = localized_params(self.params, lang)
        if page and has_label(f"note_{self.key}_page", lang):
            return t(f"note_{self.key}_page", lang, **params)
        return t(f"note_{self.key}", lang, **params)


def _note(key: str, params: dict[str, Any]) -> Note:
    return Note(key, **params)


class Term(str):
    """A value put into a message that has words of its own: its ``str`` is
    the English text the command line shows (e.g. the field name ``amount``,
    which ``--map`` uses), and :meth:`text` is the label ``key`` in a language
    (e.g. 金额 on the Chinese page). ``key`` None keeps the text in every
    language; ``params`` (themselves Terms or plain values) fill the label."""

    key: str | None
    params: dict[str, Any]

    def __new__(cls, text: str, key: str | None = None, **params: Any) -> Term:
        obj = super().__new__(cls, text)
        obj.key = key
        obj.params = params
        return obj

    def __reduce__(self) -> tuple:
        return (_term, (str(self), self.key, self.params))

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.key is None or not has_label(self.key, lang):
            return str(self)
        return t(self.key, lang, **localized_params(self.params, lang))


class TermList(str):
    """Several :class:`Term` values as one: ``a, b`` in English, ``a、b`` in
    Chinese (the language's list separator, label ``msg_list_sep``)."""

    items: tuple[str, ...]
    sep: str

    def __new__(cls, items: Any, sep: str = ", ") -> TermList:
        items = tuple(items)
        obj = super().__new__(cls, sep.join(str(i) for i in items))
        obj.items = items
        obj.sep = sep
        return obj

    def __reduce__(self) -> tuple:
        return (TermList, (self.items, self.sep))

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        sep = t("msg_list_sep", lang) if has_label("msg_list_sep", lang) else ", "
        return sep.join(i.text(lang) if isinstance(i, (Term, TermList)) else str(i) for i in self.items)


def field_term(field_name: str) -> Term:
    """A field in a message: its name on the command line (``amount``, as
    ``--map`` writes it), its label on the page (金额)."""
    return Term(field_name, f"data_field_{field_name}")


def table_term(table: str) -> Term:
    """A table (transactions, customers, interactions) in a message."""
    return Term(table, f"datapage_table_{table}")


def _term(text: str, key: str | None, params: dict[str, Any]) -> Term:
    return Term(text, key, **params)


def localized_params(params: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Message values in ``lang``: each :class:`Term` / :class:`TermList` as its label."""
    return {k: v.text(lang) if isinstance(v, (Term, TermList)) else v for k, v in params.items()}


def note_text(note: str, lang: str = DEFAULT_LANGUAGE, *, page: bool = False) -> str:
    """A report note in ``lang`` (a plain string, e.g. from a stored report, as it is)."""
    return note.text(lang, page=page) if isinstance(note, Note) else str(note)
