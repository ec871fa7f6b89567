"""Review fixes of the issue-13 work (CLV model choice, track record, churn
warnings' track record): each test here failed before its fix.

Checked against: histories simulated from MBG/NBD (tests/test_clvchoice.simulate),
on which the holdout choice picks MBG/NBD; the glossary and locale tables.
"""

from __future__ import annotations

from datetime import date

import pytest

from crmflow import churn, model
from crmflow.cli import main
from crmflow.i18n import t
from crmflow.report import build_slide
from crmflow.stages import data_range
from tests.test_clvchoice import simulate


@pytest.fixture(scope="module")
def mbgnbd_data(tmp_path_factory):
    from crmflow.store import Store

    df = simulate(3000, kind="mbgnbd", r=1.0, alpha=4, a=1, b=1, days=730, arrival_days=365, seed=7)
    path = tmp_path_factory.mktemp("mbg") / "t.csv"
    df.to_csv(path, index=False)
    store = Store(in_memory=True)
    ds = store.ingest("mbg", path, None, None).dataset.dataset_id
    yield store, ds, data_range(store.db, ds)[1]
    store.close()


# --------------------------------------------------------------------------- 1. the model's name
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_names_the_chosen_purchase_model(mbgnbd_data, lang):
    store, ds, d = mbgnbd_data
    assert model.fit_clv(store.db, ds, d).model == "mbgnbd"
    slide = build_slide(store.db, ds, "clv", d, lang=lang)
    assert "MBG/NBD" in slide.caption
    assert "BG/NBD" not in slide.caption.replace("MBG/NBD", "")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_p_alive_definition_does_not_name_one_model_only(lang):
    text = t("gl_def_p_alive", lang)
    assert "MBG/NBD" in text and "BG/NBD" in text.replace("MBG/NBD", "")


# --------------------------------------------------------------------------- 2. one holdout count on the page
@pytest.fixture(scope="module")
def demo_world(tmp_path_factory):
    """A database with the demo dataset, and the backtest and track record at its last day."""
    from crmflow.segments_table import backtest_view
    from crmflow.store import Store
    from crmflow.track_record import track_record

    db = tmp_path_factory.mktemp("clvmend") / "crmflow.duckdb"
    with Store(db) as store:
        ds = store.ensure_demo().dataset_id
        last = data_range(store.db, ds)[1]
        expected = {"backtest": backtest_view(store.db, ds, last), "record": track_record(store.db, ds, last),
                    "everyone": churn.churn_warnings(store.db, ds, last, include_all=True),
                    "churn_record": churn.track_record(store.db, ds, last)}
    return db, expected


@pytest.fixture
def demo_app(demo_world, app_factory):
    return app_factory(demo_world[0], defaults={"dataset": "demo"}, timeout=120)


def test_the_track_record_title_counts_the_backtest_customers(demo_world):
    from crmflow.track_record import tracking_title

    _, e = demo_world
    res, rec = e["backtest"].result, e["record"]
    # the demo has customers first seen in the holdout: the plot's lines count them too
    assert rec.holdout_actual > res["actual_orders"]
    assert rec.known_actual == res["actual_orders"] and rec.known_customers == res["customers"]
    assert rec.known_expected == pytest.approx(res["predicted_orders"], abs=1e-4)  # as_dict rounds
    for lang in ("en", "zh"):
        title = tracking_title(rec, lang)
        assert f"{res['actual_orders']:,}" in title and f"{res['predicted_orders']:,.0f}" in title
        assert f"{rec.holdout_actual:,.0f}" not in title


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_segments_page_shows_one_expected_and_actual_holdout_count(demo_app, demo_world, lang):
    import json
    import re

    _, e = demo_world
    res, rec = e["backtest"].result, e["record"]
    at = demo_app("segments", lang=lang)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    backtest = t("seg_bt_title", lang, predicted=res["predicted_orders"], actual=res["actual_orders"],
                 days=res["holdout_days"])
    assert backtest in titles
    from crmflow.track_record import tracking_title

    tracking = tracking_title(rec, lang)
    assert tracking in titles
    numbers = {n.replace(",", "") for n in re.findall(r"\d[\d,]*", tracking)}
    assert {f"{res['predicted_orders']:.0f}", str(res["actual_orders"])} <= numbers
    assert f"{rec.holdout_actual:.0f}" not in numbers
    captions = [c.value for c in at.caption]
    assert t("trk_caption", lang, calibration_end=rec.calibration_end.isoformat(),
             holdout_end=rec.holdout_end.isoformat()) in captions


