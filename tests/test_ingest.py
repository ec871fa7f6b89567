"""Ingestion of real-world export files (SPEC §1): one small dataset written in
every supported format, encoding, delimiter, date style and column naming must
give the same stages, orders and revenue; unusable rows are counted, listed and
stored; unusable files fail with one clear CrmflowError and never touch the
datasets already stored."""

from __future__ import annotations

import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmflow.errors import CrmflowError, DatasetError, InputFileError, MappingError
from crmflow.ingest import WHITESPACE, sniff
from crmflow.stages import stage_counts
from crmflow.store import Store

D = date(2024, 6, 28)

# The dataset: leading-zero ids, a return, a zero row, two rows of one customer
# on one day, a thousands separator (1,234.50), cents that must add up exactly.
# Days above 12 appear only from row 9 on, so DD/MM vs MM/DD is only decidable
# from the whole column.
ROWS = [
    ("00042", date(2024, 1, 5), "120.50"),
    ("00042", date(2024, 3, 10), "1234.50"),
    ("00042", date(2024, 3, 10), "30.00"),
    ("00042", date(2024, 4, 12), "-20.00"),
    ("00007", date(2023, 11, 2), "15.00"),
    ("12345", date(2024, 6, 1), "10.10"),
    ("00100", date(2024, 2, 1), "0.10"),
    ("00555", date(2024, 1, 11), "250.00"),
    ("00100", date(2024, 2, 29), "0.10"),
    ("00100", date(2024, 2, 29), "0.20"),
    ("00007", date(2023, 11, 20), "0.00"),
    ("12345", date(2024, 5, 13), "99.99"),
    ("00042", date(2024, 6, 15), "80.00"),
    ("00555", date(2024, 6, 13), "-250.00"),
    ("C0009", date(2024, 6, 28), "5.00"),
    ("00042", date(2024, 6, 28), "45.10"),
]
PRODUCTS = {"00042": "Crème brûlée", "00007": "Müller Straße", "12345": "Ñandú añejo", "00100": "Façade",
            "00555": "Smörgåsbord", "C0009": "Gâteau"}
PRODUCTS_ZH = {"00042": "乌龙茶", "00007": "绿茶", "12345": "红茶", "00100": "普洱", "00555": "白茶", "C0009": "花茶"}

# worked out by hand at D = 2024-06-28, defaults 180 / 4 / 365
EXPECTED_COUNTS = {"potential": 0, "first": 2, "repeat": 2, "loyal": 1, "lost": 1}
EXPECTED_STAGES = {"00042": "loyal", "00007": "lost", "12345": "repeat", "00100": "repeat", "00555": "first",
                   "C0009": "first"}
EXPECTED_ORDERS = {"00042": 4, "00007": 1, "12345": 2, "00100": 2, "00555": 1, "C0009": 1}
EXPECTED_REVENUE = {"00042": Decimal("1490.10"), "00007": Decimal("15.00"), "12345": Decimal("110.09"),
                    "00100": Decimal("0.40"), "00555": Decimal("0.00"), "C0009": Decimal("5.00")}


# --------------------------------------------------------------------------- helpers
def money(text: str, decimal: str = ".", thousands: str = "") -> str:
    value = Decimal(text)
    whole, frac = f"{abs(value):,.2f}".split(".")
    return ("-" if value < 0 else "") + whole.replace(",", thousands) + decimal + frac


def excel_serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days


def write_text(path: Path, header: list[str] | None, rows: list[list[str]], sep: str, encoding: str = "utf-8",
               newline: str = "\n") -> Path:
    lines = ([sep.join(header)] if header else []) + [sep.join(r) for r in rows]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def quoted(cell: str) -> str:
    return f'"{cell}"'


def frame(date_as=lambda d: d, amount_as=float) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [c for c, _, _ in ROWS],
        "order_date": [date_as(d) for _, d, _ in ROWS],
        "amount": [amount_as(a) for _, _, a in ROWS],
        "product": [PRODUCTS[c] for c, _, _ in ROWS],
    })


def v_utf8(tmp):
    rows = [[c, d.isoformat(), quoted(money(a, ".", ",")), PRODUCTS[c]] for c, d, a in ROWS]
    return write_text(tmp / "sales.csv", ["customer_id", "order_date", "amount", "product"], rows, ","), \
        {"encoding": "utf-8", "encoding_label": "UTF-8", "delimiter": ",", "header": True}


def v_utf8_bom(tmp):
    rows = [[c, d.strftime("%d/%m/%Y"), money(a), PRODUCTS[c]] for c, d, a in ROWS]
    return write_text(tmp / "sales_bom.csv", ["Customer ID", "Order Date", "Revenue", "Product"], rows, ",",
                      "utf-8-sig"), {"encoding_label": "UTF-8 with BOM", "delimiter": ",", "header": True}


def v_gbk(tmp):
    rows = [[c, f"{d.year}年{d.month}月{d.day}日", money(a, ",", "."), PRODUCTS_ZH[c]] for c, d, a in ROWS]
    return write_text(tmp / "销售.csv", ["客户编号", "下单日期", "金额", "产品"], rows, ";", "gbk"), \
        {"encoding": "gb18030", "delimiter": ";", "header": True, "headers": ["客户编号", "下单日期", "金额", "产品"]}


def v_latin1(tmp):
    rows = [[c, d.strftime("%m/%d/%Y"), money(a), PRODUCTS[c]] for c, d, a in ROWS]
    return write_text(tmp / "ventes.csv", ["Client", "Date", "Sales", "Libellé"], rows, ",", "latin-1"), \
        {"encoding": "latin-1", "delimiter": ",", "header": True, "headers": ["Client", "Date", "Sales", "Libellé"]}


def v_tsv(tmp):
    rows = [[c, d.strftime("%Y%m%d"), money(a, ".", ","), PRODUCTS[c]] for c, d, a in ROWS]
    return write_text(tmp / "sales.tsv", ["customer", "purchase_date", "sales", "item"], rows, "\t"), \
        {"delimiter": "\t", "header": True}


def v_pipe(tmp):
    rows = [[c, f"{d.year}/{d.month}/{d.day}", money(a, ".", ","), PRODUCTS[c]] for c, d, a in ROWS]
    return write_text(tmp / "sales.txt", ["client_id", "transaction_date", "total", "sku"], rows, "|"), \
        {"delimiter": "|", "header": True}


