"""Excel and Parquet exports as analysts have them (issue 11, parts 2, 5, 10, 11):
workbooks with one sheet per year (appended) or with different sheets (the
user picks one), title rows above the header, header names that look like SQL
(``Order No.``, ``c.o.l``, ``"amount"``), Parquet files with odd headers and
types, and workbooks that unpack to far more than they weigh (zip bombs).

Workbooks are written with openpyxl and read back independently with openpyxl
(plain Python) to get the expected values.
"""

from __future__ import annotations

import decimal
import subprocess
import sys
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmflow import excel, upload
from crmflow.errors import CrmflowError, InputFileError
from crmflow.excel import ALL_SHEETS, SheetChoiceError
from crmflow.ingest import ReadOptions, sniff, stage
from crmflow.messages import Note
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
UCI_HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
UCI_2009 = [
    ["489434", "85048", "15CM CHRISTMAS GLASS BALL 20 LIGHTS", 12, datetime(2009, 12, 1, 7, 45), 6.95, 13085,
     "United Kingdom"],
    ["489435", "22350", "CAT BOWL", 12, datetime(2009, 12, 1, 23, 59), 2.55, 13086, "United Kingdom"],
    ["489436", "48173C", "DOOR MAT BLACK FLOCK", 10, datetime(2010, 6, 30, 9, 6), 5.95, 13078, "France"],
]
UCI_2010 = [
    ["537226", "22811", "SET OF 6 T-LIGHTS CACTI", 6, datetime(2010, 12, 6, 8, 34), 2.95, 15987, "United Kingdom"],
    ["581587", "23256", "CHILDRENS CUTLERY SPACEBOY", 4, datetime(2011, 12, 9, 12, 50), 4.15, 12680, "France"],
]
PRICE = {"amount": "Price"}


@pytest.fixture(scope="module")
def mem():
    """One store for the module (loading the excel extension takes seconds per
    database); every test stores under names of its own."""
    with Store(in_memory=True) as store:
        yield store


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def uci(path: Path) -> Path:
    return workbook(path, {"Year 2009-2010": [UCI_HEADER, *UCI_2009], "Year 2010-2011": [UCI_HEADER, *UCI_2010]})


def stored(store: Store, dataset_id: int) -> list[tuple]:
    with store.db.cursor() as cur:
        return cur.execute("SELECT row_number, customer_id, order_date, CAST(amount AS DOUBLE) FROM transactions "
                           "WHERE dataset_id = ? ORDER BY row_number", [dataset_id]).fetchall()


def staged(path: Path, options: ReadOptions | None = None):
    """(sniffed, rows of ingest_raw) of a file, read the way ingestion reads it."""
    sniffed = sniff(path, options)
    with upload.scratch().db.cursor() as cur:
        stage(cur, sniffed)
        rows = cur.table("ingest_raw").order("row_number").fetchall()
    return sniffed, rows


def keys(notes) -> list[str]:
    return [n.key for n in notes if isinstance(n, Note)]


def one_line(exc: CrmflowError) -> str:
    assert "\n" not in exc.line() and "Traceback" not in exc.line()
    return exc.line()


def openpyxl_rows(path: Path, sheet: str, first_row: int) -> list[list]:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    return [list(r) for r in ws.iter_rows(min_row=first_row, values_only=True) if any(c is not None for c in r)]


# --------------------------------------------------------------------------- several sheets
def test_year_sheets_with_the_same_columns_are_appended_with_a_note(tmp_path, mem):
    path = uci(tmp_path / "online_retail_II.xlsx")
    result = mem.ingest("uci", path, overrides={"transactions": PRICE})
    report = result.reports[0]
    assert report.rows_read == report.rows_loaded == 5  # both years, nothing lost
    note = next(n for n in report.warnings if isinstance(n, Note) and n.key == "xlsx_sheets_appended")
    assert note.params == {"n": 2, "sheets": "Year 2009-2010, Year 2010-2011"}
    assert "Year 2009-2010, Year 2010-2011" in str(note) and "--sheet" in str(note)
    assert "--sheet" not in note.text("zh", page=True) and "工作表" in note.text("zh", page=True)
    expected = [(i + 1, str(r[6]), r[4].date(), r[5])  # row numbers continue from sheet to sheet
                for i, r in enumerate(openpyxl_rows(path, "Year 2009-2010", 2)
                                      + openpyxl_rows(path, "Year 2010-2011", 2))]
    assert stored(mem, result.dataset.dataset_id) == expected
    assert expected[1][2] == date(2009, 12, 1)  # 23:59 stays on its day (Excel serial, time dropped)


