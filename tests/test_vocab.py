"""One vocabulary and true headlines (issue 12 items 1 and 2, SPEC §2 "One
vocabulary").

The glossary: no name stands for two concepts in either language; RFM segment
names cannot be read as stages or as the churn warning; "at risk" names the
churn warning only; the README's glossary section is the generated one.

The headlines: each pure function in crmflow.headlines is checked on a small
hand-worked fixture, and on the demo data against numbers recomputed here in
plain pandas (stages by the independent oracle of tests/test_oracle.py, days
since the last order from the transactions), and the pages and the report
show exactly that text.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_oracle import oracle_counts, oracle_stages

from crmflow import headlines as hl
from crmflow.account_view import KeyAccountHeadline, compact, traffic_light_markdown
from crmflow.account_view import key_account_headline as split_accounts
from crmflow.analytics import segment_name
from crmflow.config import Params
from crmflow.glossary import CONCEPTS, SEGMENT_IDS, STAGE_IDS, name, readme_section
from crmflow.i18n import LANGUAGES, t
from crmflow.stages import data_range
from crmflow.store import Store
from crmflow.transitions import flow_summary

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("potential", "first", "repeat", "loyal", "lost")


# --------------------------------------------------------------------------- the glossary
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_no_name_stands_for_two_concepts(lang):
    seen: dict[str, str] = {}
    for c in CONCEPTS:
        n = c.name(lang).strip().casefold()
        assert n, (lang, c)
        assert n not in seen, f"{lang}: {c.name(lang)!r} names both {seen[n]} and {c.group}:{c.id}"
        seen[n] = f"{c.group}:{c.id}"
        assert c.definition(lang).strip(), (lang, c)


# words that would make a segment read as a stage, a churn warning or a key account
FORBIDDEN = {
    "en": ("potential", "first", "repeat", "loyal", "lost", "lose", "risk", "churn", "won back", "key account",
           "not yet a customer", "new customer"),
    "zh": ("潜在", "初次", "重复", "忠诚", "流失", "风险", "挽回", "大客户", "尚未"),
}


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_segment_names_cannot_be_read_as_stages_or_warnings(lang):
    stage_names = [name("stage", s, lang).casefold() for s in STAGE_IDS]
    for s in SEGMENT_IDS:
        n = name("segment", s, lang).casefold()
        assert not any(stage in n for stage in stage_names), (lang, s, n)
        assert not any(word in n for word in FORBIDDEN[lang]), (lang, s, n)
        assert segment_name(s, lang) == name("segment", s, lang)     # what the pages and `crmflow rfm` show


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_at_risk_is_the_churn_warning_only(lang):
    word = {"en": "at risk", "zh": "风险"}[lang]
    for c in CONCEPTS:
        if word in c.name(lang).casefold():
            assert c.group == "churn", (lang, c)
    # the health status that was "at risk" is now named apart from it
    assert t("health_status_at_risk", "en") == "Critical" and t("health_status_at_risk", "zh") == "危急"
    assert t("quadrant_potential", "en") != t("stage_potential", "en")
    assert "潜在" not in t("quadrant_potential", "zh")


def test_key_accounts_have_one_chinese_name():
    key_account = name("key_account", "key_account", "zh")
    assert key_account == "大客户"
    for key in ("page_key_accounts", "health_key_accounts", "rep_heading_accounts", "rep_accounts_shown"):
        assert "关键客户" not in t(key, "zh") and key_account in t(key, "zh"), key


def test_readme_glossary_section_is_the_generated_one():
    """The README's glossary section equals what the glossary generates
    (crmflow.glossary.readme_section): from its heading to the next heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    want = readme_section()
    heading = want.splitlines()[0]
    assert heading in text, "README.md has no glossary section; paste crmflow.glossary.readme_section()"
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    got = text[start:] if end < 0 else text[start:end + 1]
    assert got.rstrip("\n") == want.rstrip("\n")