def v_whitespace(tmp):  # like CDNOW_master.txt: leading blanks, runs of spaces
    rows = [[f" {c}", d.strftime("%Y%m%d"), f"{'  ' if len(a) < 6 else ''}{money(a)}"] for c, d, a in ROWS]
    return write_text(tmp / "cdnow_like.txt", [" customer_id", " date", "dollar_value"], rows, "   "), \
        {"delimiter": WHITESPACE, "header": True}


def v_excel_serials(tmp):
    rows = [[c, str(excel_serial(d)), money(a)] for c, d, a in ROWS]
    return write_text(tmp / "serials.csv", ["cust_id", "invoice_date", "value"], rows, ","), {"header": True}


def v_timestamps_zh(tmp):
    rows = [[c, f"{d.isoformat()} 13:45:00", money(a)] for c, d, a in ROWS]
    return write_text(tmp / "时间.csv", ["客户ID", "日期", "销售额"], rows, ","), {"encoding": "utf-8", "header": True}


def v_crlf(tmp):
    rows = [[c, d.isoformat() + "T08:00:00", money(a)] for c, d, a in ROWS]
    return write_text(tmp / "windows.csv", ["Customer", "Order Date", "Amount"], rows, ",", newline="\r\n"), \
        {"delimiter": ",", "header": True}


def v_headerless_csv(tmp):
    rows = [[c, d.isoformat(), money(a)] for c, d, a in ROWS]
    return write_text(tmp / "noheader.csv", None, rows, ","), {"delimiter": ",", "header": False}


def v_headerless_whitespace(tmp):
    rows = [[c, d.strftime("%Y%m%d"), str(1 + i % 3), money(a)] for i, (c, d, a) in enumerate(ROWS)]
    return write_text(tmp / "noheader.txt", None, rows, "  "), {"delimiter": WHITESPACE, "header": False}


def v_xlsx_dates(tmp):
    path = tmp / "sales.xlsx"
    frame(date_as=lambda d: datetime(d.year, d.month, d.day, 13, 45)).to_excel(path, index=False)
    return path, None


def v_xlsx_text_dates(tmp):
    path = tmp / "sales_text_dates.xlsx"
    df = frame(date_as=lambda d: d.strftime("%d/%m/%Y"))
    df.columns = ["客户编号", "订单日期", "订单金额", "商品"]
    df.to_excel(path, index=False, engine="xlsxwriter")
    return path, None


def v_parquet(tmp):
    path = tmp / "sales.parquet"
    table = pa.table({
        "customer_id": pa.array([c for c, _, _ in ROWS], pa.string()),
        "order_date": pa.array([d for _, d, _ in ROWS], pa.date32()),
        "amount": pa.array([float(a) for _, _, a in ROWS], pa.float64()),
        "quantity": pa.array([1] * len(ROWS), pa.int64()),
    })
    pq.write_table(table, path)
    return path, None


VARIANTS = {
    "utf8-csv": v_utf8, "utf8-bom": v_utf8_bom, "gbk-semicolon-decimal-comma": v_gbk, "latin1-mdy": v_latin1,
    "tsv-yyyymmdd": v_tsv, "pipe-slash-ymd": v_pipe, "whitespace-cdnow": v_whitespace,
    "excel-serials-csv": v_excel_serials, "timestamps-chinese-headers": v_timestamps_zh, "crlf": v_crlf,
    "headerless-csv": v_headerless_csv, "headerless-whitespace": v_headerless_whitespace,
    "xlsx-excel-dates": v_xlsx_dates, "xlsx-text-dates": v_xlsx_text_dates, "parquet": v_parquet,
}


def stages_of(store: Store, ds: int, as_of: date = D) -> pd.DataFrame:
    return store.db.run("customer_stages", dataset_id=ds, dates=[as_of], lost_after_days=180, loyal_orders=4,
                        loyal_window_days=365)


def revenue_of(store: Store, ds: int) -> dict[str, Decimal]:
    with store.db.cursor() as cur:
        rows = cur.execute("SELECT customer_id, SUM(amount) FROM transactions WHERE dataset_id = $ds "
                           "GROUP BY customer_id", {"ds": ds}).fetchall()
    return {c: Decimal(v) for c, v in rows}


def transactions_of(store: Store, ds: int) -> pd.DataFrame:
    with store.db.cursor() as cur:
        return cur.execute("SELECT * FROM transactions WHERE dataset_id = $ds ORDER BY row_number", {"ds": ds}).df()


@pytest.fixture
def mem():
    store = Store(in_memory=True)
    yield store
    store.close()


def ingest(store: Store, path, name: str = "t", **kw):
    result = store.ingest(name, path, **kw)
    return result, result.dataset.dataset_id


# --------------------------------------------------------------------------- one dataset, every format
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_format_gives_the_same_stages_orders_and_revenue(tmp_path, mem, variant):
    path, _ = VARIANTS[variant](tmp_path)
    result, ds = ingest(mem, path)
    report = result.reports[0]
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (16, 16, 0), report.rejected_examples
    assert report.rejected_by_reason == {}
    assert stage_counts(mem.db, ds, D) == EXPECTED_COUNTS
    st = stages_of(mem, ds)
    assert dict(zip(st["customer_id"], st["stage"])) == EXPECTED_STAGES
    assert dict(zip(st["customer_id"], st["orders"].astype(int))) == EXPECTED_ORDERS
    assert revenue_of(mem, ds) == EXPECTED_REVENUE
    tx = transactions_of(mem, ds)
    assert [d.date() for d in pd.to_datetime(tx["order_date"])] == [d for _, d, _ in ROWS]
    assert list(tx["customer_id"]) == [c for c, _, _ in ROWS]  # leading zeros kept, in file order


@pytest.mark.parametrize("variant", [v for v in VARIANTS if not v.startswith(("xlsx", "parquet"))])
def test_sniff_finds_encoding_delimiter_and_header(tmp_path, variant):
    path, expected = VARIANTS[variant](tmp_path)
    found = sniff(path)
    assert found.format == "csv"
    for key, value in expected.items():
        assert getattr(found, key) == value, (key, getattr(found, key), value)