def test_sheet_all_appends_and_one_sheet_reads_only_it(tmp_path, mem):
    path = uci(tmp_path / "retail.xlsx")
    both = mem.ingest("all", path, overrides={"transactions": PRICE},
                      read_options={"transactions": ReadOptions(sheet="all")})
    assert both.reports[0].rows_loaded == 5
    one = mem.ingest("2010", path, overrides={"transactions": PRICE},
                     read_options={"transactions": ReadOptions(sheet="Year 2010-2011")})
    assert one.reports[0].rows_loaded == 2 and "xlsx_sheets_appended" not in keys(one.reports[0].warnings)
    assert [r[1] for r in stored(mem, one.dataset.dataset_id)] == ["15987", "12680"]
    folded = mem.ingest("folded", path, overrides={"transactions": PRICE},
                        read_options={"transactions": ReadOptions(sheet=" year 2009-2010")})
    assert folded.reports[0].rows_loaded == 3


def different_sheets(path: Path) -> Path:
    """Two sheets that could each be the transactions, with different columns: the user chooses."""
    return workbook(path, {
        "Summary": [["customer_id", "order_date", "amount", "region"], ["N1", date(2024, 3, 1), 120.5, "North"],
                    ["S1", date(2024, 3, 2), 80, "South"]],
        "Orders": [["customer_id", "order_date", "amount"], ["C1", date(2024, 1, 5), 100.5],
                   ["C2", date(2024, 2, 6), 20]],
        "Empty": [],
    })


def test_the_one_sheet_with_the_required_columns_is_read_with_a_note(tmp_path, mem):
    # Tableau's Superstore: Orders beside Returns and People, which have other columns
    path = workbook(tmp_path / "superstore.xlsx", {
        "Orders": [["Order ID", "Order Date", "Customer ID", "Sales"], ["CA-1", date(2016, 11, 8), "CG-12520", 261.96],
                   ["CA-2", date(2016, 6, 12), "DV-13045", 14.62]],
        "Returns": [["Returned", "Order ID"], ["Yes", "CA-1"]],
        "People": [["Person", "Region"], ["Anna Andreadi", "West"]],
    })
    result = mem.ingest("superstore", path)
    report = result.reports[0]
    assert report.rows_loaded == 2 and report.mapping["amount"] == "Sales"
    assert any(getattr(w, "key", "") == "xlsx_sheet_chosen" and "Returns, People" in w for w in report.warnings)
    # a sheet that only holds the columns through the user's --map is found too
    path = workbook(tmp_path / "pivots.xlsx", {
        "sales_data": [["InvoiceNo", "InvoiceDate", "CustomerID", "LineValue"], ["5", date(2011, 1, 4), "1", 3.5]],
        "analysis": [["Month", "Sum of LineValue"], ["2011-01", 3.5]],
    })
    with pytest.raises(SheetChoiceError):
        mem.ingest("pivots", path)
    assert mem.ingest("pivots", path, overrides={"transactions": {"amount": "LineValue"}}).reports[0].rows_loaded == 1


def test_sheets_with_different_columns_are_refused_with_the_list_then_read_by_name(tmp_path, mem):
    path = different_sheets(tmp_path / "book.xlsx")
    with pytest.raises(SheetChoiceError) as err:
        mem.ingest("x", path)
    line = one_line(err.value)
    assert err.value.key == "xlsx_sheets_differ" and "Summary, Orders" in line and "Empty" not in line
    assert '--sheet "Summary"' in line and "--sheet all" in line
    assert err.value.choices == ("Summary", "Orders")
    page = err.value.localized("zh")
    assert "--" not in page and "Summary, Orders" in page and "工作表" in page
    result = mem.ingest("orders", path, read_options={"transactions": ReadOptions(sheet="Orders")})
    assert stored(mem, result.dataset.dataset_id) == [(1, "C1", date(2024, 1, 5), 100.5),
                                                    (2, "C2", date(2024, 2, 6), 20.0)]
    with pytest.raises(InputFileError) as err:
        mem.ingest("y", path, read_options={"transactions": ReadOptions(sheet="all")})
    assert err.value.key == "xlsx_sheets_all_differ" and "Summary, Orders" in one_line(err.value)


