"""The Churn warnings, Key accounts and per-account pages, driven by
Streamlit's AppTest.

One database for the module holds four datasets: the demo data; the demo
transactions reduced to the three required columns (``plain``: no owners, no
interactions, no due dates, no key-account flags, so the key accounts are the
top-revenue selection and the optional views say what to upload); a single
customer whose return exceeds their only order (``tiny``: nobody at risk, no
key account); and a file of returns only (``returns``: no order at all). The
numbers the pages show are compared with the command line (``churn``,
``churn --all``, ``churn --lang zh``, ``health``) and with the package,
computed before the app opens the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crmflow.account_view import compact, health_table, md, traffic_light, traffic_light_markdown
from crmflow.churn import AT_RISK_SCORE
from crmflow.config import Params
from crmflow.health import (
    account_health,
    load_weights,
    value_matrix,
    value_matrix_summary,
)
from crmflow.i18n import t
from crmflow.stages import customer_stages, data_range
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
TINY = "customer_id,order_date,amount\nX1,2024-02-20,-150\nX1,2024-03-01,100\n"
RETURNS = "customer_id,order_date,amount\nR1,2024-03-01,-10\nR2,2024-03-02,-20\n"


def cli(db: Path, *args: str) -> list | dict:
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The database file and every number the pages must show."""
    from crmflow.demo import generate

    folder = tmp_path_factory.mktemp("churn_accounts")
    db = folder / "crmflow.duckdb"
    plain = folder / "plain.csv"
    generate().transactions[["customer_id", "order_date", "amount"]].to_csv(plain, index=False)
    (folder / "tiny.csv").write_text(TINY, encoding="utf-8")
    (folder / "returns.csv").write_text(RETURNS, encoding="utf-8")
    expected: dict = {"demo": {}, "plain": {}}
    no_recency = dict(load_weights(), recency=0.0)
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", plain)
        store.ingest("tiny", folder / "tiny.csv")
        store.ingest("returns", folder / "returns.csv")
        ds = store.get("demo").dataset_id
        last = data_range(store.db, ds)[1]
        expected["demo"]["no_recency"] = account_health(store.db, ds, last, Params(), no_recency)
        matrix = value_matrix(store.db, ds, last, scope="key_accounts")
        expected["demo"]["matrix_key_accounts"] = value_matrix_summary(matrix)
        expected["demo"]["matrix_customers"] = len(value_matrix(store.db, ds, last))
        expected["demo"]["health_frame"] = account_health(store.db, ds, last)
        stages = customer_stages(store.db, ds, last)
        expected["demo"]["lost"] = str(stages.loc[stages["stage"] == "lost", "customer_id"].iloc[0])
        expected["demo"]["lead"] = str(stages.loc[stages["stage"] == "potential", "customer_id"].iloc[0])
        expected["demo"]["last"] = last
    for name in ("demo", "plain"):
        expected[name]["churn"] = cli(db, "churn", "--dataset", name)
        expected[name]["health"] = cli(db, "health", "--dataset", name)
    expected["demo"]["churn_all"] = cli(db, "churn", "--dataset", "demo", "--all")
    expected["demo"]["churn_zh"] = cli(db, "churn", "--dataset", "demo", "--lang", "zh")
    return db, expected


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0])


# --------------------------------------------------------------------------- helpers
def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def churn_table(at: AppTest, lang: str):
    table = at.dataframe[0].value
    return table.rename(columns={t(f"cp_col_{c}", lang): c for c in
                                 ("customer_id", "risk_score", "value_at_risk", "reasons", "owner", "stage")})


def churn_finding(lang: str, everyone: list[dict]) -> str:
    """The churn page's headline recomputed from the command line's rows of
    every customer who is not lost (``churn --all``; issue 13: the call list
    is the rows marked on_call_list, no longer risk score >= 50)."""
    listed = [r for r in everyone if r["on_call_list"]]
    return t("hl_churn", lang, leavers=sum(r["probability_leave"] for r in everyone), scored=len(everyone),
             value=compact(sum(r["value_at_risk"] for r in everyone), lang), days=180, listed=len(listed),
             listed_value=compact(sum(r["value_at_risk"] for r in listed), lang))


