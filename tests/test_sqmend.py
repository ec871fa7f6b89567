"""The reviewer's findings on the Servqual view (issue 17 part 2), each with a
case worked out by hand: the score scale, the worst quarter, the interval of
the difference of lost shares, filters on an anonymous survey, wide headers."""

from __future__ import annotations

from crmflow import servqual
from crmflow.store import load_file_dataset

TX = "customer_id,order_date,amount\nA,2024-01-05,100\n"


def ingest(tmp_path, surveys_text: str):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(surveys_text, encoding="utf-8")
    return load_file_dataset(tmp_path / "t.csv", surveys=tmp_path / "s.csv")


def survey_report(result):
    return next(r for r in result.reports if r.table == "surveys")


def scale_note(report):
    return next(w for w in report.warnings if getattr(w, "key", "").startswith("survey_scale"))


# =========================================================================== 1. the score scale
def test_one_to_seven_with_few_top_scores_keeps_them(tmp_path):
    # 200 answers scored 1-5 and two answers of 6 and 7: 1-7 (the old rule read 1-5, 400 of
    # 404 scores fitting it, and rejected the two best answers)
    rows = ["date,item,expectation,perception"]
    rows += [f"2024-01-{(i % 28) + 1:02d},Q{(i % 22) + 1},{(i % 5) + 1},{((i + 2) % 5) + 1}" for i in range(200)]
    rows += ["2024-02-01,Q1,7,6", "2024-02-02,Q2,6,7"]
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 202 and report.rows_rejected == 0
        assert scale_note(report).key == "survey_scale" and scale_note(report).params["top"] == 7
        assert servqual.coverage(store.db, result.dataset.dataset_id)["scale_max"] == 7


def test_zero_to_ten_keeps_eight_to_ten_and_zero(tmp_path):
    rows = ["date,item,expectation,perception",
            "2024-01-01,Q1,10,8", "2024-01-02,Q2,9,0", "2024-01-03,Q3,8,10", "2024-01-04,Q4,5,3",
            "2024-01-05,Q5,12,4"]  # above 10: out of scale
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 4 and report.rows_rejected == 1
        assert report.rejected_by_reason == {"expectation score is outside the scale": 1}
        note = scale_note(report)
        assert note.key == "survey_scale_zero" and note.params["top"] == 10
        items = servqual.coverage(store.db, result.dataset.dataset_id)
        assert items["answers"] == 4 and items["scale_max"] == 10


def test_plain_one_to_five(tmp_path):
    rows = ["date,item,expectation,perception",
            "2024-01-01,Q1,5,4", "2024-01-02,Q2,1,3", "2024-01-03,Q3,4,5", "2024-01-04,Q4,2,2",
            "2024-01-05,Q5,0.5,4"]  # below 1 on a 1-5 scale (0.5 is not 0: no 0-10 scale)
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 4 and report.rejected_by_reason == {"expectation score is outside the scale": 1}
        assert scale_note(report).key == "survey_scale" and scale_note(report).params["top"] == 5