def test_sniff_reports_binary_formats(tmp_path):
    assert sniff(v_xlsx_dates(tmp_path)[0]).format == "xlsx"
    assert sniff(v_parquet(tmp_path)[0]).format == "parquet"


def test_accented_and_chinese_text_survives_the_encoding(tmp_path, mem):
    for variant, names in (("latin1-mdy", PRODUCTS), ("gbk-semicolon-decimal-comma", PRODUCTS_ZH)):
        path, _ = VARIANTS[variant](tmp_path)
        result, ds = ingest(mem, path, name=variant)
        tx = transactions_of(mem, ds)
        # the Latin-1 file calls its product column "Libellé" (not a known name): map it
        if "product" not in result.reports[0].mapping:
            assert "Libellé" in result.reports[0].unused_columns
            result, ds = ingest(mem, path, name=variant + "-mapped",
                                overrides={"transactions": {"product": "Libellé"}})
            tx = transactions_of(mem, ds)
        assert dict(zip(tx["customer_id"], tx["product"])) == names


def test_gbk_file_reports_decimal_comma_and_encoding(tmp_path, mem):
    path, _ = v_gbk(tmp_path)
    report = ingest(mem, path)[0].reports[0]
    assert report.decimal_comma is True
    assert report.encoding == "GB18030/GBK"
    assert report.delimiter == "semicolon"
    assert report.mapping == {"customer_id": "客户编号", "order_date": "下单日期", "amount": "金额", "product": "产品"}


# --------------------------------------------------------------------------- dates
DATE_STYLES = {
    "iso": lambda d: d.isoformat(),
    "yyyymmdd": lambda d: d.strftime("%Y%m%d"),
    "dd/mm/yyyy": lambda d: d.strftime("%d/%m/%Y"),
    "mm/dd/yyyy": lambda d: d.strftime("%m/%d/%Y"),
    "dd.mm.yyyy": lambda d: d.strftime("%d.%m.%Y"),
    "excel-serial": lambda d: str(excel_serial(d)),
    "excel-serial-with-time": lambda d: f"{excel_serial(d)}.5729166667",
    "timestamp": lambda d: f"{d.isoformat()} 13:45:00",
    "iso-t-timestamp": lambda d: f"{d.isoformat()}T23:59:59Z",
    "yyyy/m/d": lambda d: f"{d.year}/{d.month}/{d.day}",
    "chinese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "m/d/yyyy h:mm": lambda d: f"{d.month}/{d.day}/{d.year} 9:05",
}
# day > 12 only in the last rows; a leap day; year ends
DATES = [date(2024, 1, 2), date(2024, 2, 3), date(2023, 12, 1), date(2024, 11, 10), date(2024, 3, 4),
         date(2024, 2, 29), date(2023, 12, 31), date(2024, 1, 13)]


@pytest.mark.parametrize("style", list(DATE_STYLES))
def test_date_styles(tmp_path, mem, style):
    rows = [[f"{i:04d}", DATE_STYLES[style](d), "10.00"] for i, d in enumerate(DATES)]
    path = write_text(tmp_path / "dates.csv", ["customer_id", "order_date", "amount"], rows, ",")
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0, result.reports[0].rejected_examples
    tx = transactions_of(mem, ds)
    assert [d.date() for d in pd.to_datetime(tx["order_date"])] == DATES


def test_day_first_is_decided_from_the_whole_column_not_the_first_rows(tmp_path, mem):
    # 2000 ambiguous rows, then one 25/12/2024: every row must be read day-first
    rows = [[f"{i:05d}", (date(2024, 1, 1) + timedelta(days=i % 12 * 31)).strftime("%d/%m/%Y"), "1"]
            for i in range(2000)] + [["99999", "25/12/2024", "1"]]
    path = write_text(tmp_path / "late.csv", ["customer_id", "order_date", "amount"], rows, ",")
    result, ds = ingest(mem, path)
    assert result.reports[0].date_formats == {"order_date": "%d/%m/%Y"}
    assert result.reports[0].rows_rejected == 0
    tx = transactions_of(mem, ds)
    assert pd.Timestamp(tx["order_date"].iloc[1]).date() == date(2024, 2, 1)  # 01/02/2024 = 1 February


def test_ambiguous_dates_warn_and_follow_the_preference(tmp_path):
    rows = [["1", "05/01/2024", "1.50"], ["2", "03/02/2024", "2"]]
    path = write_text(tmp_path / "amb.csv", ["customer_id", "date", "amount"], rows, ",")
    with Store(in_memory=True) as store:
        result, ds = ingest(store, path)
        assert any("day-first or month-first" in w for w in result.reports[0].warnings)
        assert [pd.Timestamp(d).date() for d in transactions_of(store, ds)["order_date"]] == \
            [date(2024, 5, 1), date(2024, 3, 2)]
    with Store(in_memory=True) as store:
        result, ds = ingest(store, path, date_preference="dmy")
        assert [pd.Timestamp(d).date() for d in transactions_of(store, ds)["order_date"]] == \
            [date(2024, 1, 5), date(2024, 2, 3)]


# --------------------------------------------------------------------------- column names and --map
@pytest.mark.parametrize("headers", [
    ("customer id", "order date", "amount"),
    ("Customer_ID", "Order Date", "Sales"),
    ("CustomerID", "OrderDate", "Total"),
    ("client", "date", "revenue"),
    ("Account", "Invoice Date", "Net Amount"),
    ("客户编号", "下单日期", "金额"),
    ("客户ID", "日期", "销售额"),
    ("客户名称", "交易日期", "实付金额"),
    ("会员编号", "订单日期", "订单金额"),
    ("客户编号(CRM)", "下单日期（北京时间）", "金额(元)"),
])
def test_column_name_synonyms(tmp_path, mem, headers):
    rows = [[c, d.isoformat(), money(a)] for c, d, a in ROWS]
    path = write_text(tmp_path / "syn.csv", list(headers), rows, ",")
    result, ds = ingest(mem, path)
    assert result.reports[0].mapping == dict(zip(("customer_id", "order_date", "amount"), headers))
    assert stage_counts(mem.db, ds, D) == EXPECTED_COUNTS