def assert_churn_list(at: AppTest, lang: str, rows: list[dict], *, everyone: list[dict]) -> None:
    table = churn_table(at, lang)
    assert list(table["customer_id"]) == [r["customer_id"] for r in rows]
    assert list(table["risk_score"]) == pytest.approx([r["risk_score"] for r in rows], abs=1e-4)
    assert list(table["value_at_risk"]) == pytest.approx([r["value_at_risk"] for r in rows], abs=0.006)
    assert list(table["stage"]) == [t(f"stage_{r['stage']}", lang) for r in rows]
    total = sum(r["value_at_risk"] for r in rows)
    assert metrics(at)[t("cp_metric_value", lang)] == compact(total, lang)
    # the distribution counts every customer not lost with a risk score of 50 or more (not the call list)
    at_risk = sum(r["risk_score"] >= AT_RISK_SCORE for r in everyone)
    assert chart_titles(at)[-1] == t("cp_dist_title", lang, at_risk=at_risk, total=len(everyone),
                                     threshold=AT_RISK_SCORE)


# --------------------------------------------------------------------------- churn warnings
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_churn_page_shows_the_cli_list(app, world, lang):
    _, expected = world
    e = expected["demo"]
    at = app("churn", dataset="demo", lang=lang)
    rows = e["churn"] if lang == "en" else e["churn_zh"]
    assert len(rows) > 20
    assert_churn_list(at, lang, rows, everyone=e["churn_all"])
    table = churn_table(at, lang)
    assert list(table["reasons"]) == [" · ".join(r["reasons"]) for r in rows]
    assert all(r for r in table["reasons"])          # every listed row says why
    assert list(table["owner"]) == [r["owner"] for r in rows]
    assert texts(at.subheader)[0] == churn_finding(lang, e["churn_all"])
    assert len(at.get("download_button")) == 2
    assert not at.info                                # the demo has owners, interactions and due dates


def test_churn_page_every_customer_and_the_owner_filter(app, world):
    _, expected = world
    e = expected["demo"]
    at = app("churn", dataset="demo", all="1")
    assert_churn_list(at, "en", e["churn_all"], everyone=e["churn_all"])
    owner = e["churn"][0]["owner"]
    at.toggle(key="churn:all").set_value(False)
    at.multiselect(key="churn:owner").set_value([owner]).run()
    assert not at.exception, at.exception
    rows = [r for r in e["churn"] if r["owner"] == owner]
    table = churn_table(at, "en")
    assert list(table["customer_id"]) == [r["customer_id"] for r in rows]
    assert at.query_params["call_owner"] in (owner, [owner]) and "all" not in at.query_params
    assert texts(at.subheader)[0] == churn_finding("en", [r for r in e["churn_all"] if r["owner"] == owner])


def test_churn_page_with_only_the_required_columns(app, world):
    _, expected = world
    rows = expected["plain"]["churn"]
    at = app("churn", dataset="plain")
    table = churn_table(at, "en")
    assert list(table["customer_id"]) == [r["customer_id"] for r in rows]
    assert list(table["risk_score"]) == pytest.approx([r["risk_score"] for r in rows], abs=1e-4)
    infos = texts(at.info)
    for key in ("cp_unlock_owner", "cp_unlock_interactions", "cp_unlock_due_date"):
        assert t(key, "en") in infos, key
    assert all(m.key != "churn:owner" for m in at.multiselect)


def test_churn_page_on_degenerate_data(app):
    at = app("churn", dataset="tiny", lang="zh")
    # issue 13: the one customer never repeats, so the purchase model expects nothing more from them and
    # nobody carries value at risk: the list is empty and says why; the history is too short for a track
    # record, and the page says so instead of a chart
    assert not at.dataframe
    infos = texts(at.info)
    assert any(i.startswith("回访名单为空：模型预计 1 位未流失客户中") for i in infos)
    assert t("ct_verdict_no_history", "zh", past="2023-09-03", end="2024-03-01", days=180) in infos
    assert chart_titles(at) == [t("cp_dist_title", "zh", at_risk=0, total=1, threshold=AT_RISK_SCORE)]
    at = app("churn", errors=True, dataset="returns")
    assert at.error                                   # "the data has no orders", from the frame, no traceback