# --------------------------------------------------------------------------- 3. the churn warnings
BASE = {"verdict": "better_than_recency", "scored_at": "2024-07-04", "outcome_end": "2024-12-31",
        "horizon_days": 180, "auc": 0.78, "recency_auc": 0.736, "left": 346, "stayed": 1026}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_worked_but_caught_fewer_leavers_than_recency_says_so(lang):
    fewer = churn.track_verdict({**BASE, "caught_share": 0.6, "recency_caught_share": 0.73}, lang)
    plain = t("ct_verdict_better_than_recency", lang, past="2024-07-04", end="2024-12-31", days=180, auc=0.78,
              recency=0.736)
    clause = t("clvmend_fewer_caught", lang, past="2024-07-04", caught=0.6, recency=0.73)
    assert fewer.startswith(plain) and fewer.endswith(clause) and "60%" in clause and "73%" in clause
    # as many or more caught, or another verdict: the sentence alone
    assert churn.track_verdict({**BASE, "caught_share": 0.73, "recency_caught_share": 0.73}, lang) == plain
    other = {**BASE, "verdict": "no_better_than_recency", "caught_share": 0.6, "recency_caught_share": 0.73}
    assert clause not in churn.track_verdict(other, lang)


def test_the_demo_verdict_carries_the_clause_when_its_list_caught_fewer(demo_world):
    rec = demo_world[1]["churn_record"]
    clause = t("clvmend_fewer_caught", "en", past=rec["scored_at"], caught=rec["caught_share"],
               recency=rec["recency_caught_share"])
    fewer = rec["verdict"] == "better_than_recency" and rec["caught_share"] < rec["recency_caught_share"]
    assert fewer  # the README's table: the demo's list caught 60% of the leavers, recency 73%
    assert (clause in churn.track_verdict(rec, "en")) == fewer