def test_map_overrides_by_name_for_unknown_headers(tmp_path, mem):
    rows = [[c, d.isoformat(), money(a), "x"] for c, d, a in ROWS]
    path = write_text(tmp_path / "de.csv", ["Kunde", "Datum", "Betrag", "Notiz"], rows, ",")
    overrides = {"transactions": {"customer_id": "Kunde", "order_date": "Datum", "amount": "Betrag"}}
    result, ds = ingest(mem, path, overrides=overrides)
    assert result.reports[0].mapping == {"customer_id": "Kunde", "order_date": "Datum", "amount": "Betrag"}
    assert revenue_of(mem, ds) == EXPECTED_REVENUE


def test_map_overrides_by_position(tmp_path, mem):
    rows = [[money(a), "ignored", d.isoformat(), c] for c, d, a in ROWS]
    path = write_text(tmp_path / "pos.csv", ["A", "B", "C", "E"], rows, ",")
    overrides = {"transactions": {"customer_id": "#4", "order_date": "#3", "amount": "#1"}}
    result, ds = ingest(mem, path, overrides=overrides)
    assert result.reports[0].mapping == {"customer_id": "E", "order_date": "C", "amount": "A"}
    assert revenue_of(mem, ds) == EXPECTED_REVENUE


def test_map_override_wins_over_the_automatic_mapping(tmp_path, mem):
    # "amount" is gross; the user wants "net" (half of it)
    rows = [[c, d.isoformat(), money(a), money(str(Decimal(a) / 2))] for c, d, a in ROWS]
    path = write_text(tmp_path / "two.csv", ["customer_id", "order_date", "amount", "net"], rows, ",")
    result, ds = ingest(mem, path, overrides={"transactions": {"amount": "net"}})
    assert result.reports[0].mapping["amount"] == "net"
    assert "amount" in result.reports[0].unused_columns
    assert revenue_of(mem, ds)["00042"] == Decimal("745.05")


@pytest.mark.parametrize("overrides, needle", [
    ({"amount": "Betrag"}, "Betrag"),
    ({"amount": "#9"}, "#9"),
    ({"turnover_total": "amount"}, "turnover_total"),
])
def test_bad_map_overrides_are_clear_errors(tmp_path, mem, overrides, needle):
    path, _ = v_utf8(tmp_path)
    with pytest.raises(MappingError) as err:
        ingest(mem, path, overrides={"transactions": overrides})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_headerless_columns_in_any_order_are_guessed_from_content(tmp_path, mem):
    rows = [[d.isoformat(), c, money(a)] for c, d, a in ROWS]
    path = write_text(tmp_path / "noheader2.csv", None, rows, ";")
    result, ds = ingest(mem, path)
    report = result.reports[0]
    assert report.header is False
    assert report.mapping == {"order_date": "column1", "customer_id": "column2", "amount": "column3"}
    assert any("guessed" in w for w in report.warnings)  # the user is told
    assert revenue_of(mem, ds) == EXPECTED_REVENUE


# --------------------------------------------------------------------------- amounts
def test_amounts_are_exact_to_the_cent(tmp_path, mem):
    rows = [["00001", "2024-01-01", "0.10"]] * 10 + [["00001", "2024-01-02", "0.20"]] * 10 + \
        [["00002", "2024-01-01", "12345678901.23"], ["00002", "2024-01-02", "0.01"],
         ["00003", "2024-01-01", "0.1"], ["00003", "2024-01-01", "0.2"], ["00003", "2024-01-01", "-0.3"]]
    path = write_text(tmp_path / "cents.csv", ["customer_id", "order_date", "amount"], rows, ",")
    _, ds = ingest(mem, path)
    rev = revenue_of(mem, ds)
    assert rev == {"00001": Decimal("3.00"), "00002": Decimal("12345678901.24"), "00003": Decimal(0)}
    assert str(rev["00001"].quantize(Decimal("0.01"))) == "3.00"


def test_parquet_floats_are_exact_to_the_cent(tmp_path, mem):
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"customer_id": ["00042"] * 3, "order_date": pa.array([date(2024, 1, 1)] * 3),
                             "amount": pa.array([0.1, 0.2, 0.1 + 0.2], pa.float64())}), path)
    _, ds = ingest(mem, path)
    assert revenue_of(mem, ds) == {"00042": Decimal("0.60")}


@pytest.mark.parametrize("text, value", [
    ('"$1,234.50"', "1234.50"), ("¥99.50", "99.50"), ("(20.00)", "-20.00"), ("20.00-", "-20.00"),
    ("+3.10", "3.10"), ("-0.01", "-0.01"), ("1234", "1234"),
])
def test_money_notations(tmp_path, mem, text, value):
    path = write_text(tmp_path / "m.csv", ["customer_id", "order_date", "amount"],
                      [["00001", "2024-01-01", text], ["00002", "2024-01-01", "10.25"]], ",")
    _, ds = ingest(mem, path)
    assert revenue_of(mem, ds)["00001"] == Decimal(value)


def test_dot_thousands_in_a_semicolon_file_are_thousands(tmp_path, mem):
    path = write_text(tmp_path / "de.csv", ["Kundennummer", "Datum", "Umsatz"],
                      [["00042", "05.01.2024", "1.234"], ["00043", "13.01.2024", "15"], ["00044", "14.01.2024", "250"]],
                      ";")
    overrides = {"transactions": {"customer_id": "Kundennummer", "order_date": "Datum", "amount": "Umsatz"}}
    _, ds = ingest(mem, path, overrides=overrides)
    assert revenue_of(mem, ds)["00042"] == Decimal(1234)


def test_non_breaking_space_thousands_separator(tmp_path, mem):
    path = write_text(tmp_path / "fr.csv", ["customer_id", "date", "amount"],
                      [["00042", "05/01/2024", "1\u00a0234,50"], ["00043", "13/01/2024", "11,00"]], ";", "latin-1")
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0
    assert revenue_of(mem, ds)["00042"] == Decimal("1234.50")