def test_readme_section_lists_every_concept_in_both_languages():
    section = readme_section()
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(CONCEPTS)
    assert "| Loyal | 忠诚客户 |" in section and "| Steady buyers | 稳定买家 |" in section
    assert "| Critical | 危急 |" in section


# --------------------------------------------------------------------------- number formats
def test_one_money_and_count_format():
    assert hl.money(3_220_000, "en") == "3.2M" and hl.money(370_400, "en") == "370k"
    assert hl.money(33_375.08, "en") == "33.4k" and hl.money(950, "en") == "950"
    assert hl.money(3_220_000, "zh") == "322万" and hl.money(123_456_789, "zh") == "1.2亿"
    assert hl.count(1484) == "1,484"
    assert hl.money(3_220_000, "en") == compact(3_220_000, "en")      # the cards' formatter


# --------------------------------------------------------------------------- headlines, by hand
def test_overview_headline_by_hand():
    counts = {"potential": 10, "first": 50, "repeat": 300, "loyal": 946, "lost": 916}
    before = {"potential": 12, "first": 70, "repeat": 310, "loyal": 950, "lost": 811}
    h = hl.overview_headline(counts, before, date(2025, 6, 30), date(2025, 4, 1))
    assert h.text("en") == ("Loyal is the largest group (946 of 2,222 customers on 2025-06-30), then Lost (916); "
                            "Lost +105 since 2025-04-01")
    assert h.text("zh") == ("截至 2025-06-30，2,222 位客户中忠诚客户最多（946 位），其次是流失客户（916 位）；"
                            "流失客户自 2025-04-01 起 +105 位")
    # Lost overtakes: the title follows the numbers
    counts["lost"] = 947
    h = hl.overview_headline(counts, before, date(2025, 6, 30), date(2025, 4, 1))
    assert h.text("en").startswith("Lost is the largest group (947 of 2,253 customers on 2025-06-30), then Loyal (946)")
    # a tie goes to the stage earlier in the flow
    tie = dict.fromkeys(STAGES, 4)
    assert hl.overview_headline(tie, tie, date(2025, 1, 1), date(2024, 1, 1)).text("en").startswith(
        "Potential is the largest group (4 of 20 customers on 2025-01-01), then First purchase (4)")
    assert hl.overview_headline(dict.fromkeys(STAGES, 0), tie, date(2025, 1, 1), date(2024, 1, 1)) is None


def test_churn_headline_by_hand():
    everyone = pd.DataFrame({"probability_leave": [0.5, 0.25, 0.9, 0.1],
                             "value_at_risk": [100.0, 2_000.0, 1_000_000.0, 0.0]})
    listed = everyone.iloc[[2]]
    h = hl.churn_headline(everyone, listed, 180)
    # 0.5 + 0.25 + 0.9 + 0.1 = 1.75 -> 2 leavers; 1,002,100 -> 1.0M; the listed one 1,000,000 -> 1.0M
    assert h.text("en") == ("The model expects 2 of 4 customers not lost to place no order in the next 180 days, "
                            "1.0M of value at risk; 1 at risk on the call list hold 1.0M of it")
    assert h.text("zh") == ("模型预计 4 位未流失客户中约 2 位会在未来 180 天内不再下单，风险价值 100万；"
                            "回访名单上 1 位有流失风险的客户占其中 100万")
    assert hl.churn_headline(everyone.iloc[:0], listed.iloc[:0], 180) is None


