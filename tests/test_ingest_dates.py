"""Dates as real exports write them (issue 11, parts 1 and 6): mixed two- and
four-digit years in one column, month names (SAS, Oracle, US), ISO with a time,
YYYYMMDD HHMM, Chinese; dates outside 1900-01-01 .. today + 365 days are never
stored; an unknown form or a bad --date-format gets one clear message; the
day/month notes reach every command that reads a file.

Expected dates are worked out by hand (the two-digit-year pivot from
``date.today()``: 20yy, or 19yy when 20yy is more than 365 days after today)."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crmflow import cli, upload
from crmflow.errors import CrmflowError, MappingError
from crmflow.ingest import date_format_option
from crmflow.store import Store


def steady_today() -> date:
    """Today, read when it stays today for at least a minute more. These tests
    compare with the product's clock (DuckDB's current_date while the file is
    read), so they must not straddle midnight: a module-level date.today()
    taken at collection failed in a run that crossed it."""
    now = datetime.now()
    left = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time()) - now).total_seconds()
    if left < 60:
        time.sleep(left + 1)
    return date.today()


def write_csv(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mem():
    store = Store(in_memory=True)
    yield store
    store.close()


def ingest(store: Store, path: Path, *more: Path | None, name: str = "t", **kw):
    result = store.ingest(name, path, *more, **kw)
    return result, result.dataset.dataset_id


def stored(store: Store, sql: str, ds: int) -> list[tuple]:
    with store.db.cursor() as cur:
        return cur.execute(sql, {"ds": ds}).fetchall()


def order_dates(store: Store, ds: int) -> list[date]:
    return [r[0] for r in stored(store, "SELECT order_date FROM transactions WHERE dataset_id = $ds "
                                        "ORDER BY row_number", ds)]


def yy_pivot(d: date, today: date) -> date:
    """The stored date of d written with a two-digit year on ``today`` (hand rule of the docs)."""
    d20 = d.replace(year=2000 + d.year % 100)
    return d20 if d20 <= today + timedelta(days=365) else d.replace(year=1900 + d.year % 100)


# --------------------------------------------------------------------------- issue 1: mixed years
def test_mixed_two_and_four_digit_years_in_one_column(tmp_path, mem):
    # an Excel re-save: 5/7/03 next to 2/24/2003 (month first: 24 is a day)
    values = ["5/7/03", "2/24/2003", "12/31/99", "1/15/2024", "7/4/24", "10/1/1998"]
    path = write_csv(tmp_path / "mixed.csv", ["customer_id", "order_date", "amount"],
                     [[f"C{i}", v, "10"] for i, v in enumerate(values)])
    result, ds = ingest(mem, path)
    report = result.reports[0]
    assert report.rows_rejected == 0, report.rejected_examples
    assert order_dates(mem, ds) == [date(2003, 5, 7), date(2003, 2, 24), date(1999, 12, 31), date(2024, 1, 15),
                                    date(2024, 7, 4), date(1998, 10, 1)]
    assert report.date_formats["order_date"].startswith("%m/%d/")
    assert any(getattr(w, "key", "") == "dates_two_digit_years" and w.params["n"] == 3 for w in report.warnings)


def test_mixed_years_day_first_with_dots_and_dashes(tmp_path, mem):
    values = ["25.12.03", "01.02.2004", "3-4-05", "28/02/1999"]
    path = write_csv(tmp_path / "dmy.csv", ["customer_id", "order_date", "amount"],
                     [[f"C{i}", v, "1"] for i, v in enumerate(values)])
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0
    assert order_dates(mem, ds) == [date(2003, 12, 25), date(2004, 2, 1), date(2005, 4, 3), date(1999, 2, 28)]


@pytest.mark.parametrize("four_digit_rows", [1, 10])  # the column read as %m/%d/%y, then as %m/%d/%Y
def test_two_digit_year_pivot(tmp_path, mem, four_digit_rows):
    # 20yy unless that is more than 365 days after today, then 19yy
    today = steady_today()
    last_20 = today + timedelta(days=365)
    first_19 = today + timedelta(days=366)
    cases = [(date(2000, 1, 1), date(2000, 1, 1)), (date(1950, 6, 30), date(1950, 6, 30)),  # DuckDB's %y: 2050
             (date(1969, 6, 30), date(1969, 6, 30)), (date(2068, 12, 31), date(1968, 12, 31)),
             (last_20, last_20), (first_19, first_19.replace(year=first_19.year - 100))]
    rows = [[f"C{i}", f"{d.month}/{d.day}/{d.year % 100:02d}", "1"] for i, (d, _) in enumerate(cases)]
    rows += [["X", f"12/{13 + i}/2020", "1"] for i in range(four_digit_rows)]  # day above 12: month first
    path = write_csv(tmp_path / "pivot.csv", ["customer_id", "order_date", "amount"], rows)
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0, result.reports[0].rejected_examples
    assert result.reports[0].date_formats["order_date"] == ("%m/%d/%y" if four_digit_rows == 1 else "%m/%d/%Y")
    assert order_dates(mem, ds) == [want for _, want in cases] + [date(2020, 12, 13 + i)
                                                                  for i in range(four_digit_rows)]
    assert [yy_pivot(d, today) for d, _ in cases] == [want for _, want in cases]


# --------------------------------------------------------------------------- issue 6: other real forms
DATES = [date(2024, 1, 5), date(2009, 6, 14), date(2023, 12, 31), date(1999, 9, 30)]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FULL = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December"]
FORMS = {
    "sas-datetime": lambda d: f"{d.day:02d}{MONTHS[d.month - 1].upper()}{d.year % 100:02d}:17:58:34",
    "sas-date9": lambda d: f"{d.day:02d}{MONTHS[d.month - 1].upper()}{d.year}",
    "dd-mon-yyyy": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}",
    "oracle-dd-mon-yy": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1].upper()}-{d.year % 100:02d}",
    "d mon yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "d month yyyy lower": lambda d: f"{d.day} {FULL[d.month - 1].lower()} {d.year}",
    "mon d, yyyy": lambda d: f"\"{MONTHS[d.month - 1]} {d.day}, {d.year}\"",
    "MONTH d, yyyy": lambda d: f"\"{FULL[d.month - 1].upper()} {d.day}, {d.year}\"",
    "weekday, mon d, yyyy": lambda d: f"\"{d.strftime('%a')}, {MONTHS[d.month - 1]} {d.day}, {d.year}\"",
    "yyyy-mon-dd": lambda d: f"{d.year}-{MONTHS[d.month - 1]}-{d.day:02d}",
    "iso-t-z": lambda d: f"{d.isoformat()}T03:04:05Z",
    "iso-t-offset": lambda d: f"{d.isoformat()}T23:04:05+08:00",
    "iso-t-millis": lambda d: f"{d.isoformat()}T03:04:05.123",
    "yyyy/m/d": lambda d: f"{d.year}/{d.month}/{d.day}",
    "yyyymmdd hhmm": lambda d: f"{d:%Y%m%d} 0304",
    "yyyymmddThhmmss": lambda d: f"{d:%Y%m%d}T030405",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "chinese with time": lambda d: f"{d.year}年{d.month}月{d.day}日 10:30",
    "dd/mm/yyyy hh:mm": lambda d: f"{d:%d/%m/%Y} 17:58",
    "excel-serial": lambda d: str((d - date(1899, 12, 30)).days),
}


# the usual month-name layouts are read by one strptime per value (the fast path)
LAYOUTS = {"sas-datetime": "%d%b%y:%H:%M:%S", "sas-date9": "%d%b%Y", "dd-mon-yyyy": "%d-%b-%Y",
           "oracle-dd-mon-yy": "%d-%b-%y", "d mon yyyy": "%d %b %Y", "mon d, yyyy": "%b %d, %Y",
           "dd/mm/yyyy hh:mm": "%d/%m/%Y", "yyyy/m/d": "%Y-%m-%d", "yyyymmdd hhmm": "%Y%m%d", "excel-serial": "excel"}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_real_date_form(tmp_path, mem, form):
    rows = [[f"C{i}", FORMS[form](d), "10"] for i, d in enumerate(DATES)]
    path = write_csv(tmp_path / "forms.csv", ["customer_id", "order_date", "amount"], rows)
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0, result.reports[0].rejected_examples
    assert order_dates(mem, ds) == DATES
    if form in LAYOUTS:
        assert result.reports[0].date_formats == {"order_date": LAYOUTS[form]}


def test_mixed_month_name_layouts_take_the_commonest_layout(tmp_path, mem):
    # three SAS values (three shapes: JAN, FEB, MAR) against two of one DD-Mon-YYYY shape
    values = ["01JAN24:10:00:00", "02FEB24:11:00:00", "03MAR24:12:00:00", "5-Jan-2024", "6-Jan-2024"]
    path = write_csv(tmp_path / "m.csv", ["customer_id", "order_date", "amount"],
                     [[f"C{i}", v, "1"] for i, v in enumerate(values)])
    result, ds = ingest(mem, path)
    assert result.reports[0].date_formats == {"order_date": "%d%b%y:%H:%M:%S"}
    assert order_dates(mem, ds) == [date(2024, 1, 1), date(2024, 2, 2), date(2024, 3, 3), date(2024, 1, 5),
                                    date(2024, 1, 6)]


def test_ymd_order_reads_two_digit_years_first(tmp_path, mem):
    path = write_csv(tmp_path / "yymmdd.csv", ["customer_id", "order_date", "amount"],
                     [["A", "24-01-05", "1"], ["B", "23-12-31", "1"]])
    today = steady_today()
    _, ds = ingest(mem, path)
    assert order_dates(mem, ds) == [date(2005, 1, 24), date(2031, 12, 23) if date(2031, 12, 23) <= today +
                                    timedelta(days=365) else date(1931, 12, 23)]  # data: day first
    with Store(in_memory=True) as store:
        result, ds = ingest(store, path, date_preference="ymd")
        assert order_dates(store, ds) == [date(2024, 1, 5), date(2023, 12, 31)]
        assert result.reports[0].date_formats == {"order_date": "%y-%m-%d"}


def test_cheap_casts_agree_with_the_general_rules_on_new_forms(mem):
    values = [f(d).strip('"') for f in FORMS.values() for d in DATES] + [
        "5/7/03", "2/24/2003", "6/30/50", "12/31/68", "1/1/69", "0003-05-07", "2199-01-01", "5/7/0003", "Q1-2024",
        "31.02.24", "feb 30 2024", "13/13/2024", "2024-02-29", "2023-02-29", "", " 05-Jan-2024 ", "5/7/3", "05JAN9:10:00:00", "4-01-05",
        "5/7/203", " 5/7/03 ", "JAN 5, 24"]
    formats = ["%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y", "%y-%m-%d", "%d %b %Y",
               "%b %d, %Y", "%d.%m.%Y %H:%M", "%Y-%d-%m", "%d-%b-%y", "%d%b%y:%H:%M:%S", "%d%b%Y", "%d-%b-%Y",
               "excel"]
    with mem.db.cursor() as cur:
        mem.db.execute("macros", cur=cur)
        for fmt in formats:
            rows = cur.execute("SELECT v, crm_date(v, $fmt), crm_date_any(v, $fmt) FROM unnest($vals) AS t(v)",
                               {"vals": values, "fmt": fmt}).fetchall()
            for v, fast, rule in rows:
                assert fast == rule, (v, fmt, fast, rule)
        got = dict(cur.execute("SELECT v, crm_date(v, '%m/%d/%Y') FROM unnest($vals) AS t(v)",
                               {"vals": ["5/7/03", "5/7/0003", "feb 30 2024", "2024-02-29", "2023-02-29"]}).fetchall())
        assert got == {"5/7/03": date(2003, 5, 7), "5/7/0003": date(3, 5, 7), "feb 30 2024": None,
                       "2024-02-29": date(2024, 2, 29), "2023-02-29": None}


# --------------------------------------------------------------------------- plausible range
def test_dates_out_of_range_are_rejected_with_their_reason(tmp_path, mem):
    today = steady_today()
    too_late = today + timedelta(days=366)
    latest = today + timedelta(days=365)
    rows = [["A", "0003-05-07", "1"], ["B", "2199-01-01", "1"], ["C", "1899-12-31", "1"],
            ["D", too_late.isoformat(), "1"], ["E", "1900-01-01", "1"], ["F", latest.isoformat(), "1"],
            ["G", "2024-01-05", "1"]]
    path = write_csv(tmp_path / "range.csv", ["customer_id", "order_date", "amount"], rows)
    result, ds = ingest(mem, path)
    report = result.reports[0]
    assert report.rejected_by_reason == {"order date is out of range": 4}
    assert (report.rows_loaded, report.rows_rejected) == (3, 4)
    assert order_dates(mem, ds) == [date(1900, 1, 1), latest, date(2024, 1, 5)]
    raws = {ex["row_number"]: ex["raw"] for ex in report.rejected_examples}
    assert "order_date=0003-05-07" in raws[1] and "order_date=2199-01-01" in raws[2]
    assert not stored(mem, "SELECT 1 FROM transactions WHERE dataset_id = $ds AND "
                           "(order_date < DATE '1900-01-01' OR order_date > current_date + 365)", ds)
    assert upload.reason_label("order date is out of range", "zh").startswith("下单日期超出合理范围")


def test_interaction_date_out_of_range_is_rejected(tmp_path, mem):
    tx = write_csv(tmp_path / "t.csv", ["customer_id", "order_date", "amount"], [["A", "2024-01-05", "1"]])
    ix = write_csv(tmp_path / "i.csv", ["customer_id", "date", "type"],
                   [["A", "2024-02-01", "call"], ["A", "2199-02-01", "visit"], ["A", "0003-05-07", "email"]])
    result, ds = ingest(mem, tx, None, ix)
    report = result.reports[1]
    assert report.rejected_by_reason == {"date is out of range": 2}
    assert stored(mem, "SELECT date, type FROM interactions WHERE dataset_id = $ds", ds) == [(date(2024, 2, 1), "call")]
    assert upload.reason_label("date is out of range", "en").startswith("date is out of range")


def test_optional_dates_out_of_range_are_left_empty_and_counted(tmp_path, mem):
    tx = write_csv(tmp_path / "t.csv", ["customer_id", "order_date", "amount", "due_date", "paid_date"],
                   [["A", "2024-01-05", "1", "2199-01-01", "1800-01-01"],
                    ["B", "2024-01-06", "1", "2024-02-05", "2024-02-01"]])
    cu = write_csv(tmp_path / "c.csv", ["customer_id", "created_at"], [["A", "0003-01-01"], ["B", "2023-05-01"]])
    result, ds = ingest(mem, tx, cu)
    tr, cr = result.reports
    assert tr.rows_rejected == 0 and cr.rows_rejected == 0
    assert stored(mem, "SELECT customer_id, due_date, paid_date FROM transactions WHERE dataset_id = $ds "
                       "ORDER BY customer_id", ds) == [("A", None, None), ("B", date(2024, 2, 5), date(2024, 2, 1))]
    assert stored(mem, "SELECT customer_id, created_at FROM customers WHERE dataset_id = $ds ORDER BY customer_id",
                  ds) == [("A", None), ("B", date(2023, 5, 1))]
    assert [w.params["n"] for w in tr.warnings if getattr(w, "key", "") == "bad_optional"] == [1]
    assert [w.params["n"] for w in cr.warnings if getattr(w, "key", "") == "bad_optional"] == [1]


# --------------------------------------------------------------------------- unknown forms
@pytest.mark.parametrize("values", [["Q1-2024", "Q2-2024", "Q3-2024", "Q4-2024"],
                                    ["31.02.xx", "30.02.xx", "29.02.xx"],
                                    ["31.02.24", "30.02.24", "31.04.24"]])
def test_unknown_date_form_gets_one_message_with_examples(tmp_path, mem, values):
    path = write_csv(tmp_path / "q.csv", ["customer_id", "Period", "amount"],
                     [[f"C{i}", v, "1"] for i, v in enumerate(values)])
    with pytest.raises(MappingError) as info:
        ingest(mem, path, overrides={"transactions": {"order_date": "Period"}})
    exc = info.value
    assert exc.key == "date_form_unknown"
    shown = sorted(values)[:3]
    assert all(f'"{v}"' in exc.message for v in shown), exc.message
    assert all(f'"{v}"' not in exc.message for v in sorted(values)[3:])
    assert '"Period"' in exc.message and "order_date" in exc.message and "q.csv" in exc.message
    assert "--date-format '%d.%m.%Y'" in exc.hint
    page_zh = exc.localized("zh")
    assert "日月顺序" in page_zh and "--" not in page_zh and f'"{shown[0]}"' in page_zh
    assert "Day and month order" in exc.localized("en") and "--date-format" not in exc.localized("en")
    assert mem.names() == []


def test_unknown_interaction_date_form_names_the_interactions_file(tmp_path, mem):
    tx = write_csv(tmp_path / "t.csv", ["customer_id", "order_date", "amount"], [["A", "2024-01-05", "1"]])
    ix = write_csv(tmp_path / "visits.csv", ["customer_id", "date", "type"],
                   [["A", "week 3", "call"], ["A", "week\u00a04", "visit"]])
    with pytest.raises(MappingError) as info:
        ingest(mem, tx, None, ix)
    assert info.value.key == "date_form_unknown"
    assert 'interactions file visits.csv' in info.value.message and '"week 3", "week 4"' in info.value.message


def test_unknown_form_read_with_a_pattern(tmp_path, mem):
    path = write_csv(tmp_path / "p.csv", ["customer_id", "order_date", "amount"],
                     [["A", "D05M01Y2024", "1"], ["B", "D31M12Y2023", "1"], ["C", "2024-03-01", "1"]])
    result, _ = ingest(mem, path)
    assert result.reports[0].rejected_by_reason == {"order date is not a date": 2}
    result, ds = ingest(mem, path, name="p", date_preference="D%dM%mY%Y")
    assert result.reports[0].rows_rejected == 0
    assert order_dates(mem, ds) == [date(2024, 1, 5), date(2023, 12, 31), date(2024, 3, 1)]  # ISO still read


def test_a_pattern_comes_before_the_automatic_reading(tmp_path, mem):
    # year-day-month, which the automatic rules read as year-month-day
    path = write_csv(tmp_path / "ydm.csv", ["customer_id", "order_date", "amount"],
                     [["A", "2024-05-01", "1"], ["B", "2024-13-02", "1"]])
    result, ds = ingest(mem, path, date_preference="%Y-%d-%m")
    assert result.reports[0].date_formats == {"order_date": "%Y-%d-%m"}
    assert order_dates(mem, ds) == [date(2024, 1, 5), date(2024, 2, 13)]


# --------------------------------------------------------------------------- --date-format
@pytest.mark.parametrize("text, expected", [("dmy", "dmy"), ("MDY", "mdy"), ("ymd", "ymd"), (None, None),
                                            ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M"), ("%d-%b-%y", "%d-%b-%y"),
                                            ("%-d/%-m/%Y", "%-d/%-m/%Y")])
def test_date_format_option_accepts_orders_and_patterns(text, expected):
    assert date_format_option(text) == expected


@pytest.mark.parametrize("text", ["dym", "%Q.%m.%Y", "%d.%m", "%Y-%m", "dd.mm.yyyy", "%d.%m.%Y%", "%d-%-b-%Y"])
def test_date_format_option_refuses_anything_else(text):
    with pytest.raises(CrmflowError) as info:
        date_format_option(text)
    assert info.value.key == "date_format_invalid"
    assert repr(text) in info.value.message and "dmy, mdy or ymd" in info.value.hint


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


AMBIGUOUS = [["A", "05.01.2024 10:00", "1"], ["B", "03.02.2024 09:30", "2"], ["A", "04.06.2024 17:00", "3"]]


def test_date_format_pattern_on_the_command_line(tmp_path, capsys):
    path = write_csv(tmp_path / "dots.csv", ["customer_id", "order_date", "amount"], AMBIGUOUS)
    code, out, err = run_cli(capsys, "stages", path, "--date-format", "%d.%m.%Y %H:%M")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2024-06-04"  # 04.06.2024 read day first
    assert "day-first or month-first" not in err
    code, out, err = run_cli(capsys, "stages", path)
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2024-05-01"  # the default: month first


def test_a_bad_pattern_is_one_clear_line(tmp_path, capsys):
    path = write_csv(tmp_path / "dots.csv", ["customer_id", "order_date", "amount"], AMBIGUOUS)
    code, out, err = run_cli(capsys, "stages", path, "--date-format", "%d.%m")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and "'%d.%m' is not a date format" in lines[0] and "'%d.%m.%Y'" in lines[0], err


@pytest.mark.parametrize("command", ["stages", "rfm", "ingest"])
def test_ambiguity_note_is_printed_by_every_command_that_reads_a_file(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "db.duckdb"))
    path = write_csv(tmp_path / "amb.csv", ["customer_id", "order_date", "amount"], AMBIGUOUS)
    extra = ["--name", "x"] if command == "ingest" else []
    code, out, err = run_cli(capsys, command, path, *extra)
    assert code == 0, err
    assert "day-first or month-first" in err + out and "--date-format dmy" in err + out
    if command != "ingest":
        assert "crmflow: note: transactions: order_date: every date could be day-first or month-first" in err


def test_unknown_form_on_the_command_line(tmp_path, capsys):
    path = write_csv(tmp_path / "q.csv", ["customer_id", "order_date", "amount"],
                     [["A", "Q1-2024", "1"], ["B", "Q2-2024", "1"]])
    code, out, err = run_cli(capsys, "stages", path)
    assert code == 2 and len(err.splitlines()) == 1
    assert '"Q1-2024", "Q2-2024"' in err and "--date-format '%d.%m.%Y'" in err


# --------------------------------------------------------------------------- the Data page
def test_data_page_date_order_keeps_working(tmp_path, mem):
    # the page's choices (pages/data.py DATE_ORDERS: auto, dmy, mdy) go to upload.check / upload.save
    path = write_csv(tmp_path / "amb.csv", ["customer_id", "order_date", "amount"],
                     [["A", "05/01/03", "1"], ["B", "03/02/2004", "2"]])
    preview = upload.inspect_file(path, "transactions")
    plan = upload.plan(preview, upload.default_choices(preview))
    expected = {"auto": [date(2003, 5, 1), date(2004, 3, 2)], "mdy": [date(2003, 5, 1), date(2004, 3, 2)],
                "dmy": [date(2003, 1, 5), date(2004, 2, 3)]}
    for order, dates in expected.items():
        preference = None if order == "auto" else order
        assert upload.check([plan], preference).rows_rejected == 0
        saved = upload.save(mem, order, [plan], date_preference=preference)
        assert order_dates(mem, saved.dataset.dataset_id) == dates
    assert upload.date_format_label("%d %b %Y") == "DD MON YYYY"
    assert upload.date_format_label("%d.%m.%Y %H:%M") == "DD.MM.YYYY hh:mm"