@pytest.mark.parametrize("sep, amounts, expected", [
    (";", ["1.234", "15", "2.500.000"], ["1234", "15", "2500000"]),    # whole numbers, '.' thousands
    (";", ["1,234", "15", "250"], ["1.234", "15", "250"]),             # a ';' file: decimal comma
    (";", ["1\u202f234,50", "11,00", "-3"], ["1234.50", "11.00", "-3"]),  # narrow no-break space
    (";", ["12.50", "1.234", "3"], ["12.50", "1.234", "3"]),           # decimal points decide
    (",", ['"1,234"', "15", "250"], ["1234", "15", "250"]),            # ',' thousands
    (",", ["1.234.567", "2.500", "15"], ["1234567", "2500", "15"]),    # two '.' groups: '.' is thousands
    (",", ['"1,234,567"', "2.500", "15"], ["1234567", "2.5", "15"]),   # two ',' groups: ',' is thousands
    ("\t", ["1\u00a0234.50", "2\u00a0000", "7"], ["1234.50", "2000", "7"]),
])
def test_decimal_convention_is_decided_from_the_whole_column(tmp_path, mem, sep, amounts, expected):
    rows = [[f"{i:05d}", f"2024-01-{i + 1:02d}", a] for i, a in enumerate(amounts)]
    path = write_text(tmp_path / "d.csv", ["customer_id", "order_date", "amount"], rows, sep)
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_rejected == 0, result.reports[0].rejected_examples
    rev = revenue_of(mem, ds)
    assert [rev[f"{i:05d}"] for i in range(len(amounts))] == [Decimal(e) for e in expected]


def test_large_amounts_are_exact_or_rejected_as_too_large(tmp_path, mem):
    rows = [["00001", "2024-01-01", "12345678901234.5678"], ["00002", "2024-01-01", "-99999999999999.99"],
            ["00003", "2024-01-01", "100000000000000"], ["00004", "2024-01-01", "1e20"],
            ["00005", "2024-01-01", "nan"], ["00006", "2024-01-01", "1.23456"]]
    path = write_text(tmp_path / "big.csv", ["customer_id", "order_date", "amount"], rows, ",")
    result, ds = ingest(mem, path)
    assert result.reports[0].rejected_by_reason == {"amount is too large": 2, "amount is not a number": 1}
    assert revenue_of(mem, ds) == {"00001": Decimal("12345678901234.5678"), "00002": Decimal("-99999999999999.99"),
                                   "00006": Decimal("1.2346")}


# every value the cheap casts accept must read exactly as the general rules read it
TRICKY_NUMBERS = ["0", "-0", "12", "12.5", "1.234", "1,234", "1.234,50", "1,234.50", "1 234,50", "(20.00)", "20.00-",
                  "+3.10", "$1,234.50", "¥99.50", "1e3", "1E-2", "nan", "inf", "abc", "12..5", "0,5", ".5", "5.",
                  " 42 ", "1_000", "0x10", "€ 12,50", "1.234.567", "1,234,567", "12345678901234.5678", "1.23456",
                  "-1.23455", "99999999999999.99995", "100000000000000", "1e20", "", "   "]
TRICKY_DATES = ["2024-01-05", "2024-1-5", "2024/01/05", "2024.01.05", "20240105", "05/01/2024", "5/1/2024",
                "13/01/2024", "01/13/2024", "05.01.2024", "2024年1月5日", "2024-01-05 13:45:00",
                "2024-01-05T23:59:59Z", "45296", "45296.57", "2024-02-30", "next week", " 2024-01-05 ", "1/5/24",
                "13/1/24", "2024-13-01", "05/01/2024 9:05", "24-01-05", "", " "]


def test_cheap_casts_agree_with_the_general_parsing_rules(mem):
    with mem.db.cursor() as cur:
        mem.db.execute("macros", cur=cur)
        for dc in (False, True):
            rows = cur.execute(
                "SELECT v, crm_money(v, $dc), CAST(CASE WHEN abs(x) < 1e14 THEN x END AS DECIMAL(18, 4)), "
                "crm_number(v, $dc), x "
                "FROM (SELECT v, CASE WHEN isfinite(crm_number_any(v, $dc)) THEN crm_number_any(v, $dc) END AS x "
                "      FROM unnest($vals) AS t(v))", {"vals": TRICKY_NUMBERS, "dc": dc}).fetchall()
            for v, money_fast, money_rule, number_fast, number_rule in rows:
                assert number_fast == number_rule, (v, dc, number_fast, number_rule)
                assert (money_fast is None) == (money_rule is None), (v, dc, money_fast, money_rule)
                if money_fast is not None:  # the decimal cast is exact where the DOUBLE route rounds
                    assert abs(money_fast - money_rule) <= max(Decimal("0.0001"), abs(money_rule) * Decimal("1e-15")), \
                        (v, dc, money_fast, money_rule)
        for fmt in ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y", "excel"):
            rows = cur.execute("SELECT v, crm_date(v, $fmt), crm_date_any(v, $fmt) FROM unnest($vals) AS t(v)",
                               {"vals": TRICKY_DATES, "fmt": fmt}).fetchall()
            for v, fast, rule in rows:
                assert fast == rule, (v, fmt, fast, rule)


def test_ambiguous_dot_thousands_outside_a_semicolon_file_are_decimals_with_a_note(tmp_path, mem):
    path = write_text(tmp_path / "amb.csv", ["customer_id", "order_date", "amount"],
                      [["00042", "2024-01-05", "1.234"], ["00043", "2024-01-13", "15"]], ",")
    result, ds = ingest(mem, path)
    assert revenue_of(mem, ds)["00042"] == Decimal("1.234")
    assert any("1.234" in w and "thousands" in w for w in result.reports[0].warnings), result.reports[0].warnings


@pytest.mark.parametrize("encoding, name", [("latin-1", "Zoë Müller"), ("gbk", "北京贸易有限公司")])
def test_encoding_of_a_non_ascii_character_after_the_sample(tmp_path, mem, encoding, name):
    # the first 256 KB are plain ASCII: the encoding must still be decided from the whole file
    rows = [[f"{i:06d}", f"2024-01-{i % 28 + 1:02d}", f"{i % 100}.50", "Smith"] for i in range(12000)]
    rows.append(["999999", "2024-02-01", "5.00", name])
    path = write_text(tmp_path / "late.csv", ["customer_id", "order_date", "amount", "product"], rows, ",", encoding)
    assert path.stat().st_size > 300_000
    result, ds = ingest(mem, path)
    assert result.reports[0].rows_loaded == 12001
    assert result.reports[0].encoding == ("Latin-1" if encoding == "latin-1" else "GB18030/GBK")
    tx = transactions_of(mem, ds)
    assert tx["product"].iloc[-1] == name


