"""The product's one vocabulary (SPEC §2 "One vocabulary"): every concept the
pages, the report, the command line's human-readable labels and the README
name, with its one name and one-line definition in each language.

The names are the translation labels the interface already shows (``stage_*``,
``segment_*``, ``health_status_*``, ``quadrant_*``, ``phase_*``, …), so a page
that labels a stage and the glossary cannot disagree; the definitions and the
names of concepts without another label are in ``crmflow/locales/glossary.json``.
tests/test_vocab.py checks that no name stands for two concepts in either
language, that RFM segment names cannot be read as stages or as the churn
warning, and that the README's glossary section is :func:`readme_section`.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmflow.config import STAGES, Params
from crmflow.i18n import LANGUAGES, t


@dataclass(frozen=True)
class Concept:
    group: str      # stage, event, measure, churn, key_account, health, quadrant, phase, ntd, segment, loyalty
    id: str
    name_key: str   # the translation key of its name
    def_key: str    # the translation key of its one-line definition

    def name(self, lang: str) -> str:
        return t(self.name_key, lang)

    def definition(self, lang: str, params: Params | None = None) -> str:
        """The one-line definition, with the definition parameters in force
        (``params``; the defaults when None): e.g. lost after 180 days."""
        p = params or Params()
        return t(self.def_key, lang, days=p.lost_after_days, orders=p.loyal_orders, window=p.loyal_window_days)


def _c(group: str, cid: str, name_key: str, def_key: str | None = None) -> Concept:
    return Concept(group, cid, name_key, def_key or f"gl_def_{group}_{cid}")


STAGE_IDS = ("none", "potential", "first", "repeat", "loyal", "lost")
#: The loyalty measures (crmflow/loyalty.py; names in crmflow/locales/loyalty.json).
LOYALTY_IDS = ("repeat_rate", "breadth", "interval_cv", "reorder_share", "price_sensitivity")
SEGMENT_IDS = ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention", "about_to_sleep",
               "at_risk", "cant_lose", "hibernating", "lost")

CONCEPTS: tuple[Concept, ...] = (
    *(_c("stage", s, f"stage_{s}") for s in STAGE_IDS),
    _c("event", "won_back", "gl_won_back", "gl_def_won_back"),
    _c("event", "became_lost", "gl_became_lost", "gl_def_became_lost"),
    _c("measure", "repeat_rate", "ov_repeat_rate", "gl_def_repeat_rate"),
    _c("measure", "revenue", "gl_revenue", "gl_def_revenue"),
    _c("churn", "churn_warning", "gl_churn_warning", "gl_def_churn_warning"),
    _c("churn", "at_risk", "gl_at_risk", "gl_def_at_risk"),
    _c("churn", "value_at_risk", "cp_metric_value", "gl_def_value_at_risk"),
    _c("churn", "probability_leave", "cp_col_probability_leave", "gl_def_probability_leave"),
    _c("model", "p_alive", "ka_col_p_alive", "gl_def_p_alive"),
    _c("key_account", "key_account", "gl_key_account", "gl_def_key_account"),
    *(_c("health", s, f"health_status_{s}") for s in ("healthy", "watch", "at_risk")),
    *(_c("quadrant", q, f"quadrant_{q}") for q in ("core", "direct", "potential", "poor")),
    *(_c("phase", p, f"phase_{p}") for p in ("cultivation", "growth", "return", "retention", "termination")),
    *(_c("ntd", x, f"gl_ntd_{x}") for x in ("n", "t", "d")),
    *(_c("segment", s, f"segment_{s}") for s in SEGMENT_IDS),
    *(_c("loyalty", m, f"loy_{m}") for m in LOYALTY_IDS),
)


def concept(group: str, cid: str) -> Concept:
    for c in CONCEPTS:
        if c.group == group and c.id == cid:
            return c
    raise KeyError((group, cid))


def name(group: str, cid: str, lang: str) -> str:
    """The one name of a concept in ``lang``."""
    return concept(group, cid).name(lang)


def stage_definitions(lang: str, params: Params | None = None) -> list[str]:
    """"Name: definition" of each stage (potential to lost), with the
    definition parameters in force: the meeting report's title page."""
    return [t("polish3_term", lang, name=c.name(lang), definition=c.definition(lang, params))
            for c in (concept("stage", s) for s in STAGES)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_section() -> str:
    """The README's glossary section (Markdown), generated from the glossary:
    one table row per concept with its English and Chinese names and both
    definitions."""
    langs = list(LANGUAGES)
    lines = [f"## {t('gl_heading', 'en')} · {t('gl_heading', 'zh')}", "",
             "Generated from `crmflow/glossary.py` (names and definitions in `crmflow/locales/`); "
             "tests/test_vocab.py checks this section equals it.", "",
             "| " + " | ".join([t("gl_col_name_en", "en"), t("gl_col_name_zh", "zh"),
                               t("gl_col_def", "en"), t("gl_col_def", "zh")]) + " |",
             "|---|---|---|---|"]
    for c in CONCEPTS:
        lines.append("| " + " | ".join(_cell(x) for x in (c.name(langs[0]), c.name(langs[1]),
                                                           c.definition(langs[0]), c.definition(langs[1]))) + " |")
    return "\n".join(lines) + "\n"