# --------------------------------------------------------------------------- key accounts
def health_rows(at: AppTest, lang: str):
    table = at.dataframe[0].value
    return table.rename(columns={t("ka_col_customer_id", lang): "customer_id", t("health_score", lang): "score",
                                 t("health_status", lang): "light", t("health_phase", lang): "phase",
                                 t("health_trend", lang): "trend"})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_key_accounts_show_the_cli_health(app, world, lang):
    _, expected = world
    rows = expected["demo"]["health"]
    at = app("key_accounts", dataset="demo", lang=lang)
    table = health_rows(at, lang)
    assert list(table["customer_id"]) == [r["customer_id"] for r in rows]
    assert list(table["score"]) == pytest.approx([r["health_score"] for r in rows], nan_ok=True)
    assert list(table["light"]) == [traffic_light(r["status"], lang) for r in rows]
    assert list(table["phase"]) == [t(f"phase_{r['phase']}", lang) for r in rows]
    arrows = {"up": "↑", "down": "↓", "flat": "→"}
    assert [v[0] for v in table["trend"]] == [arrows.get(r["trend"], "—") for r in rows]
    frame = expected["demo"]["health_frame"]
    lost = (frame["days_since_last_order"].astype(float) > 180).to_numpy()
    critical = (frame["status"] == "at_risk").to_numpy() & ~lost
    watch = (frame["status"] == "watch").to_numpy() & ~lost
    revenue = frame["revenue_12m"].astype(float)
    values = dict(accounts=len(rows), critical=int(critical.sum()), lost=int(lost.sum()), watch=int(watch.sum()),
                  days=180, share=revenue[critical].sum() / revenue.clip(lower=0).sum())
    key = "hl_accounts" if critical.any() else "hl_accounts_none"
    assert texts(at.subheader)[0] == t(key, lang, **values)
    assert metrics(at)[traffic_light_markdown("at_risk", lang)] == f"{int(critical.sum())}"
    assert metrics(at)[t("vo_ka_lost", lang, days=180)] == f"{int(lost.sum())}"
    if lang == "zh":
        assert {"培育期", "成长期", "回报期", "挽留期", "终止期"} >= set(table["phase"])
        assert set(table["phase"]) & {"挽留期", "终止期"}
    titles = chart_titles(at)
    assert len(titles) == 2 and str(len(rows)) in titles[0]
    summary = at.dataframe[1].value                 # the value matrix of every customer with an order
    assert int(summary[t("ka_col_customers", lang)].sum()) == expected["demo"]["matrix_customers"]


def test_key_accounts_weights_matrix_and_drill_down(app, world):
    _, expected = world
    e = expected["demo"]
    at = app("key_accounts", dataset="demo")
    at.slider(key="ka:w:recency").set_value(0).run()
    assert not at.exception, at.exception
    want = health_table(e["no_recency"], "en")
    table = health_rows(at, "en")
    assert list(table["customer_id"]) == list(want["customer_id"])
    assert list(table["score"]) == pytest.approx(list(want["health_score"]), nan_ok=True)
    assert t("ka_weights_custom", "en") in texts(at.caption)
    at.button(key="ka:reset").click().run()
    assert list(health_rows(at, "en")["score"]) == pytest.approx([r["health_score"] for r in e["health"]],
                                                                 nan_ok=True)
    # value matrix of the key accounts, and one quadrant's customers
    at.segmented_control(key="ka:matrix_scope").set_value("key_accounts").run()
    assert not at.exception, at.exception
    summary = at.dataframe[1].value
    want = e["matrix_key_accounts"]
    assert list(summary[t("ka_col_customers", "en")]) == list(want["customers"])
    assert at.query_params["matrix"] in ("key_accounts", ["key_accounts"])
    at.selectbox(key="ka:quadrant").set_value("poor").run()
    members = at.dataframe[2].value
    assert len(members) == int(want.set_index("quadrant").loc["poor", "customers"])


def test_key_accounts_open_the_account_page(app, world):
    _, expected = world
    target = expected["demo"]["health"][2]["customer_id"]
    at = app("key_accounts", dataset="demo", lang="zh")
    at.selectbox(key="ka:pick").set_value(target).run()
    at.button(key="ka:open").click().run()
    assert not at.exception, at.exception
    assert at.query_params["customer"] in (target, [target])
    assert at.query_params["lang"] in ("zh", ["zh"]) and at.query_params["dataset"] in ("demo", ["demo"])
    assert texts(at.subheader)[1] == t("acc_timeline", "zh")


def test_key_accounts_with_only_the_required_columns(app, world):
    _, expected = world
    rows = expected["plain"]["health"]
    at = app("key_accounts", dataset="plain")
    table = health_rows(at, "en")
    assert list(table["customer_id"]) == [r["customer_id"] for r in rows]
    assert list(table["score"]) == pytest.approx([r["health_score"] for r in rows], nan_ok=True)
    assert t("ka_intro_revenue", "en", n=len(rows), share=0.8, max=50,
             as_of=expected["demo"]["last"].isoformat()) in texts(at.caption)
    info = "\n".join(texts(at.info))
    for component in ("margin", "payment", "contact", "complaints", "breadth"):
        assert t(f"health_unlock_{component}", "en") in info, component
    assert t("ka_unlock_cost", "en") in info