def test_key_accounts_split_lost_from_critical_by_hand():
    health = pd.DataFrame({
        "customer_id": list("ABCDEF"),
        "status": ["at_risk", "at_risk", "watch", "healthy", None, "at_risk"],
        "days_since_last_order": [200, 30, 400, 10, None, 181],
        "revenue_12m": [0.0, 300.0, 0.0, 700.0, 0.0, 0.0],
        "selected_by": ["flag"] * 6,
    })
    head = split_accounts(health, 180)
    # A (200 days), C (400) and F (181) are lost whatever their score; B is critical and still ordering
    assert (head.lost, head.at_risk, head.watch, head.healthy, head.unscored) == (3, 1, 0, 1, 1)
    assert head.revenue_share == pytest.approx(0.3)
    assert head.lost + head.at_risk + head.watch + head.healthy + head.unscored == head.accounts == 6
    assert hl.key_account_headline(head, 180).text("en") == (
        "1 of 6 key accounts are still ordering but in critical health, with 30% of key-account revenue; "
        "3 more are lost (no order for over 180 days)")
    # with a longer lost rule, A and F are critical again
    head = split_accounts(health, 365)
    assert (head.lost, head.at_risk) == (1, 3)
    none = KeyAccountHeadline(5, 0, 2, 3, 0, 0.0, "flag", 0)
    assert hl.key_account_headline(none, 180).text("zh") == (
        "仍在下单的大客户中没有健康度危急的；5 个中 2 个需关注，0 个已流失（超过 180 天无订单）")


def test_flow_headlines_by_hand():
    frame = pd.DataFrame([("none", "first", 5), ("lost", "repeat", 2), ("loyal", "lost", 3), ("lost", "lost", 9)],
                         columns=["from_stage", "to_stage", "customers"])
    s = flow_summary(frame)
    text = hl.flow_headline(s, date(2024, 6, 30), date(2025, 6, 30)).text("en")
    assert text == ("2024-06-30 → 2025-06-30: 5 new customers, 3 active customers lost, "
                    "2 lost customers active again")
    monthly = pd.DataFrame({"month": pd.to_datetime(["2024-07-01", "2024-08-01", "2025-06-01"]),
                            "won_back": [3, 0, 4], "lost": [1, 2, 3]})
    assert hl.won_back_lost_headline(monthly).text("en") == (
        "Won back 7, became lost 6: events counted by month, 2024-07 to 2025-06")
    assert hl.won_back_lost_headline(monthly.iloc[:0]) is None


