"""Issue 13 item 5: churn warnings that prove themselves.

- the track record's numbers (ROC AUC, recency alone, the call list's catch,
  calibration bands) on hand-worked fixtures where we know who left;
- the verdict rule and its sentence (no better than chance, no better than
  recency, too little history) in both languages;
- the call list sized by value (80% of the value at risk), never silently empty;
- the track record of a stored dataset against an independent reading of who
  left (plain Python over the fixture's own dates), and nothing after D used;
- the headline equals the sums of the page's numbers;
- ``crmflow churn --track-record`` (JSON keys, text lines);
- the Churn warnings page's Track record section in both languages (AppTest);
- the real files (Superstore, UCI Online Retail), skipped when absent.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmflow import churn
from crmflow import headlines as hl
from crmflow.account_view import at_risk_rows
from crmflow.cli import main
from crmflow.i18n import t
from crmflow.stages import data_range
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(__file__).parent / "data" / "real"


def pairs_auc(scores, left) -> float:
    """ROC AUC by counting every (leaver, stayer) pair: 1 when the leaver
    scores higher, 1/2 on a tie (independent of churn.roc_auc's ranks)."""
    pos = [s for s, y in zip(scores, left) if y]
    neg = [s for s, y in zip(scores, left) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


# --------------------------------------------------------------------------- the numbers, by hand
# Six customers warned about at D - h; A, C and E then left.
HAND = pd.DataFrame({
    "customer_id": list("ABCDEF"),
    "probability": [0.9, 0.8, 0.6, 0.4, 0.3, 0.1],
    "expected_value": [100.0, 1000.0, 50.0, 200.0, 300.0, 10.0],
    "days": [10, 200, 150, 20, 100, 5],
    "left": [True, False, True, False, True, False],
})


def hand_numbers() -> dict:
    h = HAND
    return churn.track_numbers(h["customer_id"], h["probability"], h["expected_value"] * h["probability"],
                               h["expected_value"], h["days"], h["left"])


def test_track_numbers_by_hand():
    n = hand_numbers()
    assert (n["customers"], n["left"], n["stayed"]) == (6, 3, 3)
    # leavers A .9, C .6, E .3 vs stayers B .8, D .4, F .1: A beats 3, C beats D and F, E beats F -> 6 of 9
    assert n["auc"] == pytest.approx(6 / 9, abs=1e-4)
    # days: leavers A 10, C 150, E 100 vs stayers B 200, D 20, F 5: A beats F, C and E beat D and F -> 5 of 9
    assert n["recency_auc"] == pytest.approx(5 / 9, abs=1e-4)
    assert n["auc"] == pytest.approx(pairs_auc(HAND["probability"], HAND["left"]), abs=1e-4)
    # value at risk: A 90, B 800, C 30, D 80, E 90, F 1 (total 1,091; 80% = 872.8). Largest first: B (800),
    # then A (90, ties by id before E) reaches 890 >= 872.8 -> the list is B, A
    assert n["listed"] == 2
    # of the leavers A, C, E only A was listed: 1 of 3; their value then 100 + 50 + 300, A's 100 -> 2/9
    assert (n["caught"], n["caught_share"]) == (1, pytest.approx(1 / 3, abs=1e-4))
    assert n["caught_value_share"] == pytest.approx(100 / 450, abs=1e-4)
    # a recency list of the same length: B (200 days), C (150) -> catches C: 1 of 3, 50 of 450
    assert n["recency_caught_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert n["recency_caught_value_share"] == pytest.approx(50 / 450, abs=1e-4)
    assert n["expected_leavers"] == pytest.approx(3.1)
    # five bands of six customers by rank (floor(i * 5 / 6)): {F, E}, {D}, {C}, {B}, {A}
    assert [(b["customers"], b["predicted"], b["actual"]) for b in n["calibration"]] == [
        (2, 0.2, 0.5), (1, 0.4, 0.0), (1, 0.6, 1.0), (1, 0.8, 0.0), (1, 0.9, 1.0)]
    assert [(b["low"], b["high"]) for b in n["calibration"]][0] == (0.1, 0.3)
    assert n["verdict"] == "too_few"              # 3 leavers and 3 stayers are too few to judge


def test_calibration_bands_partition_the_customers():
    rng = np.random.default_rng(13)
    p = rng.uniform(size=103)
    y = rng.uniform(size=103) < p
    bands = churn.calibration_bands(p, y)
    # rank i goes to band floor(5 i / 103): ranks 0-20, 21-41, 42-61, 62-82, 83-102
    assert [b["customers"] for b in bands] == [21, 21, 20, 21, 20]
    assert sum(b["customers"] for b in bands) == 103
    order = np.argsort(p)
    start = 0
    for b in bands:
        inside = order[start:start + b["customers"]]
        assert b["predicted"] == pytest.approx(p[inside].mean(), abs=1e-4)
        assert b["actual"] == pytest.approx(y[inside].mean(), abs=1e-4)
        start += b["customers"]
    assert [b["band"] for b in churn.calibration_bands([0.5, 0.2], [True, False])] == [1, 2]


# --------------------------------------------------------------------------- the verdict and its sentence
@pytest.mark.parametrize("auc, recency, left, stayed, verdict", [
    (0.9, 0.5, 0, 0, "no_history"),
    (0.9, 0.5, 9, 40, "too_few"),
    (0.9, 0.5, 40, 9, "too_few"),
    (0.5999, 0.3, 10, 10, "no_better_than_chance"),
    (0.45, 0.7, 100, 100, "no_better_than_chance"),
    (0.7, 0.7, 10, 10, "no_better_than_recency"),       # a tie with recency is not better
    (0.65, 0.72, 10, 10, "no_better_than_recency"),
    (0.6, 0.59, 10, 10, "better_than_recency"),         # 0.6 itself is past chance
    (0.71, 0.70, 10, 10, "better_than_recency"),
])
def test_verdict_rule(auc, recency, left, stayed, verdict):
    assert churn.verdict_code(auc, recency, left, stayed) == verdict


def test_no_better_than_chance_says_so():
    # 20 leavers and 20 stayers; the warnings rank them in an order unrelated to who left, recency does better
    ids = [f"C{i:02d}" for i in range(40)]
    left = np.array([i % 2 == 0 for i in range(40)])
    probability = np.array([0.2 + 0.015 * ((7 * i) % 40) for i in range(40)])
    days = np.where(left, 100, 50) + np.arange(40)
    n = churn.track_numbers(ids, probability, probability * 100, np.full(40, 100.0), days, left)
    assert n["auc"] == pytest.approx(pairs_auc(probability, left), abs=1e-4) and n["auc"] < churn.CHANCE_AUC
    assert n["recency_auc"] == pytest.approx(pairs_auc(days, left), abs=1e-4)
    assert n["recency_auc"] > n["auc"]
    assert n["verdict"] == "no_better_than_chance"
    record = {**n, "scored_at": "2024-07-04", "outcome_end": "2024-12-31", "horizon_days": 180}
    en, zh = churn.track_verdict(record, "en"), churn.track_verdict(record, "zh")
    assert en.startswith("On this data's past the warnings were no better than chance")
    assert f"only {n['auc']:.1%} of the time" in en and f"recency alone: {n['recency_auc']:.1%}" in en
    assert "并不比随机猜测好" in zh and f"{n['auc']:.1%}" in zh


def test_the_other_sentences():
    base = {"scored_at": "2024-07-04", "outcome_end": "2024-12-31", "horizon_days": 180, "left": 3, "stayed": 40,
            "auc": 0.81, "recency_auc": 0.74}
    assert churn.track_verdict({**base, "verdict": "too_few"}, "en") == t(
        "ct_verdict_too_few", "en", past="2024-07-04", end="2024-12-31", days=180, left=3, stayed=40, minimum=10)
    assert "3 left and 40 stayed" in churn.track_verdict({**base, "verdict": "too_few"}, "en")
    assert "81.0%" in churn.track_verdict({**base, "verdict": "better_than_recency"}, "en")
    assert "did no better than recency alone" in churn.track_verdict({**base, "verdict": "no_better_than_recency"})
    assert "无法检验" in churn.track_verdict({**base, "verdict": "no_history"}, "zh")


# --------------------------------------------------------------------------- the call list, sized by value
@pytest.mark.parametrize("values, listed", [
    ([50.0, 30.0, 20.0], [True, True, False]),       # 50 + 30 = 80% exactly: two
    ([40.0, 40.0, 20.0], [True, True, False]),
    ([80.0, 20.0], [True, False]),
    ([79.0, 21.0], [True, True]),
    ([10.0, 90.0, 0.0], [False, True, False]),       # input order kept; a customer with nothing at risk never
    ([0.1] * 10, [True] * 8 + [False] * 2),          # float sums: 8 x 0.1 reaches 80%
    ([0.0, 0.0], [False, False]),                    # nobody carries value at risk: empty
    ([], []),
])
def test_call_list_mask(values, listed):
    ids = [f"c{i}" for i in range(len(values))]
    assert list(churn.call_list_mask(np.array(values), ids)) == listed


def test_call_list_ties_go_by_customer_id():
    assert list(churn.call_list_mask([10.0, 10.0, 10.0, 10.0, 10.0], ["e", "d", "c", "b", "a"])) == [
        False, True, True, True, True]


# --------------------------------------------------------------------------- a stored dataset where we know who left
D = date(2024, 12, 31)
H = 180
PAST = D - timedelta(days=H)           # 2024-07-04
# (customer, order dates before D - h, orders in (D - h, D]): every customer ordered in the 180 days before
# D - h, so nobody is lost then; L* placed no order after D - h (they left), S* did.
HISTORY = {
    "L1": (["2024-01-20", "2024-02-15"], []),
    "L2": (["2023-11-01", "2024-01-10"], []),
    "L3": (["2024-06-20"], []),
    "L4": (["2024-03-01", "2024-03-20", "2024-04-10"], []),
    "S1": (["2024-06-01", "2024-06-25", "2024-07-01"], ["2024-08-01", "2024-10-01"]),
    "S2": (["2024-02-01"], ["2024-12-01"]),
    "S3": (["2024-05-05", "2024-06-05"], ["2024-07-05"]),
    "S4": (["2024-04-15", "2024-06-30"], ["2024-09-09"]),
}


def history_csv() -> str:
    lines = ["customer_id,order_date,amount"]
    for i, (c, (before, after)) in enumerate(HISTORY.items()):
        lines += [f"{c},{d},{100 + 10 * i}" for d in before + after]
    return "\n".join(lines) + "\n"


def test_track_record_of_a_stored_dataset(load):
    store, ds = load(history_csv())
    record = churn.track_record(store.db, ds, D)
    assert (record["scored_at"], record["outcome_end"], record["horizon_days"]) == ("2024-07-04", "2024-12-31", 180)
    left = {c: not after for c, (before, after) in HISTORY.items()}
    assert (record["customers"], record["left"], record["stayed"]) == (8, 4, 4)
    # recency at D - h from the fixture's own dates
    days = {c: (PAST - date.fromisoformat(before[-1])).days for c, (before, _) in HISTORY.items()}
    assert days["L2"] == 176 and days["S1"] == 3
    ids = list(HISTORY)
    assert record["recency_auc"] == pytest.approx(pairs_auc([days[c] for c in ids], [left[c] for c in ids]),
                                                  abs=1e-4)
    # the warnings as the product gave them at D - h (same scoring, nothing after D - h known)
    then = churn.churn_warnings(store.db, ds, PAST, include_all=True).set_index("customer_id").loc[ids]
    assert record["auc"] == pytest.approx(pairs_auc(list(then["risk_score"]), [left[c] for c in ids]), abs=1e-4)
    listed = [c for c in ids if then.loc[c, "on_call_list"]]
    caught = [c for c in listed if left[c]]
    assert (record["listed"], record["caught"]) == (len(listed), len(caught))
    assert record["caught_share"] == pytest.approx(len(caught) / 4, abs=1e-4)
    value_left = sum(then.loc[c, "expected_value"] for c in ids if left[c])
    assert record["caught_value_share"] == pytest.approx(
        sum(then.loc[c, "expected_value"] for c in caught) / value_left, abs=1e-4)
    assert record["expected_leavers"] == pytest.approx(then["probability_leave"].sum(), abs=1e-3)
    assert sum(b["customers"] for b in record["calibration"]) == 8
    assert record["verdict"] == "too_few"
    # memoised per (scope, as_of, params, h): the same object comes back
    assert churn.track_record(store.db, ds, D) is record


def test_track_record_uses_nothing_after_d(load):
    """Orders after D change nothing; orders in (D - h, D] are the outcome."""
    store, ds = load(history_csv())
    extra = history_csv() + "L1,2025-01-15,500\nS2,2025-02-01,50\n"
    other, ds2 = load(extra)
    a, b = churn.track_record(store.db, ds, D), churn.track_record(other.db, ds2, D)
    assert a == b


def test_no_history_for_a_track_record(load):
    store, ds = load("customer_id,order_date,amount\nA,2024-05-01,10\nB,2024-05-20,20\nA,2024-06-01,15\n")
    record = churn.track_record(store.db, ds, date(2024, 6, 30))
    assert record["verdict"] == "no_history" and record["auc"] is None and record["calibration"] == []
    assert churn.track_verdict(record, "en") == t("ct_verdict_no_history", "en", past="2024-01-02",
                                                  end="2024-06-30", days=180)


# --------------------------------------------------------------------------- the list, never silently empty
def test_a_list_with_no_value_at_risk_says_why(load):
    # nobody repeats: the purchase model expects no further orders, so nobody carries value at risk
    rows = "\n".join(f"N{i},2024-0{1 + i % 6}-{10 + i},{50 + i}" for i in range(12))
    store, ds = load("customer_id,order_date,amount\n" + rows + "\n")
    everyone = churn.churn_warnings(store.db, ds, date(2024, 6, 30), include_all=True)
    listed = churn.churn_warnings(store.db, ds, date(2024, 6, 30))
    assert len(everyone) == 12 and everyone["value_at_risk"].sum() == 0     # no repeaters: no expected orders
    assert not everyone["on_call_list"].any() and listed.empty
    note = churn.empty_list_note(everyone, 180, "en")
    leavers = everyone["probability_leave"].sum()
    assert note == t("ct_empty_no_value", "en", leavers=leavers, scored=len(everyone), days=180)
    assert note.startswith("The call list is empty: the model expects 12 of 12 customers not lost")


def test_empty_list_note_by_hand():
    frame = pd.DataFrame({"probability_leave": [0.5, 0.75, 0.5], "on_call_list": [False, False, False]})
    assert churn.empty_list_note(frame, 180, "en").startswith(
        "The call list is empty: the model expects 2 of 3 customers not lost to place no order in the next 180 days")
    assert "约 2 位" in churn.empty_list_note(frame, 180, "zh")
    assert churn.empty_list_note(frame.assign(on_call_list=[False, True, False]), 180) is None
    assert churn.empty_list_note(frame.iloc[:0], 180) is None


# --------------------------------------------------------------------------- the demo data
@pytest.fixture(scope="module")
def demo():
    store = Store(in_memory=True)
    ds = store.ensure_demo().dataset_id
    last = data_range(store.db, ds)[1]
    yield store, ds, last
    store.close()


def test_headline_and_list_on_the_demo(demo):
    store, ds, last = demo
    everyone = churn.churn_warnings(store.db, ds, last, include_all=True)
    listed = at_risk_rows(everyone)
    pd.testing.assert_frame_equal(listed, churn.churn_warnings(store.db, ds, last))
    total = everyone["value_at_risk"].sum()
    # the list carries 80% of the value at risk, and without its smallest row it would not
    assert listed["value_at_risk"].sum() >= 0.8 * total > listed["value_at_risk"].iloc[:-1].sum()
    assert listed["value_at_risk"].min() >= everyone.loc[~everyone["on_call_list"], "value_at_risk"].max()
    assert listed["reasons"].map(len).gt(0).all()
    value_only = [r for rs in listed["reasons"] for r in rs if r["code"] == "value_at_risk"]
    assert value_only and all(0 < r["share"] < 0.2 for r in value_only)
    # the headline: expected leavers = sum of P(leave), value at risk = its sum, the list's share of it
    head = hl.churn_headline(everyone, listed, 180)
    assert head.values["leavers"] == pytest.approx(everyone["probability_leave"].sum())
    assert head.values["value"] == pytest.approx(total)
    assert head.values["listed"] == len(listed)
    assert head.values["listed_value"] == pytest.approx(listed["value_at_risk"].sum())
    assert head.text("en").startswith(f"The model expects {everyone['probability_leave'].sum():,.0f} of "
                                      f"{len(everyone):,} customers not lost")
    assert hl.money(total) in head.text("en")


def test_track_record_on_the_demo(demo):
    store, ds, last = demo
    record = churn.track_record(store.db, ds, last)
    past = last - timedelta(days=180)
    assert record["scored_at"] == past.isoformat()
    # the same as evaluating the warnings of D - h with the package's own evaluation
    evaluated = churn.evaluate_auc(store.db, ds, past, 180)
    assert record["customers"] == evaluated["customers"] and record["left"] == evaluated["left"]
    assert record["auc"] == pytest.approx(evaluated["auc_risk_score"], abs=1e-4)
    assert record["expected_leavers"] == pytest.approx(evaluated["mean_probability"] * evaluated["customers"],
                                                       rel=1e-6)
    # the verdict by the README's rule from the record's own numbers
    if min(record["left"], record["stayed"]) < 10:
        want = "too_few"
    elif record["auc"] < 0.6:
        want = "no_better_than_chance"
    elif record["auc"] <= record["recency_auc"]:
        want = "no_better_than_recency"
    else:
        want = "better_than_recency"
    assert record["verdict"] == want
    bands = record["calibration"]
    assert len(bands) == 5 and sum(b["customers"] for b in bands) == record["customers"]
    assert bands[-1]["actual"] > bands[0]["actual"]    # the ranking works on the demo


# --------------------------------------------------------------------------- command line
def test_cli_track_record(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text(history_csv(), encoding="utf-8")
    assert main(["churn", str(path), "--as-of", "2024-12-31", "--track-record"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == "2024-12-31"
    record = doc["track_record"]
    for key in ("auc", "recency_auc", "caught_share", "caught_value_share", "calibration", "verdict"):
        assert key in record, key
    assert record["left"] == 4 and record["verdict"] == "too_few"
    assert set(record["calibration"][0]) == {"band", "customers", "low", "high", "predicted", "actual"}
    assert main(["churn", str(path), "--as-of", "2024-12-31", "--track-record-format", "text", "--lang", "zh"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == churn.track_verdict(record, "zh")
    assert lines[1].startswith("历史检验（2024-07-04 的预警，检验至 2024-12-31）：ROC AUC")
    assert len(lines) == 3 + len(record["calibration"])
    # the list itself: rows carry on_call_list, the default list is the rows marked
    assert main(["churn", str(path), "--as-of", "2024-12-31", "--all"]) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert main(["churn", str(path), "--as-of", "2024-12-31"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["customer_id"] for r in listed] == [r["customer_id"] for r in everyone if r["on_call_list"]]


# --------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def page_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("churntrack")
    db = folder / "crmflow.duckdb"
    with Store(db) as store:
        ds = store.ensure_demo().dataset_id
        last = data_range(store.db, ds)[1]
        record = churn.track_record(store.db, ds, last)
        everyone = churn.churn_warnings(store.db, ds, last, include_all=True)
        once = folder / "once.csv"
        once.write_text("customer_id,order_date,amount\n" + "\n".join(
            f"N{i},2024-0{1 + i % 6}-{10 + i},{50 + i}" for i in range(12)) + "\n", encoding="utf-8")
        store.ingest("once", once)
    return db, record, everyone


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_churn_page_track_record(page_db, monkeypatch, lang):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db, record, everyone = page_db
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = "demo"
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/churn.py")
    at.run()
    assert not at.exception, at.exception
    try:
        assert t("ct_track", lang) in [s.value for s in at.subheader]
        assert [s.value for s in at.success] == [churn.track_verdict(record, lang)]
        shown = {m.label: m.value for m in at.metric}
        assert shown[t("ct_metric_auc", lang)] == f"{record['auc']:.1%}"
        assert shown[t("ct_metric_recency_auc", lang)] == f"{record['recency_auc']:.1%}"
        assert shown[t("ct_metric_caught", lang)] == f"{record['caught_share']:.0%}"
        assert shown[t("ct_metric_caught_value", lang)] == f"{record['caught_value_share']:.0%}"
        charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        titles = [c["layout"]["title"]["text"] for c in charts]
        want = t("ct_cal_title", lang, bands=5, past=record["scored_at"])
        assert want in titles
        chart = charts[titles.index(want)]
        assert [d["name"] for d in chart["data"]] == [t("ct_cal_predicted", lang), t("ct_cal_actual", lang)]
        assert chart["data"][0]["y"] == [b["predicted"] for b in record["calibration"]]
        assert chart["data"][1]["y"] == [b["actual"] for b in record["calibration"]]
        captions = [c.value for c in at.caption]
        assert t("ct_list_caption", lang, share=0.8, listed=int(everyone["on_call_list"].sum()),
                 scored=len(everyone)) in captions
        assert t("ct_track_intro", lang, past=record["scored_at"], end=record["outcome_end"], days=180) in captions
    finally:
        st.cache_resource.clear()
        gc.collect()


# --------------------------------------------------------------------------- real files (skipped when absent)
REAL_FILES = ["tableau_superstore_3sheets.xlsx", "uci_online_retail.parquet"]


@pytest.mark.parametrize("name", REAL_FILES)
def test_track_record_on_real_files(name, capsys):
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{name} is not linked into tests/data/real (see its README)")
    assert main(["churn", str(path), "--track-record"]) == 0
    record = json.loads(capsys.readouterr().out)["track_record"]
    assert record["verdict"] in churn.VERDICTS and record["customers"] > 100
    assert 0 <= record["auc"] <= 1 and 0 <= record["recency_auc"] <= 1
    # the list carries most of the value, so it catches a good share of the leavers
    assert record["listed"] > 0 and record["caught_share"] > 0
    assert not math.isnan(record["expected_leavers"])
    sentence = churn.track_verdict(record, "en")
    if record["auc"] < churn.CHANCE_AUC:
        assert "no better than chance" in sentence


def test_churn_page_says_why_the_list_is_empty(page_db, monkeypatch):
    """Nobody repeats: nobody carries value at risk, and the page says so in words (never an empty table)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db, _, _ = page_db
    # the expected frame first: the dashboard then holds the file read-only in this process
    with Store(db) as store:
        ds = store.get("once").dataset_id
        everyone = churn.churn_warnings(store.db, ds, date(2024, 6, 21), include_all=True)
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["dataset"] = "once"
    at.query_params["lang"] = "zh"
    at.run()
    at.switch_page("pages/churn.py")
    at.run()
    assert not at.exception, at.exception
    try:
        assert len(everyone) == 12 and not at.dataframe
        assert churn.empty_list_note(everyone, 180, "zh") in [i.value for i in at.info]
    finally:
        st.cache_resource.clear()
        gc.collect()