def test_an_unknown_sheet_is_refused_with_the_sheets_there_are(tmp_path, mem):
    path = different_sheets(tmp_path / "book.xlsx")
    with pytest.raises(InputFileError) as err:
        mem.ingest("x", path, read_options={"transactions": ReadOptions(sheet="Sheet1")})
    assert err.value.key == "xlsx_unknown_sheet"
    assert "no sheet Sheet1" in one_line(err.value) and "Summary, Orders" in one_line(err.value)


def test_sheet_names_are_bound_never_spliced(tmp_path, mem):
    name = "O'Brien\"; DROP TABLE x; --"
    path = workbook(tmp_path / "q.xlsx", {name[:31]: [["customer_id", "order_date", "amount"], ["C1", "2024-01-05", 3]],
                                          "Other": [["a", "b"], ["1", "2"]]})
    result = mem.ingest("q", path, read_options={"transactions": ReadOptions(sheet=name[:31])})
    assert stored(mem, result.dataset.dataset_id) == [(1, "C1", date(2024, 1, 5), 3.0)]


def test_a_workbook_whose_sheets_are_all_empty_is_one_clear_error(tmp_path, mem):
    path = workbook(tmp_path / "blank.xlsx", {"A": [], "B": []})
    with pytest.raises(InputFileError) as err:
        mem.ingest("x", path)
    assert err.value.key == "xlsx_no_data" and "blank.xlsx" in one_line(err.value)


# --------------------------------------------------------------------------- title rows and the header row
ERP_ROWS = [
    ["销售订单明细表"],
    ["导出日期：2024-04-01", None, None, "操作员：张三"],
    [],
    ["客户编号", "订单日期", "金额", "渠道"],
    ["C001", datetime(2024, 1, 5), 100.5, "线上"],
    ["C002", datetime(2024, 2, 6), 20, "门店"],
    [],  # a blank line inside the data holds nothing and is left out
    ["C001", datetime(2024, 3, 7), 7.25, "线上"],
]


def test_title_rows_above_the_header_are_skipped_and_said(tmp_path, mem):
    path = workbook(tmp_path / "erp.xlsx", {"明细": ERP_ROWS})
    sniffed, rows = staged(path)
    assert sniffed.headers == ["客户编号", "订单日期", "金额", "渠道"] and sniffed.header_row == 4
    assert [r[1] for r in rows] == ["C001", "C002", "C001"]
    result = mem.ingest("erp", path)
    report = result.reports[0]
    note = next(n for n in report.warnings if n.key == "xlsx_header_row")
    assert note.params == {"sheet": "明细", "row": 4, "skipped": 3}
    assert "--header-row" in str(note) and "--" not in note.text("en", page=True)
    assert stored(mem, result.dataset.dataset_id) == [(1, "C001", date(2024, 1, 5), 100.5),
                                                    (2, "C002", date(2024, 2, 6), 20.0),
                                                    (3, "C001", date(2024, 3, 7), 7.25)]


def test_header_row_given_by_the_user(tmp_path):
    path = workbook(tmp_path / "erp.xlsx", {"明细": ERP_ROWS})
    sniffed, rows = staged(path, ReadOptions(header_row=4))
    assert sniffed.headers[:3] == ["客户编号", "订单日期", "金额"] and len(rows) == 3 and not sniffed.notes
    sniffed, rows = staged(path, ReadOptions(header_row=0))  # no header: every row with a value is data
    assert not sniffed.header and sniffed.headers == ["column1", "column2", "column3", "column4"]
    assert [r[1] for r in rows] == ["销售订单明细表", "导出日期：2024-04-01", "客户编号",
                                    "C001", "C002", "C001"]
    sniffed, rows = staged(path, ReadOptions(header_row=5))  # a data row taken as the header: the user's word
    assert sniffed.headers[0] == "C001" and [r[1] for r in rows] == ["C002", "C001"]
    with pytest.raises(InputFileError) as err:
        staged(path, ReadOptions(header_row=40))
    assert err.value.key == "xlsx_header_row_beyond" and "ends at row 8" in one_line(err.value)


