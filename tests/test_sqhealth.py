"""Issue 17 part 2, Servqual gaps against key-account health: the worst quarter
of the reliability gap against the other surveyed key accounts (scores from
crmflow.health.account_health, the comparison worked out independently with
pandas and scipy's Welch t-test), the case without enough key accounts and what
unlocks it, the command line's JSON, the report bullet, and the Chinese words."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from crmflow import servqual
from crmflow.health import account_health
from crmflow.i18n import t
from crmflow.store import load_file_dataset

ROOT = Path(__file__).resolve().parent.parent
D = date(2024, 12, 31)
# reliability (Q5) perception per account; expectation 6 for all -> gap = perception - 6
PERCEPTION = {"K1": 2, "K2": 3, "K3": 5, "K4": 6, "K5": 6, "K6": 7, "K7": 6, "K8": 5, "N": 1, "X": 1}


def fixture_files(tmp_path: Path, flagged: bool = True) -> dict[str, Path]:
    """Eight key accounts K1-K8 that bought monthly from January; K1 and K2 stop in
    March and April (low recency, falling trends), K3 in September, the others
    buy to the end with different amounts. N is flagged but never bought (no
    score); X is surveyed but no key account. Reliability gaps: K1 -4, K2 -3,
    K3 -1, K8 -1, K4 K5 K7 0, K6 +1 (N and X -5, out of the comparison)."""
    last = {"K1": 3, "K2": 4, "K3": 9, "K4": 12, "K5": 12, "K6": 12, "K7": 11, "K8": 10}
    tx = ["customer_id,order_date,amount"]
    for i, (cid, stop) in enumerate(last.items(), start=1):
        for month in range(1, stop + 1):
            tx.append(f"{cid},2024-{month:02d}-15,{100 * i + 10 * month}")
    tx.append("X,2024-06-01,5")
    flag = "yes" if flagged else "no"
    cs = ["customer_id,name,created_at,is_key_account"]
    cs += [f"{c},{c},2023-01-01,{flag}" for c in [*last, "N"]]
    cs.append("X,X,2023-01-01,no")
    sv = ["customer_id,date,item,expectation,perception"]
    for cid, p in PERCEPTION.items():
        sv.append(f"{cid},2024-06-01,Q5,6,{p}")
        sv.append(f"{cid},2024-06-01,Q1,6,6")
    sv.append(",2024-06-01,Q5,6,1")  # anonymous: in the gaps, not in the comparison
    files = {"t": tmp_path / "t.csv", "c": tmp_path / "c.csv", "s": tmp_path / "s.csv"}
    for key, lines in (("t", tx), ("c", cs), ("s", sv)):
        files[key].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def expected_comparison(db, ds) -> dict[str, float]:
    """The comparison worked out with plain pandas and scipy from the page's scores."""
    scores = account_health(db, ds, D).set_index("customer_id")["health_score"].dropna()
    gaps = pd.Series({c: p - 6.0 for c, p in PERCEPTION.items()})
    gaps = gaps[gaps.index.isin(scores.index)]
    # sorted gaps [-4, -3, -1, -1, 0, 0, 0, 1]: the worst ceil(8/4) = 2 are K1 and K2, the larger gap -3
    assert sorted(gaps.index) == [f"K{i}" for i in range(1, 9)]
    cut = -3.0
    worst = scores.reindex(["K1", "K2"]).to_numpy()
    rest = scores.reindex(["K3", "K4", "K5", "K6", "K7", "K8"]).to_numpy()
    welch = stats.ttest_ind(worst, rest, equal_var=False)
    ci = welch.confidence_interval(0.95)
    return {"cut": cut, "worst_mean": worst.mean(), "rest_mean": rest.mean(),
            "difference": worst.mean() - rest.mean(), "ci_low": ci.low, "ci_high": ci.high, "p": welch.pvalue}


def test_health_relation_by_hand(tmp_path):
    f = fixture_files(tmp_path)
    store, result = load_file_dataset(f["t"], customers=f["c"], surveys=f["s"])
    with store:
        ds = result.dataset.dataset_id
        want = expected_comparison(store.db, ds)
        scores = account_health(store.db, ds, D).set_index("customer_id")["health_score"]
        assert pd.isna(scores["N"]) and "X" not in scores.index
        assert scores[["K1", "K2"]].max() < scores[["K4", "K5", "K6"]].min()  # the fixture's premise
        view = servqual.servqual_view(store.db, ds, D)
        rel = view.health
        assert rel is not None and rel.dimension == "reliability"
        assert rel.accounts == 8 and rel.cut == pytest.approx(want["cut"])
        assert (rel.worst_accounts, rel.rest_accounts) == (2, 6)
        assert rel.worst_mean == pytest.approx(want["worst_mean"])
        assert rel.rest_mean == pytest.approx(want["rest_mean"])
        assert rel.difference == pytest.approx(want["difference"]) and rel.difference < 0
        assert rel.ci_low == pytest.approx(want["ci_low"]) and rel.ci_high == pytest.approx(want["ci_high"])
        assert rel.p_value == pytest.approx(want["p"])
        assert rel.meaningful == (want["p"] < 0.05)
        en = servqual.health_sentence(rel, "en")
        assert f"{want['worst_mean']:.1f}" in en and f"{want['rest_mean']:.1f}" in en
        assert f"{abs(want['difference']):.1f} points" in en
        assert ("unlikely to be chance" in en) == rel.meaningful
        zh = servqual.health_sentence(rel, "zh")
        assert "可靠性" in zh and "大客户" in zh
        assert not re.search(r"[A-Za-z]{2,}", zh), zh  # no English words (the only Latin letters: p, t)
        table = servqual.health_table(rel, "zh")
        assert list(table.columns) == ["受访客户", "大客户数", "平均健康度"]
        assert table["平均健康度"].tolist() == pytest.approx([want["worst_mean"], want["rest_mean"]])
        # tangibles: every gap 0, no worst quarter -> None, and the reason says the gaps do not differ
        tangibles = servqual.servqual_view(store.db, ds, D, dimension="tangibles")
        assert tangibles.health is None and tangibles.health_reason == "equal_gaps"


