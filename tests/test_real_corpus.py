"""Issue 11, "a real corpus, in the tests": real public sales exports (tests/data/real,
provenance in the README there) read by the product as a user would, through the
command line entry point, and checked against an independent reading in plain pandas.

The oracle (the read_* and oracle_* functions) uses pandas only, nothing of crmflow. For each file it reads the bytes with the
encoding, separator, sheet and date format that file really has (written out by hand
here), then applies SPEC §1/§2 itself:

- an order is a distinct order id among rows with amount > 0 (a distinct customer-day
  when the file has no order id); only rows dated <= D count;
- lines that are cancelled (a status saying so) are neither orders nor revenue; a UCI
  invoice number starting with "C" is a credit note: its negative quantity makes it a
  return (amount <= 0: in revenue, never an order), which nets out the line it cancels;
- amount = quantity x unit price when the file has no amount column;
- customer ids written as floats (12346.0) are the id "12346"; rows without a customer
  id are no customer's;
- stage at D: lost if more than 180 days since the last order, loyal with >= 4 orders
  in (D - 365, D], repeat with >= 2 orders, first with 1 (no customers file here, so
  nobody is potential);
- RFM at D: recency = days since the last order, frequency = orders, monetary = sum of
  amount (returns included).

Each file is compared at two dates (its last order date and 365 days earlier, or the
middle of its history when that is shorter) on the stage counts, exactly, and on
recency / frequency / monetary (to 0.01) of 20 sampled customers. A file that fails
today because a feature is missing (most of them issue 11's) is marked
xfail(strict=True) with that feature; the marks go as the features land. A file whose right
answer is one clear error (SPEC §1: "a file that cannot be used at all gets one clear
message") is tested for that error.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from crmflow import upload
from crmflow.cli import main
from crmflow.errors import CrmflowError

REAL = Path(__file__).parent / "data" / "real"

LOST_AFTER_DAYS = 180
LOYAL_ORDERS = 4
LOYAL_WINDOW_DAYS = 365
SAMPLE_CUSTOMERS = 20
STAGES = ["potential", "first", "repeat", "loyal", "lost"]


# --------------------------------------------------------------------------- oracle
# Every reader returns one row per file line with the columns
#   customer (str, or None when the line has none), day (datetime64, midnight),
#   order (str, or None when the file has no order id), amount (float),
#   cancelled (bool)

def _tidy(customer, day, order, amount, cancelled) -> pd.DataFrame:
    df = pd.DataFrame({
        "customer": customer,
        "day": pd.to_datetime(day).dt.normalize(),
        "order": order,
        "amount": pd.to_numeric(amount).astype(float),
        "cancelled": cancelled,
    })
    df["customer"] = df["customer"].where(df["customer"].notna(), None)
    return df


def _float_ids(series: pd.Series) -> pd.Series:
    """Ids stored as floats (12346.0) are the text id "12346"; a missing id stays missing."""
    return series.map(lambda v: None if pd.isna(v) else str(int(v)))


def read_kaggle_sales_data_sample(path: Path) -> pd.DataFrame:
    # Kaggle "Sample Sales Data": DOS code page 850 bytes (0x84 = ä in "Berguvsvägen", 0xA4 = ñ),
    # CRLF, US dates with two-digit years "02/24/03" (this copy was saved for an Oracle load),
    # a STATUS column with "Cancelled"
    df = pd.read_csv(path, encoding="cp850", dtype=str)
    assert len(df.columns) == 25 and df["ADDRESSLINE1"].str.contains("Berguvsvägen").any()
    return _tidy(df["CUSTOMERNAME"], pd.to_datetime(df["ORDERDATE"], format="%m/%d/%y"),
                 df["ORDERNUMBER"], df["SALES"], df["STATUS"].eq("Cancelled"))


def read_kaggle_sales_data_sample_utf8(path: Path) -> pd.DataFrame:
    # the same Kaggle file as most copies carry it: re-saved as UTF-8 after being read with the
    # wrong code pages (mojibake "CataluÂ¤a"), LF, four-digit years with a time "2/24/2003 0:00"
    df = pd.read_csv(path, encoding="utf-8", dtype=str)
    assert df["ADDRESSLINE1"].str.contains("CataluÂ¤a").any()
    return _tidy(df["CUSTOMERNAME"], pd.to_datetime(df["ORDERDATE"], format="%m/%d/%Y %H:%M"),
                 df["ORDERNUMBER"], df["SALES"], df["STATUS"].eq("Cancelled"))


def read_superstore_xlsx(path: Path) -> pd.DataFrame:
    # Tableau Sample Superstore: the transactions are on sheet "Orders" (also "Returns", "People")
    df = pd.read_excel(path, sheet_name="Orders", dtype={"Customer ID": str, "Order ID": str})
    return _tidy(df["Customer ID"], df["Order Date"], df["Order ID"], df["Sales"], False)


def read_superstore_csv(path: Path) -> pd.DataFrame:
    # the same shop saved as UTF-8 CSV with every field quoted, dates "11/8/2016"
    df = pd.read_csv(path, encoding="utf-8", dtype=str)
    return _tidy(df["Customer ID"], pd.to_datetime(df["Order Date"], format="%m/%d/%Y"),
                 df["Order ID"], df["Sales"], False)


def read_superstore_cp1252_dmy(path: Path) -> pd.DataFrame:
    # an older Superstore edition (years 2011-2014, some German customer names) saved by a
    # European Excel: Windows-1252 bytes (0x94 = ” in product names, 0xF6 = ö in customer
    # names), CRLF, dates day first
    df = pd.read_csv(path, encoding="cp1252", dtype=str)
    assert df["Customer Name"].str.contains("ö").any() and df["Product Name"].str.contains("”").any()
    return _tidy(df["Customer ID"], pd.to_datetime(df["Order Date"], format="%d/%m/%Y"),
                 df["Order ID"], df["Sales"], False)


def read_retail_data_transactions(path: Path) -> pd.DataFrame:
    # Kaggle retail case: customer_id, trans_date "11-Feb-17", tran_amount; no order id
    df = pd.read_csv(path, encoding="ascii", dtype=str)
    return _tidy(df["customer_id"], pd.to_datetime(df["trans_date"], format="%d-%b-%y"),
                 None, df["tran_amount"], False)


def read_online_retail_ii(path: Path) -> pd.DataFrame:
    # UCI Online Retail II: one sheet per year, the same header on each; no amount column
    sheets = pd.read_excel(path, sheet_name=None, dtype={"Invoice": str})
    assert list(sheets) == ["Year 2009-2010", "Year 2010-2011"]
    df = pd.concat(sheets.values(), ignore_index=True)
    invoice = df["Invoice"].astype(str)
    return _tidy(_float_ids(df["Customer ID"]), df["InvoiceDate"], invoice,
                 df["Quantity"] * df["Price"], False)


def read_online_retail_2011_pivots(path: Path) -> pd.DataFrame:
    # UCI Online Retail (2011 part) with a TotalPrice column, then a sheet of pivot tables
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets)[0] == "sales_data" and len(sheets) > 1
    df = sheets["sales_data"]
    invoice = df["InvoiceNo"].astype(str)
    return _tidy(_float_ids(df["CustomerID"]), df["InvoiceDate"], invoice, df["TotalPrice"],
                 False)


def read_uci_online_retail_parquet(path: Path) -> pd.DataFrame:
    # UCI Online Retail saved by pandas to Parquet: CustomerID is a double, InvoiceNo text with
    # "C..." credit notes (negative quantities: returns), no amount column
    df = pd.read_parquet(path)
    assert str(df["CustomerID"].dtype) == "float64"
    invoice = df["InvoiceNo"].astype(str)
    return _tidy(_float_ids(df["CustomerID"]), df["InvoiceDate"], invoice,
                 df["Quantity"] * df["UnitPrice"], False)


def read_chaoyang_hospital_pharmacy(path: Path) -> pd.DataFrame:
    # a Beijing hospital pharmacy's 2018 sales, a common Chinese teaching file: one sheet,
    # 购药时间 "2018-01-01 星期五" (date then weekday), 社保卡号 masked card numbers
    # "*******528" as the customer, 实收金额 = money received (应收金额 = list price), negative
    # quantities are returns; a few lines have no date, 23 lines are dated 2018-02-29 (a day
    # that does not exist: unparseable, so rejected like a missing date), and one empty line with
    # three more sales below it
    df = pd.read_excel(path, sheet_name="Sheet1", dtype={"社保卡号": str})
    day = pd.to_datetime(df["购药时间"].str[:10], format="%Y-%m-%d", errors="coerce")
    assert set(df.loc[day.isna(), "购药时间"].dropna().str[:10]) == {"2018-02-29"}
    assert df["购药时间"].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2} 星期[一二三四五六日]").all()
    return _tidy(df["社保卡号"], day, None, df["实收金额"], False)


def oracle_orders(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per order dated <= as_of: customer, order key, day."""
    live = lines[lines["customer"].notna() & ~lines["cancelled"] & (lines["day"] <= as_of)]
    positive = live[live["amount"] > 0]
    if positive["order"].notna().all() and len(positive):
        key = positive["order"]
    else:  # no order id: a customer-day is an order
        key = positive["day"].dt.strftime("%Y-%m-%d")
    orders = (positive.assign(key=key).groupby(["customer", "key"], as_index=False)["day"].min())
    return orders