def test_a_headerless_sheet_under_a_title_is_read_without_a_header(tmp_path):
    rows = [["Orders March"], [], ["C1", "2024-03-01", 5.5], ["C2", "2024-03-02", 6]]
    path = workbook(tmp_path / "h.xlsx", {"S": rows})
    sniffed, rows = staged(path)
    assert not sniffed.header and [r[1:] for r in rows] == [("C1", "2024-03-01", "5.5"), ("C2", "2024-03-02", "6")]
    assert sniffed.notes[0].key == "xlsx_rows_skipped" and sniffed.notes[0].params["row"] == 3


def test_detect_header_row_rule():
    rows = [["Report"], [None, None], ["id", "date", "amount"], ["1", "2024-01-01", "3"]]
    assert excel.detect_header_row(rows, lambda r: not r[0][0].isdigit()) == (3, 4)
    assert excel.detect_header_row([["1", "2"], ["3", "4"]], lambda r: False) == (0, 1)
    assert excel.detect_header_row([], lambda r: True) == (0, 1)


# --------------------------------------------------------------------------- header names are plain names
ODD = ["Order No.", "c.o.l", '"amount"', "", "dup", "dup", "rowid", "客户 编号", "下单 日期"]


def odd_rows() -> list[list]:
    return [[f"N{i}", f"x{i}", f"{i}.5", f"e{i}", f"d{i}a", f"d{i}b", str(100 + i), f"客户{i}", f"2024-01-0{i + 1}"]
            for i in range(3)]


def test_xlsx_headers_that_look_like_sql_are_plain_names(tmp_path, mem):
    path = workbook(tmp_path / "odd.xlsx", {"S": [ODD, *odd_rows()]})
    sniffed, rows = staged(path)
    assert sniffed.headers == ODD
    assert [list(r[1:]) for r in rows] == odd_rows()  # every column holds its own cells
    report = mem.ingest("odd", path).reports[0]
    assert report.mapping == {"customer_id": "客户 编号", "order_date": "下单 日期", "amount": '"amount"',
                              "order_id": "Order No."}
    preview = upload.inspect_file(path, "transactions")
    assert preview.column_labels[3:6] == ("#4", "dup (#5)", "dup (#6)")


def test_parquet_headers_that_look_like_sql_are_plain_names(tmp_path, mem):
    path = tmp_path / "odd.parquet"
    columns = list(zip(*odd_rows()))
    pq.write_table(pa.table([pa.array(list(c)) for c in columns], names=ODD), path)
    sniffed, rows = staged(path)
    assert sniffed.headers == ODD  # as the file has them (DuckDB would say C4 and dup_1)
    assert [list(r[1:]) for r in rows] == odd_rows()
    assert upload.read_controls(upload.inspect_file(path, "transactions")) is None  # no header row to choose
    result = mem.ingest("odd parquet", path)
    assert stored(mem, result.dataset.dataset_id) == [(i + 1, f"客户{i}", date(2024, 1, i + 1), i + 0.5)
                                                    for i in range(3)]