def test_a_gbk_sample_cut_inside_a_character_is_still_gbk(tmp_path):
    from crmflow.ingest import SAMPLE_BYTES

    cut = 0
    for pad in range(4):  # one of the paddings makes the first 256 KB end inside a two-byte character
        rows = [[f"{i:06d}" + "x" * pad, "2024-01-05", "1,00", "北京贸易有限公司乌龙茶"] for i in range(12000)]
        path = write_text(tmp_path / f"gbk{pad}.csv", ["客户编号", "日期", "金额", "产品"], rows, ";", "gbk")
        try:
            path.read_bytes()[:SAMPLE_BYTES].decode("gb18030")
        except UnicodeDecodeError:
            cut += 1
        assert sniff(path).encoding == "gb18030"
    assert cut


def test_utf8_check_streams_across_chunk_boundaries(tmp_path, monkeypatch):
    import crmflow.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "SCAN_CHUNK", 5)
    text = "id,name\n1,Zoë Müller 北京\n2,ok\n".encode()
    for data, expected in [
        (text, None),
        (text + b"3,Zo\xeb\n", len(text) + 4),                 # a Latin-1 byte late in the file
        (text + "4,北".encode()[:-1], len(text) + 2),           # a file cut inside a character
        (b"\xa0" + text, 0),
    ]:
        path = tmp_path / "u.csv"
        path.write_bytes(data)
        assert ingest_module._utf8_error_offset(path) == expected, data


# --------------------------------------------------------------------------- validation report
def test_unusable_rows_are_counted_listed_and_stored(tmp_path):
    rows = [
        ["00042", "2024-01-05", "10.00"],
        ["", "2024-01-06", "11.00"],           # missing id
        ["00043", "2024-02-30", "12.00"],      # not a date
        ["00044", "next week", "13.00"],       # not a date
        ["00045", "", "14.00"],                # missing date
        ["00046", "2024-01-07", "abc"],        # not a number
        ["00047", "2024-01-08", ""],           # missing amount
        ["   ", "2024-01-09", "15.00"],        # blank id
        ["00048", "2024-01-10", "16.00"],
    ]
    path = write_text(tmp_path / "bad_rows.csv", ["customer_id", "order_date", "amount"], rows, ",")
    with Store(in_memory=True) as store:
        result, ds = ingest(store, path, name="bad rows")
        r = result.reports[0]
        assert r.rows_read == 9 and r.rows_loaded == 2 and r.rows_rejected == 7
        assert r.rows_read == r.rows_loaded + r.rows_rejected
        assert r.rejected_by_reason == {"missing customer id": 2, "order date is not a date": 2,
                                        "missing order date": 1, "amount is not a number": 1, "missing amount": 1}
        assert len(r.rejected_examples) == 7
        raws = " ".join(ex["raw"] for ex in r.rejected_examples)
        for bad in ("2024-02-30", "next week", "abc", "00047"):
            assert bad in raws
        assert {ex["reason"] for ex in r.rejected_examples} == set(r.rejected_by_reason)
        stored = store.rejected_rows("bad rows")
        assert len(stored) == 7
        assert stored["reason"].value_counts().to_dict() == r.rejected_by_reason
        assert set(stored["source"]) == {"transactions"}
        ds_row = store.get("bad rows")
        assert ds_row.n_transactions == 2 and ds_row.n_rejected == 7
        assert sorted(transactions_of(store, ds)["customer_id"]) == ["00042", "00048"]


def test_rejected_row_count_adds_up_on_a_large_file(tmp_path, mem):
    rows = [[f"{i:06d}", "2024-01-01" if i % 7 else "nope", "1.00" if i % 11 else "n/a"] for i in range(5000)]
    path = write_text(tmp_path / "big.csv", ["customer_id", "order_date", "amount"], rows, ",")
    r = ingest(mem, path)[0].reports[0]
    bad_date = sum(1 for i in range(5000) if i % 7 == 0)
    bad_amount = sum(1 for i in range(5000) if i % 7 and i % 11 == 0)
    assert r.rejected_by_reason == {"order date is not a date": bad_date, "amount is not a number": bad_amount}
    assert r.rows_read == 5000 == r.rows_loaded + r.rows_rejected
    assert len(mem.rejected_rows("t")) == bad_date + bad_amount


def test_customers_and_interactions_files(tmp_path, mem):
    t, _ = v_utf8(tmp_path)
    c = write_text(tmp_path / "客户.csv", ["客户编号", "客户名称2", "建档日期"],
                   [["00042", "甲", "2023-01-01"], ["L0001", "乙", "2024-06-01"], ["L0002", "丙", "2024-07-01"],
                    ["L0003", "丁", ""], ["", "戊", "2024-01-01"], ["L0001", "重复", "2024-01-01"]], ",", "gbk")
    i = write_text(tmp_path / "互动.csv", ["客户编号", "日期", "类型"],
                   [["00042", "2024-05-01", "投诉"], ["00042", "2024-05-02", "拜访"], ["00007", "bad", "电话"]], ",")
    result = mem.ingest("full", t, c, i)
    ds = result.dataset
    assert (ds.n_transactions, ds.n_customers, ds.n_interactions) == (16, 4, 2)
    reports = {r.table: r for r in result.reports}
    assert reports["customers"].rejected_by_reason == {"missing customer id": 1,
                                                       "repeated customer id (the first row is kept)": 1}
    assert reports["interactions"].rejected_by_reason == {"date is not a date": 1}
    assert ds.n_rejected == 3
    counts = stage_counts(mem.db, ds.dataset_id, D)
    # L0001 created before D and L0003 without a date are potential; L0002 does not exist yet
    assert counts == {**EXPECTED_COUNTS, "potential": 2}
    with mem.db.cursor() as cur:
        types = cur.execute("SELECT type FROM interactions WHERE dataset_id = $d ORDER BY date",
                            {"d": ds.dataset_id}).fetchall()
    assert types == [("complaint",), ("visit",)]


