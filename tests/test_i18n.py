"""Both languages are complete, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from crmflow.i18n import LANGUAGES, TRANSLATIONS

ROOT = Path(__file__).resolve().parent.parent


def test_every_language_has_every_key():
    keys = {lang: set(table) for lang, table in TRANSLATIONS.items()}
    assert set(keys) == set(LANGUAGES)
    all_keys = set().union(*keys.values())
    for lang, k in keys.items():
        assert not all_keys - k, f"{lang} misses {sorted(all_keys - k)}"


def test_placeholders_agree_between_languages():
    en, zh = TRANSLATIONS["en"], TRANSLATIONS["zh"]
    for key in en:
        names = lambda s: {m.split(":")[0] for m in re.findall(r"\{([^}]*)\}", s)}  # noqa: E731
        assert names(en[key]) == names(zh[key]), key


def test_every_key_used_in_the_interface_exists():
    used = set()
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "crmflow" / "ui").glob("*.py")]:
        used |= set(re.findall(r"""tr\(\s*["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    assert used, "no translation keys found in the pages"
    missing = used - set(TRANSLATIONS["en"])
    assert not missing, missing


def test_formatter_words_as_t_does():
    """formatter(key, lang)(values) is t(key, lang, **values): the same text in
    both languages, English for an unknown language, the label as it stands
    without values, and KeyError for an unknown key."""
    import pytest

    from crmflow.i18n import formatter, t

    values = {"days": 95, "gap": 30.0, "ratio": 3.1667}
    for lang in ("en", "zh", "fr"):
        assert formatter("churn_reason_overdue", lang)(values) == t("churn_reason_overdue", lang, **values)
    assert formatter("churn_reason_overdue", "fr")(values) == "No order for 95 days, 3.2× their usual 30-day gap"
    assert formatter("pareto_headline_revenue")({}) == t("pareto_headline_revenue") == TRANSLATIONS["en"][
        "pareto_headline_revenue"]
    with pytest.raises(KeyError):
        formatter("no_such_label", "en")
    with pytest.raises(KeyError):
        t("no_such_label", "en")