def oracle_two_dates(lines: pd.DataFrame) -> list[pd.Timestamp]:
    """The last order day, and a year before it (the middle of the history when it is shorter)."""
    days = oracle_orders(lines, pd.Timestamp.max)["day"]
    last, first = days.max(), days.min()
    earlier = last - pd.Timedelta(days=365)
    if earlier < first:
        earlier = (first + (last - first) / 2).normalize()
    return [last, earlier]


def oracle_rfm(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    orders = oracle_orders(lines, as_of)
    live = lines[lines["customer"].notna() & ~lines["cancelled"] & (lines["day"] <= as_of)]
    revenue = live.groupby("customer")["amount"].sum()
    per = orders.groupby("customer").agg(last=("day", "max"), frequency=("key", "size"))
    window_start = as_of - pd.Timedelta(days=LOYAL_WINDOW_DAYS)
    per["in_window"] = orders[orders["day"] > window_start].groupby("customer").size()
    per["in_window"] = per["in_window"].fillna(0).astype(int)
    per["recency_days"] = (as_of - per["last"]).dt.days
    per["monetary"] = revenue.reindex(per.index)
    return per


def oracle_stage_counts(lines: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, int]:
    per = oracle_rfm(lines, as_of)
    stage = pd.Series("first", index=per.index)
    stage[per["frequency"] >= 2] = "repeat"
    stage[per["in_window"] >= LOYAL_ORDERS] = "loyal"
    stage[per["recency_days"] > LOST_AFTER_DAYS] = "lost"
    counts = stage.value_counts()
    return {s: int(counts.get(s, 0)) for s in STAGES}


# --------------------------------------------------------------------------- the product
def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def product_stages(capsys, path: Path, as_of: date, extra: list[str]) -> dict[str, int]:
    code, out, err = run_cli(capsys, "stages", str(path), "--as-of", as_of.isoformat(), *extra)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["as_of"] == as_of.isoformat()
    return doc["counts"]


def product_rfm(capsys, path: Path, as_of: date, extra: list[str]) -> dict[str, dict]:
    code, out, err = run_cli(capsys, "rfm", str(path), "--as-of", as_of.isoformat(), *extra)
    assert code == 0, err
    return {str(row["customer_id"]): row for row in json.loads(out)}


# --------------------------------------------------------------------------- the corpus
@dataclass
class Case:
    file: str
    read: Callable[[Path], pd.DataFrame]
    args: list[str] = field(default_factory=list)  # what a user types besides FILE and --as-of
    needs: str | None = None  # the missing feature it waits for (xfail until it lands)


CASES = [
    Case("kaggle_sales_data_sample_cp850.csv", read_kaggle_sales_data_sample),
    Case("kaggle_sales_data_sample_utf8.csv", read_kaggle_sales_data_sample_utf8),
    Case("tableau_superstore_3sheets.xlsx", read_superstore_xlsx),
    Case("superstore_quoted_utf8.csv", read_superstore_csv),
    Case("superstore_cp1252_dmy.csv", read_superstore_cp1252_dmy),
    Case("retail_data_transactions.csv", read_retail_data_transactions),
    Case("online_retail_ii_2sheets.xlsx", read_online_retail_ii),
    # the file has a ready TotalPrice column: the product's own error message tells the user
    # to say which column holds the amount, so this is the one --map a user types
    Case("online_retail_2011_pivots.xlsx", read_online_retail_2011_pivots, ["--map", "amount=TotalPrice"]),
    # no column has a name the SPEC lists (社保卡号 is a card number, 购药时间 a purchase time,
    # and there are two money columns): a user has to say which is which, so here the
    # test takes three --map (an exception to "at most one")
    Case("chaoyang_hospital_pharmacy_2018.xlsx", read_chaoyang_hospital_pharmacy,
         ["--map", "customer_id=社保卡号", "--map", "order_date=购药时间", "--map", "amount=实收金额"]),
    Case("uci_online_retail.parquet", read_uci_online_retail_parquet),
]


def require(path: Path) -> None:
    """The corpus files are not in the repository (data fetched from public
    repositories may only be committed under the steering repo's shared/; see
    tests/data/real/README.md): without them the test says so and is skipped."""
    if not path.is_file():
        pytest.skip(f"real corpus file not present: {path.name} (tests/data/real/README.md says where it comes from)")


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.needs)] if case.needs else []
    return pytest.param(case, id=case.file, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_real_file_matches_plain_pandas(case: Case, capsys):
    path = REAL / case.file
    require(path)
    lines = case.read(path)
    dates = oracle_two_dates(lines)

    for d in dates:
        expected = oracle_stage_counts(lines, d)
        assert sum(expected.values()) > 0
        got = product_stages(capsys, path, d.date(), case.args)
        assert got == expected, f"stage counts at {d.date()}"

    d = dates[0]
    expected = oracle_rfm(lines, d)
    got = product_rfm(capsys, path, d.date(), case.args)
    ids = sorted(expected.index)
    sample = random.Random(11).sample(ids, min(SAMPLE_CUSTOMERS, len(ids)))
    for cid in sample:
        want = expected.loc[cid]
        assert cid in got, f"customer {cid!r} missing from the product's RFM"
        row = got[cid]
        assert (row["recency_days"], row["frequency"]) == (int(want["recency_days"]), int(want["frequency"])), cid
        assert row["monetary"] == pytest.approx(float(want["monetary"]), abs=0.01), cid


# --------------------------------------------------------------------------- files whose right answer is one clear error
ERROR_CASES = [
    # AdventureWorks-style export in Chinese, GBK, CRLF: only 客户ID and 产品名称, no date and
    # no amount. The error must show the GBK header decoded right.
    ("adventureworks_orders_gbk.csv", ["客户ID", "产品名称"]),
    # Tianchi mum & baby trade history: user_id, buy_mount (a quantity) and day (YYYYMMDD), no
    # price and no amount: nothing to count revenue from.
    ("tianchi_mum_baby_trade.csv", ["amount"]),
    # Tableau's Chinese Superstore as an Excel 97-2003 .xls: not a supported format (SPEC §1
    # lists .xlsx); the user is told to save it as .xlsx or CSV.
    ("tableau_superstore_cn.xls", [".xls", "xlsx"]),
    # Tableau's EU Superstore turned into a comma-separated file by a European Excel: decimal
    # commas and product names with commas, none quoted, so rows have 20 to 24 fields and the
    # amounts cannot be told apart: the file is ambiguous and must not be guessed at.
    ("eu_superstore_decimal_comma.csv", ["separated"]),
]


@pytest.mark.parametrize("file,needles", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_real_file_unusable_gets_one_clear_line(file, needles, capsys):
    path = REAL / file
    require(path)
    code, out, err = run_cli(capsys, "stages", str(path))
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "Unexpected problem" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --------------------------------------------------------------------------- the Data page on the corpus
def _page_choices(preview, args: list[str]) -> dict:
    """The mapping dropdowns as a user sets them for the file's --map options."""
    choices = upload.default_choices(preview)
    for flag, item in zip(args[::2], args[1::2]):
        assert flag == "--map"
        field_name, _, column = item.partition("=")
        moved = preview.headers.index(column)
        choices = {f: (None if i == moved else i) for f, i in choices.items()}
        choices[field_name] = moved
    return choices


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_real_file_on_the_data_page_loads_what_the_command_line_stores(case: Case, capsys):
    """The Data page's preview, mapping and check (crmflow.upload, as the page
    calls it) load every corpus file as the command line does: the same rows
    stored, no problem left once the user's choices are made."""
    path = REAL / case.file
    require(path)
    preview = upload.inspect_file(path, "transactions")
    choices = _page_choices(preview, case.args)
    state = upload.preview_state(preview, choices, None)
    assert state.problem is None, state.problem
    result = upload.check([upload.plan(preview, choices)])
    code, out, err = run_cli(capsys, "ingest", str(path), "--name", "corpus", "--db", ":memory:",
                             "--format", "json", *case.args)
    assert code == 0, err
    stored = json.loads(out)
    assert result.transactions == stored["report"]["tables"][0]["rows_loaded"]
    assert result.reports[0].rows_rejected == stored["report"]["tables"][0]["rows_rejected"]


@pytest.mark.parametrize("file,needles", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_real_file_unusable_on_the_data_page_is_one_message_in_each_language(file, needles):
    """Where the command line refuses a file, the Data page shows one message in
    the page's language (never a traceback), saying what to do on the page."""
    path = REAL / file
    require(path)
    try:
        preview = upload.inspect_file(path, "transactions")
    except CrmflowError as exc:
        problem = exc
    else:
        problem = preview.problem
    assert isinstance(problem, CrmflowError)
    for lang in ("en", "zh"):
        text = problem.localized(lang)
        assert text and "\n" not in text and "--" not in text, text