def test_compare_scores_by_hand():
    scores = pd.Series([40.0, 50.0, 60.0, 70.0, 80.0, 75.0, 90.0])
    worst = pd.Series([True, True, True, False, False, False, False])
    diff, low, high, p = servqual.compare_scores(scores, worst)
    # Welch by hand: means 50 and 78.75, variances 100 and 72.9167
    m1, m2, v1, v2, n1, n2 = 50.0, 78.75, 100.0, 218.75 / 3, 3, 4
    se = (v1 / n1 + v2 / n2) ** 0.5
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    assert diff == pytest.approx(m1 - m2)
    assert p == pytest.approx(2 * stats.t.sf(abs(m1 - m2) / se, df))
    half = stats.t.ppf(0.975, df) * se
    assert low == pytest.approx(m1 - m2 - half) and high == pytest.approx(m1 - m2 + half)


def test_without_key_accounts_there_is_no_comparison_and_the_reason_says_what_unlocks_it(tmp_path):
    # nothing flagged: key accounts by revenue (top 80%) -> fewer than MIN_ACCOUNTS surveyed ones
    f = fixture_files(tmp_path, flagged=False)
    store, result = load_file_dataset(f["t"], customers=f["c"], surveys=f["s"])
    with store:
        ds = result.dataset.dataset_id
        surveyed_key = set(account_health(store.db, ds, D)["customer_id"]) & set(PERCEPTION)
        assert len(surveyed_key) < servqual.MIN_ACCOUNTS
        view = servqual.servqual_view(store.db, ds, D)
        assert view.health is None
    en = servqual.health_sentence(None, "en")
    assert en == t("sqh_none", "en", n=servqual.MIN_ACCOUNTS)
    assert "is_key_account" in en and "customer id" in en and str(servqual.MIN_ACCOUNTS) in en
    zh = servqual.health_sentence(None, "zh")
    assert "客户表" in zh and "客户编号" in zh
    assert not re.search(r"[A-Za-z]{2,}", zh), zh


def test_without_customer_ids_there_is_no_comparison(tmp_path):
    f = fixture_files(tmp_path)
    f["s"].write_text("date,item,expectation,perception\n2024-06-01,Q5,6,4\n", encoding="utf-8")
    store, result = load_file_dataset(f["t"], customers=f["c"], surveys=f["s"])
    with store:
        assert servqual.servqual_view(store.db, result.dataset.dataset_id, D).health is None


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crmflow", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_servqual_json_has_the_health_comparison(tmp_path):
    f = fixture_files(tmp_path)
    done = cli("servqual", str(f["t"]), "--customers", str(f["c"]), "--surveys", str(f["s"]), "--lang", "zh",
               "--as-of", D.isoformat())
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    store, result = load_file_dataset(f["t"], customers=f["c"], surveys=f["s"])
    with store:
        want = expected_comparison(store.db, result.dataset.dataset_id)
        rel = servqual.servqual_view(store.db, result.dataset.dataset_id, D).health
    h = doc["health"]
    assert set(h) == {"dimension", "accounts", "cut", "worst_accounts", "worst_mean", "rest_accounts", "rest_mean",
                      "difference", "ci_low", "ci_high", "p_value", "method", "meaningful"}
    assert h["accounts"] == 8 and h["worst_accounts"] == 2 and h["rest_accounts"] == 6 and h["method"] == "welch"
    assert h["worst_mean"] == pytest.approx(round(want["worst_mean"], 4))
    assert h["difference"] == pytest.approx(round(want["difference"], 4))
    assert h["p_value"] == pytest.approx(round(want["p"], 4))
    assert doc["health_text"] == servqual.health_sentence(rel, "zh")
    # without customers flagged as key accounts: null and the reason
    plain = tmp_path / "plain"
    plain.mkdir()
    g = fixture_files(plain, flagged=False)
    done = cli("servqual", str(g["t"]), "--customers", str(g["c"]), "--surveys", str(g["s"]), "--as-of", D.isoformat())
    doc = json.loads(done.stdout)
    assert doc["health"] is None and doc["health_text"] == t("sqh_none", "en", n=servqual.MIN_ACCOUNTS)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_slide_has_the_health_bullet(tmp_path, lang):
    from crmflow import report

    f = fixture_files(tmp_path)
    store, result = load_file_dataset(f["t"], customers=f["c"], surveys=f["s"])
    with store:
        ds = result.dataset.dataset_id
        view = servqual.servqual_view(store.db, ds, D)
        slide = report.build_slide(store.db, ds, "servqual", D, lang=lang)
        assert slide.bullets == (servqual.churn_sentence(view.churn, lang), servqual.health_sentence(view.health, lang))