# --------------------------------------------------------------------------- unusable files
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000  # an Excel 97-2003 .xls starts like this


def _raw(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sales.csv", "customer_id,order_date,amount\n1,2024-01-01,1\n")
    return path


BAD_FILES = {
    "missing": (lambda p: p / "does_not_exist.csv", InputFileError, "not found"),
    "folder": (lambda p: p, InputFileError, "folder"),
    "empty": (lambda p: _raw(p / "empty.csv", b""), InputFileError, "empty"),
    "blank-lines": (lambda p: _raw(p / "blank.csv", b"\n \r\n\t\n"), InputFileError,
                    "empty"),
    "header-only": (lambda p: write_text(p / "h.csv", ["customer_id", "order_date", "amount"], [], ","),
                    InputFileError, "no rows"),
    "header-only-bom-crlf": (lambda p: write_text(p / "h2.csv", ["客户编号", "日期", "金额"], [], ",", "utf-8-sig",
                                                  "\r\n"), InputFileError, "no rows"),
    "binary-junk": (lambda p: _raw(p / "junk.csv", bytes(range(256)) * 64),
                    InputFileError, "binary"),
    "xls-ole": (lambda p: _raw(p / "old.xls", OLE), InputFileError, ".xls"),
    "xls-ole-renamed-csv": (lambda p: _raw(p / "old.csv", OLE), InputFileError, "xlsx"),
    "zip": (lambda p: _zip(p / "export.zip"), InputFileError, "ZIP"),
    "text-named-xlsx": (lambda p: write_text(p / "fake.xlsx", ["customer_id", "order_date", "amount"],
                                             [["1", "2024-01-01", "1"]], ","), InputFileError, "Excel"),
    "truncated-parquet": (lambda p: _raw(p / "t.parquet", b"PAR1\0\0\0"),
                          InputFileError, "parquet"),
    "single-column": (lambda p: write_text(p / "one.csv", ["customer_id"], [["1"], ["2"], ["3"]], ","),
                      InputFileError, "column"),
    "no-date-column": (lambda p: write_text(p / "nd.csv", ["customer_id", "amount", "product"],
                                            [["1", "1.00", "x"], ["2", "2.00", "y"]], ","), MappingError,
                       "order_date"),
    "no-id-column": (lambda p: write_text(p / "ni.csv", ["order_date", "amount"],
                                          [["2024-01-01", "1.00"], ["2024-01-02", "2.00"]], ","), MappingError,
                     "customer_id"),
    "no-amount-column": (lambda p: write_text(p / "na.csv", ["customer_id", "order_date", "product"],
                                              [["1", "2024-01-01", "x"], ["2", "2024-01-02", "y"]], ","),
                         MappingError, "amount"),
    "no-usable-date": (lambda p: write_text(p / "ud.csv", ["customer_id", "order_date", "amount"],
                                            [["1", "soon", "1.00"], ["2", "later", "2.00"]], ","), CrmflowError,
                       "date"),
    "no-usable-amount": (lambda p: write_text(p / "ret.csv", ["customer_id", "order_date", "amount"],
                                          [["1", "2024-01-01", "not a number"]], ","), CrmflowError, "amount"),
    "empty-xlsx-sheet": (lambda p: _empty_xlsx(p / "empty.xlsx"), InputFileError, "empty.xlsx"),
}


def _empty_xlsx(path: Path) -> Path:
    import openpyxl

    openpyxl.Workbook().save(path)
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_unusable_files_raise_one_clear_error(tmp_path, mem, case):
    make, error, needle = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(error) as err:
        mem.ingest("bad", path)
    text = str(err.value)
    assert isinstance(err.value, CrmflowError)
    assert text.strip() and "\n" not in text and "Traceback" not in text
    assert needle.lower() in text.lower(), text
    assert err.value.hint, "every error says how to fix it"
    assert mem.names() == []


def test_headed_file_without_id_column_is_refused(tmp_path, mem):
    # the content guess is for headerless files: with a header read, an unrelated text column
    # ('remarks') must not be taken as the customer id
    path = write_text(tmp_path / "noid.csv", ["order_date", "amount", "remarks"],
                      [["2024-01-05", "10.50", "first visit"], ["2024-01-06", "11.00", "paid cash"]], ",")
    with pytest.raises(MappingError) as err:
        mem.ingest("bad", path)
    message = str(err.value)
    assert "\n" not in message
    for needle in ("customer_id", "order_date, amount, remarks", "--map customer_id=", "dropdown"):
        assert needle in message, (needle, message)
    assert mem.names() == []
    # mapping the column by hand is the way out
    result = mem.ingest("ok", path, overrides={"transactions": {"customer_id": "remarks"}})
    assert result.dataset.n_transactions == 2


# --------------------------------------------------------------------------- the store
def test_failed_ingest_leaves_earlier_datasets_intact(tmp_path):
    db = tmp_path / "store.duckdb"
    good, _ = v_gbk(tmp_path)
    bad_rows = write_text(tmp_path / "allbad.csv", ["customer_id", "order_date", "amount"],
                          [["1", "never", "1"]], ",")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    with Store(db) as store:
        a = store.ingest("A", good).dataset
        before = stage_counts(store.db, a.dataset_id, D)
        for bad in (junk, bad_rows, tmp_path / "missing.csv"):
            with pytest.raises(CrmflowError):
                store.ingest("B", bad)
            # a failing replacement of A must not delete A either
            with pytest.raises(CrmflowError):
                store.ingest("A", bad, replace=True)
        assert store.names() == ["A"]
        assert store.get("A").n_transactions == 16
        assert stage_counts(store.db, a.dataset_id, D) == before == EXPECTED_COUNTS
        with store.db.cursor() as cur:
            assert cur.execute("SELECT COUNT(*) FROM transactions").fetchone()[0] == 16
            assert cur.execute("SELECT COUNT(*) FROM rejected_rows").fetchone()[0] == 0
        # the store still works after the failures
        c = store.ingest("C", good).dataset
        assert stage_counts(store.db, c.dataset_id, D) == EXPECTED_COUNTS
    with Store(db) as store:  # survives a restart
        assert sorted(store.names()) == ["A", "C"]
        assert revenue_of(store, store.get("A").dataset_id) == EXPECTED_REVENUE


def test_duplicate_names_are_refused_unless_replace(tmp_path):
    path, _ = v_utf8(tmp_path)
    small = write_text(tmp_path / "small.csv", ["customer_id", "order_date", "amount"],
                       [["00001", "2024-01-01", "1.00"]], ",")
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("sales", path)
        with pytest.raises(DatasetError) as err:
            store.ingest("sales", small)
        assert "already exists" in str(err.value)
        with pytest.raises(DatasetError):
            store.ingest("  sales ", small)  # the same name once trimmed
        assert store.get("sales").n_transactions == 16
        replaced = store.ingest("sales", small, replace=True).dataset
        assert replaced.n_transactions == 1
        assert store.names() == ["sales"]
        assert revenue_of(store, replaced.dataset_id) == {"00001": Decimal("1.00")}
        with store.db.cursor() as cur:  # the old rows are gone
            assert cur.execute("SELECT COUNT(*) FROM transactions").fetchone()[0] == 1


def test_rename_and_delete(tmp_path):
    path, _ = v_utf8(tmp_path)
    bad = write_text(tmp_path / "bad.csv", ["customer_id", "order_date", "amount"],
                     [["1", "2024-01-01", "1"], ["", "2024-01-01", "1"]], ",")
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("one", path)
        store.ingest("two", bad)
        renamed = store.rename("one", "销售 2024")
        assert renamed.name == "销售 2024" and renamed.n_transactions == 16
        with pytest.raises(DatasetError):
            store.get("one")
        with pytest.raises(DatasetError):
            store.rename("two", "销售 2024")
        with pytest.raises(DatasetError):
            store.rename("missing", "x")
        with pytest.raises(DatasetError):
            store.rename("two", "   ")
        with pytest.raises(DatasetError):
            store.rename("two", "evil\nname")
        assert len(store.rejected_rows("two")) == 1
        store.delete("two")
        assert store.names() == ["销售 2024"]
        with pytest.raises(DatasetError):
            store.delete("two")
        with store.db.cursor() as cur:
            assert cur.execute("SELECT COUNT(*) FROM rejected_rows").fetchone()[0] == 0
            assert cur.execute("SELECT COUNT(DISTINCT dataset_id) FROM transactions").fetchone()[0] == 1
        store.ingest("two", path)  # the name is free again
        assert stage_counts(store.db, store.get("two").dataset_id, D) == EXPECTED_COUNTS
    with Store(tmp_path / "s.duckdb") as store:
        assert sorted(store.names()) == ["two", "销售 2024"]


def test_dataset_ids_are_never_reused(tmp_path, mem):
    # deleting or replacing the newest dataset must not hand its id to the next one: with created_at at
    # whole seconds the dashboard's cache key (dataset_id:created_at) could serve the old dataset's numbers
    path, _ = v_utf8(tmp_path)
    first = mem.ingest("A", path).dataset
    second = mem.ingest("B", path).dataset
    mem.delete("B")
    third = mem.ingest("C", path).dataset
    replaced = mem.ingest("C", v_excel_serials(tmp_path)[0], replace=True).dataset
    ids = [first.dataset_id, second.dataset_id, third.dataset_id, replaced.dataset_id]
    assert len(set(ids)) == 4, ids


def test_dataset_ids_are_never_reused_in_a_database_made_before_the_counter(tmp_path):
    db = tmp_path / "old.duckdb"
    path, _ = v_utf8(tmp_path)
    with Store(db) as store:
        for name in ("A", "B", "C"):
            store.ingest(name, path)
        with store.db.cursor() as cur:  # what an older crmflow left behind: no counter table
            cur.execute("DROP TABLE dataset_counter")
        store.delete("C")
    with Store(db) as store:  # reopening creates the counter above the highest id still stored
        # (C's id 3 was deleted before the counter existed: no file records it, so it is free again)
        assert store.ingest("D", path).dataset.dataset_id == 3
        store.delete("D")
        assert store.ingest("E", path).dataset.dataset_id == 4
    with Store(db) as store:  # the counter survives a restart
        store.delete("E")
        assert store.ingest("F", path).dataset.dataset_id == 5


def test_leading_zeros_and_text_ids_are_kept(tmp_path, mem):
    rows = [["007", "2024-01-01", "1"], ["7", "2024-01-01", "1"], ["0007", "2024-01-02", "1"],
            [" 007 ", "2024-01-03", "1"], ["1e3", "2024-01-01", "1"], ["000", "2024-01-01", "1"]]
    path = write_text(tmp_path / "ids.csv", ["customer_id", "order_date", "amount"], rows, ",")
    _, ds = ingest(mem, path)
    st = stages_of(mem, ds, date(2024, 1, 3))
    assert dict(zip(st["customer_id"], st["orders"].astype(int))) == {"007": 2, "7": 1, "0007": 1, "1e3": 1,
                                                                     "000": 1}


def test_ingest_leaves_nothing_in_the_file_and_old_leftovers_are_cleared(tmp_path):
    """An ingest's working tables and views live on its cursor only; a file
    where an earlier version left them (a table ingest_raw, a view
    profile_input) still takes new datasets."""
    import duckdb

    path = tmp_path / "store.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE ingest_raw AS SELECT 1 AS row_number, 'x' AS c0")
    con.execute("CREATE VIEW profile_input AS SELECT 'x' AS v")
    con.close()
    data = tmp_path / "t.csv"
    data.write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-02,bad\n", encoding="utf-8")
    with Store(path) as store:
        store.ingest("one", data)
        store.ingest("two", data)
        kept = store.db._con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal "
            "AND database_name = current_database()").fetchall()
        names = sorted(n for (n,) in kept)
        schema = (Path(__file__).resolve().parent.parent / "queries" / "store" / "create_schema.sql").read_text(
            encoding="utf-8")
        results = [n for n in names if n.startswith("result_")]  # stored results (crmflow.results)
        assert results and all(f"CREATE TABLE IF NOT EXISTS {n} (" in schema for n in results), results
        assert [n for n in names if n not in results] == [
            "audit", "customers", "dataset_counter", "datasets", "interactions", "orders", "rejected_rows",
            "surveys", "transaction_customers", "transaction_prices", "transactions"]
        assert store.rejected_rows("two")["row_number"].tolist() == [2]