def test_parquet_odd_types_are_read_as_text_or_their_value(tmp_path, mem):
    path = tmp_path / "types.parquet"
    shanghai = pa.timestamp("us", tz="Asia/Shanghai")
    utc = [datetime(2024, 1, 1, 23, 30, tzinfo=timezone.utc), datetime(2024, 2, 1, 1, 0, tzinfo=timezone.utc)]
    pq.write_table(pa.table({
        "customer_id": pa.array(["A", "B"]).dictionary_encode(),
        "order_time": pa.array(utc, shanghai),  # 07:30 on 2 January in Shanghai
        "amount": pa.array([decimal.Decimal("12.50"), decimal.Decimal("0.10")], pa.decimal128(10, 2)),
        "tags": pa.array([[1, 2], [3]]),
        "meta": pa.array([{"k": 1}, {"k": 2}]),
        "blob": pa.array([b"\x00\x01", b"ab"]),
        "paid_at": pa.array(utc, pa.timestamp("us", tz="-05:00")),  # 18:30 on 1 January at -05:00
    }), path)
    sniffed, rows = staged(path)
    assert rows[0][4:6] == ("[1, 2]", "{'k': 1}")
    assert rows[0][2] == "2024-01-02 07:30:00" and rows[0][7] == "2024-01-01 18:30:00"  # each zone's wall clock
    result = mem.ingest("types", path)
    assert stored(mem, result.dataset.dataset_id) == [(1, "A", date(2024, 1, 2), 12.5), (2, "B", date(2024, 2, 1), 0.1)]


def test_stage_frame_takes_columns_by_position(mem):
    import pandas as pd

    frame = pd.DataFrame([["C1", "2024-01-05", "3"]], columns=["Order No.", "c.o.l", '"amount"'])
    with upload.scratch().db.cursor() as cur:
        from crmflow.ingest import stage_frame

        sniffed = stage_frame(cur, frame)
        assert cur.table("ingest_raw").fetchall() == [(1, "C1", "2024-01-05", "3")]
    assert sniffed.headers == ["Order No.", "c.o.l", '"amount"']


# --------------------------------------------------------------------------- zip bombs
def bomb(path: Path, sheet_xml: bytes) -> Path:
    """A workbook whose one sheet is ``sheet_xml`` (everything else minimal)."""
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                               b'content-types"/>',
        "xl/workbook.xml": b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="'
                           b'http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                           b'<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                                      b'relationships"><Relationship Id="rId1" Type="x" '
                                      b'Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return path


def test_a_zip_bomb_is_refused_before_reading(tmp_path):
    cell = b'<c r="A1" t="inlineStr"><is><t>' + b"x" * 42 + b"</t></is></c>"
    xml = (b'<worksheet><dimension ref="A1:A1"/><sheetData><row r="1">' + cell * 512_000
           + b"</row></sheetData></worksheet>")
    path = bomb(tmp_path / "bomb.xlsx", xml)
    assert len(xml) > 32e6 and path.stat().st_size < 1e6
    with pytest.raises(InputFileError) as err:
        sniff(path)
    assert err.value.key == "xlsx_too_big" and "bomb.xlsx" in one_line(err.value) and "CSV" in one_line(err.value)


def test_a_sheet_declaring_too_many_cells_is_refused(tmp_path):
    path = bomb(tmp_path / "wide.xlsx", b'<worksheet><dimension ref="A1:XFD1048576"/><sheetData/></worksheet>')
    with pytest.raises(InputFileError) as err:
        sniff(path)
    assert err.value.key == "xlsx_too_big" and "17,179,869,184 cells" in one_line(err.value)


def test_too_much_xml_in_all_is_refused(tmp_path, monkeypatch):
    path = uci(tmp_path / "retail.xlsx")
    total = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(excel, "MAX_XLSX_XML_BYTES", total - 1)
    with pytest.raises(InputFileError) as err:
        sniff(path)
    assert err.value.key == "xlsx_too_big"
    monkeypatch.setattr(excel, "MAX_XLSX_XML_BYTES", total)
    assert sniff(path).workbook.sheets[1].name == "Year 2010-2011"


def test_a_sheet_without_a_dimension_is_measured_from_its_cells(tmp_path, mem):
    xml = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
           b'<row r="1"><c r="A1" t="inlineStr"><is><t>customer_id</t></is></c><c r="B1" t="inlineStr"><is><t>'
           b'order_date</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>'
           b'<row r="2"><c r="A2" t="inlineStr"><is><t>C1</t></is></c><c r="B2" t="inlineStr"><is><t>2024-01-05'
           b'</t></is></c><c r="C2"><v>4.5</v></c></row></sheetData></worksheet>')
    path = bomb(tmp_path / "nodim.xlsx", xml)
    assert sniff(path).workbook.sheets[0].last_col == 3
    assert sniff(path).workbook.sheets[0].last_row == 2