def test_an_empty_call_list_says_why_on_stderr(tmp_path, capsys):
    rows = "\n".join(f"N{i},2024-0{1 + i % 6}-{10 + i},{50 + i}" for i in range(12))
    path = tmp_path / "t.csv"
    path.write_text("customer_id,order_date,amount\n" + rows + "\n", encoding="utf-8")
    for lang in ("en", "zh"):
        assert main(["churn", str(path), "--as-of", "2024-06-30", "--lang", lang]) == 0
        out, err = capsys.readouterr()
        assert out.strip() == "[]"
        want = t("ct_empty_no_value", lang, leavers=12.0, scored=12, days=180)
        assert err.strip().startswith(want[:30]) and ("12 of 12" in err if lang == "en" else "12 位" in err)
    # a list that is not empty says nothing on stderr
    path.write_text("customer_id,order_date,amount\n" + rows + "\nN1,2024-03-01,40\nN1,2024-05-01,40\n",
                    encoding="utf-8")
    assert main(["churn", str(path), "--as-of", "2024-06-30"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() != "[]" and err == ""


def history(tmp_path):
    from tests.test_churntrack import history_csv

    path = tmp_path / "t.csv"
    path.write_text(history_csv(), encoding="utf-8")
    return path


@pytest.mark.parametrize("order", ["flag_first", "file_first"])
def test_track_record_flag_before_or_after_the_file(tmp_path, capsys, order):
    import json

    path = history(tmp_path)
    args = ["--track-record", str(path)] if order == "flag_first" else [str(path), "--track-record"]
    assert main(["churn", *args, "--as-of", "2024-12-31"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == "2024-12-31" and "as_of" not in doc["track_record"]
    assert (doc["track_record"]["scored_at"], doc["track_record"]["outcome_end"]) == ("2024-07-04", "2024-12-31")
    fmt = ["--track-record-format", "text"]
    args = [*fmt, str(path)] if order == "flag_first" else [str(path), "--track-record", *fmt]
    assert main(["churn", *args, "--as-of", "2024-12-31"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == churn.track_verdict(doc["track_record"], "en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_owner_filtered_list_caption_is_true_for_the_subset(demo_app, demo_world, lang):
    from crmflow.churn import CALL_LIST_VALUE_SHARE

    everyone = demo_world[1]["everyone"]
    owner = everyone.loc[everyone["on_call_list"].astype(bool), "owner"].iloc[0]
    mine = everyone[everyone["owner"] == owner]
    listed = int(mine["on_call_list"].astype(bool).sum())
    assert 0 < listed < len(mine)
    at = demo_app("churn", lang=lang, call_owner=owner)
    captions = [c.value for c in at.caption]
    assert t("clvmend_list_caption_owner", lang, share=CALL_LIST_VALUE_SHARE, listed=listed,
             scored=len(mine)) in captions
    assert not any(c.startswith(t("ct_list_caption", lang, share=CALL_LIST_VALUE_SHARE, listed=0, scored=0)[:20])
                   for c in captions)


# --------------------------------------------------------------------------- 4. errors in the page's language
@pytest.fixture(scope="module")
def single_db(tmp_path_factory):
    """One customer with one order: nobody had bought by the backtest's calibration end."""
    from crmflow.store import Store

    folder = tmp_path_factory.mktemp("clvmend_single")
    (folder / "single.csv").write_text("customer_id,order_date,amount\nS1,2024-05-02,250\n", encoding="utf-8")
    with Store(folder / "crmflow.duckdb") as store:
        store.ensure_demo()
        store.ingest("single", folder / "single.csv")
    return folder / "crmflow.duckdb"


def english_words(texts: list[str]) -> set[str]:
    import re

    return {w for text in texts for w in re.findall(r"[A-Za-z]{4,}", text)} - {"Gamma", "NBD"}


def test_the_model_errors_have_keys_in_both_languages(load):
    from crmflow.errors import CrmflowError
    from crmflow.track_record import track_record_view

    store, ds = load("customer_id,order_date,amount\nS1,2024-05-02,250\n")
    view = track_record_view(store.db, ds, date(2024, 5, 2))
    assert isinstance(view.error, CrmflowError) and view.error.key == "clv_no_customers"
    assert view.error.line() == ("No customer made a purchase on or before 2024-05-01, so there is nothing to fit "
                                 "the CLV model on. Choose a later calibration end (or as-of date).")
    assert view.error.localized("zh") == (t("err_clv_no_customers", "zh", calibration_end="2024-05-01") + "。"
                                          + t("err_clv_no_customers_page", "zh") + "。")
    for call, key in [(lambda: model.fit_clv(store.db, ds, date(2024, 5, 2), model="pareto"), "clv_model_unknown"),
                      (lambda: model.backtest(store.db, ds, date(2024, 5, 2), holdout_days=0), "clv_holdout_short"),
                      (lambda: model.backtest_between(store.db, ds, date(2024, 5, 2), date(2024, 5, 1)),
                       "clv_calibration_order")]:
        with pytest.raises(CrmflowError) as caught:
            call()
        assert caught.value.key == key and not english_words([caught.value.localized("zh")]) - {"pareto", "auto",
                                                                                                "bgnbd", "mbgnbd"}


def test_a_zh_segments_page_without_a_track_record_shows_no_english(single_db, app_factory):
    at = app_factory(single_db, defaults={"dataset": "demo"}, timeout=120)("segments", dataset="single", lang="zh")
    boxes = [b.value for kind in ("info", "warning", "error") for b in at.get(kind)]
    reason = t("err_clv_no_customers", "zh", calibration_end="2024-05-01")
    assert any(reason in b for b in boxes)
    assert t("trk_unavailable", "zh", reason=reason + "。" + t("err_clv_no_customers_page", "zh") + "。") in boxes
    shown = boxes + [c.value for c in at.caption] + [s.value for s in at.subheader] + [m.value for m in at.markdown]
    assert not english_words(shown), english_words(shown)


def test_a_zh_report_without_a_track_record_shows_no_english(load):
    store, ds = load("customer_id,order_date,amount\nS1,2024-05-02,250\n")
    for key in ("backtest", "track"):
        slide = build_slide(store.db, ds, key, date(2024, 5, 2), lang="zh")
        assert slide.message and not english_words([slide.message]), slide.message


# --------------------------------------------------------------------------- 6. one implementation of each thing
def test_discounted_purchases_by_hand(load):
    import numpy as np

    from crmflow import clv

    df = simulate(400, kind="bgnbd", r=0.8, alpha=6, a=1.5, b=4, days=730, arrival_days=365, seed=3)
    store, ds = load(df.to_csv(index=False))
    fit = model.fit_clv(store.db, ds, data_range(store.db, ds)[1], model="bgnbd")
    x, tx, T, m = fit._arrays()
    p = fit.purchase
    year = 365.25 / 7
    # one step: the purchases of the whole horizon discounted at its end
    one = clv.discounted_purchases(p, x, tx, T, horizon_weeks=26, discount_rate_annual=0.1, step_weeks=26)
    np.testing.assert_allclose(one, 1.1 ** (-26 / year) * p.expected_purchases(26, x, tx, T), rtol=1e-9)
    # 4-week steps, the last one shorter, from the public expected_purchases
    ends = [4, 8, 10]
    cum = [np.zeros(len(x))] + [p.expected_purchases(e, x, tx, T) for e in ends]
    want = sum(1.1 ** (-e / year) * (cum[i + 1] - cum[i]) for i, e in enumerate(ends))
    got = clv.discounted_purchases(p, x, tx, T, horizon_weeks=10, discount_rate_annual=0.1)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the CLV is that times the expected spend; the model's no-spend-model path uses the same
    np.testing.assert_allclose(clv.customer_lifetime_value(p, fit.gamma_gamma, x, tx, T, m, horizon_weeks=10),
                               fit.gamma_gamma.expected_spend(x, m) * want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model._discounted_orders(p, x, tx, T, 10, 0.1), want, rtol=1e-9, atol=1e-12)


def test_the_old_names_are_gone():
    from crmflow import segments_table, track_record
    from crmflow.i18n import TRANSLATIONS

    assert not hasattr(model.ClvFit, "bgnbd") and not hasattr(track_record, "purchase_model")
    assert not hasattr(segments_table, "PREDICTION_COLUMNS")
    assert set(segments_table.SHOWN_PREDICTION_COLUMNS) < set(model.PREDICTION_COLUMNS)
    for lang in ("en", "zh"):
        assert not {"seg_clv_note_regularised", "seg_clv_note_failed", "seg_clv_caption"} & set(TRANSLATIONS[lang])