def test_key_accounts_on_degenerate_data(app):
    at = app("key_accounts", dataset="tiny", lang="zh")
    assert t("ka_none", "zh", as_of="2024-03-01") in texts(at.info)
    summary = at.dataframe[0].value
    assert int(summary[t("ka_col_customers", "zh")].sum()) == 1


# --------------------------------------------------------------------------- the account page
def key_account_at_risk_of_leaving(expected: dict, lang: str) -> tuple[dict, dict]:
    """A key account on the at-risk list: its health row and its churn row (reasons in ``lang``)."""
    churn = {r["customer_id"]: r for r in expected["demo"]["churn" if lang == "en" else "churn_zh"]}
    row = next(r for r in expected["demo"]["health"] if r["customer_id"] in churn)
    return row, churn[row["customer_id"]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_account_page_from_the_url(app, world, lang):
    _, expected = world
    health, risk = key_account_at_risk_of_leaving(expected, lang)
    at = app("account", dataset="demo", lang=lang, customer=health["customer_id"])
    shown = metrics(at)
    assert shown[t("health_score", lang)] == f"{health['health_score']:.1f}"
    assert shown[t("health_status", lang)] == traffic_light_markdown(health["status"], lang)
    assert shown[t("health_phase", lang)] == t(f"phase_{health['phase']}", lang)
    assert float(shown[t("cp_col_risk_score", lang)]) == pytest.approx(risk["risk_score"], abs=0.05)
    assert shown[t("cp_col_value_at_risk", lang)] == compact(risk["value_at_risk"], lang)
    assert shown[t("acc_stage", lang, as_of=expected["demo"]["last"].isoformat())] == t(
        f"stage_{risk['stage']}", lang)
    titles = chart_titles(at)
    assert len(titles) == 3  # timeline, P(alive) over time, health history
    assert titles[0].split(" ")[0].split("：")[0] in {t(f"acc_pace_{k}", lang, recent=0, previous=0, months=6,
                                                        double=12, last="").split(" ")[0].split("：")[0]
                                                      for k in ("slowed", "grew", "steady", "none")}
    markdown = "\n".join(texts(at.markdown))
    assert risk["reasons"]
    for reason in risk["reasons"]:
        assert md(reason) in markdown
    assert not at.warning and not at.info


def test_account_page_with_an_unknown_id(app):
    at = app("account", dataset="demo", customer="NO-SUCH-ID")
    assert texts(at.warning) == [t("acc_unknown", "en")]
    assert t("acc_none", "en") in texts(at.info)
    assert "NO-SUCH-ID" in [e.value for e in at.text]
    assert not at.get("plotly_chart")


def test_account_page_picks_from_all_customers(app, world):
    _, expected = world
    lost, lead = expected["demo"]["lost"], expected["demo"]["lead"]
    at = app("account", dataset="demo", lang="zh")
    assert t("acc_none", "zh") in texts(at.info)
    at.segmented_control(key="acc:scope").set_value("all").run()
    at.selectbox(key="acc:pick:all").set_value(lost).run()
    assert not at.exception, at.exception
    assert at.query_params["customer"] in (lost, [lost])
    assert t("acc_lost", "zh", as_of=expected["demo"]["last"].isoformat(), days=180) in texts(at.info)
    assert metrics(at)[t("acc_stage", "zh", as_of=expected["demo"]["last"].isoformat())] == "流失客户"
    at.selectbox(key="acc:pick:all").set_value(lead).run()     # a lead: no order, contacts only
    assert not at.exception, at.exception
    assert metrics(at)[t("health_score", "zh")] == "—"
    assert t("acc_no_orders_churn", "zh") in texts(at.info)


def test_account_page_with_only_the_required_columns(app, world):
    _, expected = world
    first = expected["plain"]["health"][0]
    at = app("account", dataset="plain", customer=first["customer_id"])
    infos = texts(at.info)
    assert t("acc_unlock_due_date", "en") in infos and t("acc_unlock_interactions", "en") in infos
    assert metrics(at)[t("health_score", "en")] == f"{first['health_score']:.1f}"
    assert t("acc_owner", "en") not in "\n".join(texts(at.caption))      # no owner in this data
    assert len(chart_titles(at)) == 3


def test_account_page_on_degenerate_data(app):
    at = app("account", dataset="tiny", customer="X1", lang="zh")
    assert metrics(at)[t("acc_revenue", "zh")] == "-50"
    assert chart_titles(at)[0] == t("acc_pace_grew", "zh", recent=1, previous=0, months=6)