def test_a_damaged_workbook_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/other.xml", b"<x/>")
    with pytest.raises(InputFileError) as err:
        sniff(path)
    assert err.value.key == "xlsx_damaged"


# --------------------------------------------------------------------------- the Data page's logic
def test_page_picks_a_sheet_when_the_sheets_differ(tmp_path):
    path = upload.save_upload(different_sheets(tmp_path / "src.xlsx").read_bytes(), "book.xlsx", tmp_path)
    entry = {"path": str(path), "name": "book.xlsx"}
    with pytest.raises(SheetChoiceError) as err:
        upload.inspect_file(path, "transactions")
    entry["error"] = err.value
    controls = upload.read_controls(None, err.value)
    assert controls.sheets == ("Summary", "Orders") and controls.sheet is None and controls.header_row is None
    preview = upload.apply_read_choice(entry, "transactions", sheet="Orders")
    assert "error" not in entry and entry["preview"] is preview
    assert preview.options.sheet == "Orders" and preview.detected == {"customer_id": 0, "order_date": 1, "amount": 2}
    assert preview.rows_read == 2 and "Orders" in upload.describe(preview, "en")
    controls = upload.read_controls(preview)
    assert controls.sheets == ("Summary", "Orders") and controls.sheet == "Orders" and controls.header_row == 1
    assert upload.check([upload.plan(preview, upload.default_choices(preview))]).reports[0].rows_loaded == 2


def test_page_offers_all_sheets_when_they_share_columns(tmp_path):
    path = uci(tmp_path / "retail.xlsx")
    preview = upload.inspect_file(path, "transactions")
    assert preview.rows_read == 5 and preview.sheets == ("Year 2009-2010", "Year 2010-2011")
    controls = upload.read_controls(preview)
    assert controls.sheets == (ALL_SHEETS, "Year 2009-2010", "Year 2010-2011") and controls.sheet == ALL_SHEETS
    entry = {"path": str(path), "name": "retail.xlsx", "preview": preview}
    one = upload.apply_read_choice(entry, "transactions", sheet="Year 2010-2011")
    assert one.rows_read == 2 and upload.read_controls(one).sheet == "Year 2010-2011"


def test_page_header_row_choice_reads_again_and_keeps_the_preview_on_error(tmp_path):
    path = workbook(tmp_path / "erp.xlsx", {"明细": ERP_ROWS})
    preview = upload.inspect_file(path, "transactions")
    assert preview.header_row == 4 and upload.read_controls(preview).header_row == 4
    assert "row 4" in upload.describe(preview, "en") and "第 4 行" in upload.describe(preview, "zh")
    assert upload.read_controls(preview).sheets == ()  # one sheet: no picker
    entry = {"path": str(path), "name": "erp.xlsx", "preview": preview}
    upload.apply_read_choice(entry, "transactions", header_row=0)
    assert entry["preview"].header_row == 0 and not entry["preview"].header and entry["preview"].rows_read == 6
    kept = entry["preview"]
    assert upload.apply_read_choice(entry, "transactions", header_row=99) is None
    assert entry["preview"] is kept and entry["read_error"].key == "xlsx_header_row_beyond"
    upload.apply_read_choice(entry, "transactions", header_row=4)
    assert entry["preview"].headers[0] == "客户编号" and "read_error" not in entry


def test_page_header_row_for_a_text_file_is_what_was_read(tmp_path):
    path = upload.save_upload(b"customer_id,order_date,amount\nC1,2024-01-05,3\n", "s.csv", tmp_path)
    controls = upload.read_controls(upload.inspect_file(path, "transactions"))
    assert controls.sheets == () and controls.header_row == 1