# --------------------------------------------------------------------------- headlines on the demo data
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo data as plain frames, and a database holding it."""
    from crmflow.demo import generate

    data = generate()
    db = tmp_path_factory.mktemp("vocab") / "crmflow.duckdb"
    with Store(db) as store:
        store.ensure_demo()
        ds = store.get("demo").dataset_id
        last = data_range(store.db, ds)[1]
    return db, data, last


def oracle(data, as_of: date) -> dict[str, int]:
    tx = data.transactions.copy()
    tx["customer_id"] = tx["customer_id"].astype(str)
    tx["order_date"] = pd.to_datetime(tx["order_date"]).dt.date
    customers = data.customers[["customer_id", "created_at"]].copy()
    customers["customer_id"] = customers["customer_id"].astype(str)
    stages = oracle_stages(tx, customers, as_of, 180, 4, 365)
    return oracle_counts(stages)


@pytest.fixture
def app(demo, app_factory):
    return app_factory(demo[0], defaults={"dataset": "demo"}, errors_ok=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_headline_on_the_demo_data(app, demo, lang):
    _, data, last = demo
    since = last - timedelta(days=90)                  # the page's default comparison
    now, before = oracle(data, last), oracle(data, since)
    first, second = sorted(STAGES, key=lambda s: (-now[s], STAGES.index(s)))[:2]
    want = t("hl_overview", lang, first=t(f"stage_{first}", lang), second=t(f"stage_{second}", lang),
             first_count=now[first], second_count=now[second], total=sum(now.values()), as_of=last.isoformat(),
             since=since.isoformat(), lost=t("stage_lost", lang), lost_change=now["lost"] - before["lost"])
    at = app("overview", lang=lang)
    assert at.subheader[0].value == want
    # the stage cards beneath it show the same counts
    shown = {m.label: m.value for m in at.metric}
    for s in STAGES:
        assert shown[t(f"stage_{s}", lang)] == f"{now[s]:,}"
    # the Lost card's help names its rule, with no raw placeholder
    help_text = next(m.proto.help for m in at.metric if m.label == t("stage_lost", lang))
    assert "{" not in help_text and "180" in help_text


def last_order_days(data, as_of: date) -> pd.Series:
    tx = data.transactions
    tx = tx[(tx["amount"] > 0) & (pd.to_datetime(tx["order_date"]) <= pd.Timestamp(as_of))]
    last = pd.to_datetime(tx["order_date"]).groupby(tx["customer_id"].astype(str)).max()
    return (pd.Timestamp(as_of) - last).dt.days


def test_key_account_headline_on_the_demo_data(app, demo):
    db, data, last = demo
    from crmflow.health import account_health

    with Store(db) as store:
        health = account_health(store.db, store.get("demo").dataset_id, last, Params())
    days = last_order_days(data, last)
    ids = health["customer_id"].astype(str)
    lost = (ids.map(days) > 180).to_numpy()                     # recomputed from the transactions
    critical = (health["status"] == "at_risk").to_numpy() & ~lost
    watch = (health["status"] == "watch").to_numpy() & ~lost
    assert lost.sum() > 0                                         # the demo has lost key accounts
    revenue = health["revenue_12m"].astype(float).fillna(0.0)
    values = dict(accounts=len(health), critical=int(critical.sum()), lost=int(lost.sum()), watch=int(watch.sum()),
                  days=180, share=revenue[critical].clip(lower=0).sum() / revenue.clip(lower=0).sum())
    want = t("hl_accounts" if critical.any() else "hl_accounts_none", "en", **values)
    at = app("key_accounts")
    assert at.subheader[0].value == want
    shown = {m.label: m.value for m in at.metric}
    assert shown[t("vo_ka_lost", "en", days=180)] == f"{int(lost.sum())}"
    assert shown[traffic_light_markdown("at_risk", "en")] == f"{int(critical.sum())}"


def test_churn_headline_on_the_demo_data(app, demo):
    db, _, last = demo
    from crmflow.churn import churn_warnings

    with Store(db) as store:
        everyone = churn_warnings(store.db, store.get("demo").dataset_id, last, Params(), include_all=True)
    listed = everyone[everyone["on_call_list"]]
    leavers = everyone["probability_leave"].sum()
    # issue 13: the call list is sized by value, so it carries at least 80% of the value at risk
    assert listed["value_at_risk"].sum() >= 0.8 * everyone["value_at_risk"].sum()
    want = t("hl_churn", "en", leavers=leavers, scored=len(everyone), value=compact(everyone["value_at_risk"].sum()),
             days=180, listed=len(listed), listed_value=compact(listed["value_at_risk"].sum()))
    at = app("churn")
    assert at.subheader[0].value == want


def test_report_titles_are_the_page_headlines(demo):
    db, data, last = demo
    from crmflow import report

    with Store(db) as store:
        slides = {s.key: s for s in report.build_slides(store.db, store.get("demo").dataset_id, last, Params(), "en")}
    since = last - timedelta(days=report.KPI_COMPARE_DAYS)
    now, before = oracle(data, last), oracle(data, since)
    first = sorted(STAGES, key=lambda s: (-now[s], STAGES.index(s)))[0]
    assert slides["kpis"].title.startswith(f"{t(f'stage_{first}', 'en')} is the largest group ({now[first]:,} of")
    assert slides["kpis"].title.endswith(f"Lost {now['lost'] - before['lost']:+,} since {since.isoformat()}")
    assert slides["churn"].title.startswith("The model expects")
    assert "lost (no order for over 180 days)" in slides["accounts"].title


def test_tables_format_money_as_the_headlines_do():
    """Money columns of the pages' tables use the one compact format, never a
    mix of "370k" above and "33,375.08" beneath."""
    assert hl.TABLE_MONEY == "compact"
    for page in ("churn", "key_accounts", "segments", "my_accounts"):
        source = (ROOT / "pages" / f"{page}.py").read_text(encoding="utf-8")
        assert 'format="localized"' not in source and "format=TABLE_MONEY" in source, page