def test_switching_a_column_off_works_under_title_rows_and_on_appended_sheets(tmp_path):
    title = [["Online Retail II"], ["exported 2024-04-01"], []]
    path = workbook(tmp_path / "retail.xlsx", {"Year 2009-2010": [*title, UCI_HEADER, *UCI_2009],
                                               "Year 2010-2011": [UCI_HEADER, *UCI_2010]})
    preview = upload.inspect_file(path, "transactions")
    assert preview.sheet_header_rows == {"Year 2009-2010": 4, "Year 2010-2011": 1}
    choices = upload.default_choices(preview) | {"amount": UCI_HEADER.index("Price"), "quantity": None,
                                                     "unit_price": None}
    plan = upload.plan(preview, choices)
    assert plan.hidden == (UCI_HEADER.index("Quantity"),)
    report = upload.check([plan]).reports[0]
    assert "quantity" not in report.mapping and report.mapping["amount"] == "Price" and report.rows_loaded == 5
    one = upload.reread(path, "transactions", "retail.xlsx", sheet="Year 2009-2010")
    plan = upload.plan(one, upload.default_choices(one) | {"amount": 5, "quantity": None, "unit_price": None})
    report = upload.check([plan]).reports[0]
    assert report.rows_loaded == 3 and "quantity" not in report.mapping


# --------------------------------------------------------------------------- command line
def test_cli_sheet_option_and_the_different_sheets_message(tmp_path):
    path = different_sheets(tmp_path / "book.xlsx")
    db = tmp_path / "x.duckdb"
    proc = subprocess.run([sys.executable, "-m", "crmflow", "ingest", str(path), "--name", "b", "--db", str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and "Summary, Orders" in proc.stderr and "--sheet" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "crmflow", "ingest", str(path), "--name", "b", "--db", str(db),
                           "--sheet", "Orders"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "2 loaded" in proc.stdout or "2 read" in proc.stdout


# --------------------------------------------------------------------------- the Data page in Streamlit
@pytest.fixture
def data_page(tmp_path, monkeypatch):
    """The Data page (AppTest) on a database of its own with one small dataset."""
    import gc

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "page.duckdb"
    sales = tmp_path / "s.csv"
    sales.write_text("customer_id,order_date,amount\nS1,2024-05-02,250\n", encoding="utf-8")
    with Store(db) as store:
        store.ingest("small", sales)
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["dataset"] = "small"
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()
    gc.collect()


def test_data_page_sheet_picker_and_header_row(tmp_path, data_page):
    at = data_page
    path = different_sheets(tmp_path / "book.xlsx")
    at.file_uploader(key="data:upload:transactions").upload("book.xlsx", path.read_bytes()).run()
    assert not at.exception, at.exception
    assert any("Summary, Orders" in e.value for e in at.error)  # the sheets differ: pick one
    picker = at.selectbox(key="data:sheet:transactions")
    assert picker.options == ["Summary", "Orders"]
    picker.set_value("Orders").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="data:map:transactions:customer_id").value == 0
    assert at.selectbox(key="data:map:transactions:amount").value == 2
    assert at.number_input(key="data:header_row:transactions").value == 1
    at.number_input(key="data:header_row:transactions").set_value(0).run()  # no header: columns numbered
    assert not at.exception
    assert at.selectbox(key="data:sheet:transactions").value == "Orders"
    assert at.dataframe[0].value.iloc[0, 0] == "customer_id"  # the preview: the header row is now data
    at.number_input(key="data:header_row:transactions").set_value(1).run()
    at.button(key="data:check").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    from crmflow.i18n import t

    assert t("data_check_ok", "en", loaded=2, read=2) in [s.value for s in at.success]


def test_a_1904_date_system_workbook_is_refused_not_shifted(tmp_path):
    wb = openpyxl.Workbook()
    wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    wb.active.append(["customer_id", "order_date", "amount"])
    wb.active.append(["C1", datetime(2024, 1, 5), 3])
    wb.save(tmp_path / "mac.xlsx")
    with pytest.raises(InputFileError) as err:
        sniff(tmp_path / "mac.xlsx")
    assert err.value.key == "xlsx_1904" and "four years" in one_line(err.value)


def test_a_sheet_with_broken_xml_is_one_clear_error(tmp_path, mem):
    src = zipfile.ZipFile(uci(tmp_path / "src.xlsx"))
    path = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut off mid-sheet
            zf.writestr(info, data)
    with pytest.raises(InputFileError) as err:
        mem.ingest("cut", path)
    assert "cut.xlsx" in one_line(err.value)
