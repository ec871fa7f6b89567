"""crmflow.upload: what the Data view does with an uploaded file, without a browser
(Streamlit's AppTest cannot drive st.file_uploader, so the upload path is tested here).

Files are written byte for byte like real exports: a GBK CSV with Chinese headers,
';' separators and decimal commas, .xlsx, Parquet, headerless text, and broken files.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from crmflow import upload
from crmflow.analytics import rfm
from crmflow.errors import CrmflowError, DatasetError, MappingError
from crmflow.store import Store

GBK_TEXT = (
    "客户编号;下单日期;金额;区域;地区;备注\r\n"
    "001;2024-01-05;12,50;华东;东部;首单\r\n"
    "002;2024-02-05;1.234,50;华北;北部;\r\n"
    "001;2024-03-05;7,00;华东;东部;复购\r\n"
    "003;坏日期;5,00;华南;南部;\r\n"
    ";2024-03-09;8,00;华南;南部;\r\n"
)
D = date(2024, 3, 31)


def gbk_file(tmp_path: Path, text: str = GBK_TEXT, name: str = "销售.csv") -> Path:
    return upload.save_upload(text.encode("gbk"), name, tmp_path)


def by_customer(frame: pd.DataFrame, column: str) -> dict[str, object]:
    return dict(zip(frame["customer_id"], frame[column]))


@pytest.fixture
def mem():
    with Store(in_memory=True) as store:
        yield store


def one_line(exc: CrmflowError) -> str:
    line = exc.line()
    assert "\n" not in line and "Traceback" not in line
    return line


# --------------------------------------------------------------------------- saving the upload
def test_save_upload_keeps_the_name_in_a_private_folder_and_discard_removes_it(tmp_path):
    path = upload.save_upload(b"a,b\n1,2\n", "../../etc/销售 2024.CSV", tmp_path)
    assert path.name == "销售 2024.CSV" and path.read_bytes() == b"a,b\n1,2\n"
    assert path.parent.parent == tmp_path and path.parent.name.startswith("crmflow-upload-")
    upload.discard(path)
    assert not path.parent.exists()
    upload.discard(tmp_path / "elsewhere" / "x.csv")  # never outside an upload folder
    assert tmp_path.exists()


def test_save_upload_to_an_unusable_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CrmflowError) as err:
        upload.save_upload(b"a", "a.csv", blocker)
    assert "temporary folder" in one_line(err.value)


@pytest.mark.parametrize("name, expected", [
    ("C:\\Users\\me\\sales.xlsx", "sales.xlsx"), ("a\x00b\x1f.csv", "ab.csv"), ("", "upload"),
    ("...", "upload"), ('x<y>:"z".parquet', "x_y___z_.parquet"), ("n" * 300 + ".csv", "n" * 116 + ".csv"),
])
def test_safe_file_name(name, expected):
    assert upload.safe_file_name(name) == expected


# --------------------------------------------------------------------------- GBK, Chinese headers, ';', decimal comma
def test_gbk_semicolon_decimal_comma_preview(tmp_path):
    preview = upload.inspect_file(gbk_file(tmp_path), "transactions")
    assert (preview.format, preview.encoding, preview.delimiter, preview.header) == ("csv", "GB18030/GBK", ";", True)
    assert preview.decimal_comma is True and preview.problem is None
    assert preview.headers == ("客户编号", "下单日期", "金额", "区域", "地区", "备注")
    assert preview.detected == {"customer_id": 0, "order_date": 1, "amount": 2, "region": 3}
    assert preview.rows_read == 5 and preview.file_name == "销售.csv"
    assert list(preview.rows.columns) == list(preview.headers)
    assert preview.rows.iloc[0].tolist() == ["001", "2024-01-05", "12,50", "华东", "东部", "首单"]  # as read: text
    assert preview.rows.iloc[1, 5] is None
    en, zh = upload.describe(preview, "en"), upload.describe(preview, "zh")
    for words in ("GB18030/GBK", "semicolons", "first row holds the column names", "decimal comma", "5 rows"):
        assert words in en
    for words in ("GB18030/GBK", "分号分隔", "第一行为列名", "小数逗号", "共 5 行"):
        assert words in zh


def test_gbk_file_checks_then_saves_with_the_same_numbers(tmp_path, mem):
    preview = upload.inspect_file(gbk_file(tmp_path), "transactions")
    plan = upload.plan(preview, upload.default_choices(preview))
    assert plan.hidden == () and plan.path == preview.path
    assert plan.overrides == {"customer_id": "#1", "order_date": "#2", "amount": "#3", "region": "#4"}
    checked = upload.check([plan])
    report = checked.reports[0]
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 3, 2)
    assert report.rejected_by_reason == {"order date is not a date": 1, "missing customer id": 1}
    assert report.decimal_comma and report.encoding == "GB18030/GBK"
    assert checked.transactions == 3 and checked.rows_rejected == 2
    assert sorted(checked.rejected["reason"]) == ["missing customer id", "order date is not a date"]
    assert mem.names() == []  # the dry run stored nothing anywhere

    saved = upload.save(mem, "销售 2024", [plan])
    assert saved.dataset.n_transactions == 3 and saved.dataset.n_rejected == 2
    scores = rfm(mem.db, saved.dataset.dataset_id, D)
    assert by_customer(scores, "monetary") == {"001": 19.5, "002": 1234.5}  # decimal comma, thousands point
    assert by_customer(scores, "frequency") == {"001": 2, "002": 1}  # leading zeros kept
    rejected = upload.rejected_frame(mem.rejected_rows("销售 2024"), "zh")
    assert sorted(rejected["reason"]) == ["下单日期不是有效日期", "缺少客户编号"]


def test_switching_an_automatic_field_off_hides_every_column_that_would_fill_it(tmp_path, mem):
    path = gbk_file(tmp_path)
    original = path.read_bytes()
    preview = upload.inspect_file(path, "transactions")
    choices = upload.default_choices(preview) | {"region": None}
    # 区域 and 地区 are both region synonyms: hiding the first would let the second take its place
    assert upload.hidden_columns("transactions", preview.headers, choices) == (3, 4)
    plan = upload.plan(preview, choices)
    assert plan.path != preview.path and path.read_bytes() == original  # the upload itself is untouched
    copy = Path(plan.path).read_bytes().decode("gbk")
    assert copy.startswith("客户编号;下单日期;金额;unused:区域;unused:地区;备注\r\n")
    assert copy.split("\r\n", 1)[1] == original.decode("gbk").split("\r\n", 1)[1]
    report = upload.check([plan]).reports[0]
    assert "region" not in report.mapping and report.rows_loaded == 3 and report.decimal_comma
    ds = upload.save(mem, "no-region", [plan]).dataset
    assert int(mem.db.run("data_coverage", dataset_id=ds.dataset_id).iloc[0]["region"]) == 0


def test_choosing_another_column_for_a_field(tmp_path, mem):
    text = "客户编号,下单日期,发货日期,金额\n7,2024-01-01,2024-01-03,10\n7,2024-02-01,2024-02-05,20\n"
    preview = upload.inspect_file(upload.save_upload(text.encode(), "t.csv", tmp_path), "transactions")
    assert preview.detected["order_date"] == 1
    plan = upload.plan(preview, upload.default_choices(preview) | {"order_date": 2})
    report = upload.check([plan]).reports[0]
    assert report.mapping["order_date"] == "发货日期"
    ds = upload.save(mem, "shipped", [plan]).dataset
    scores = rfm(mem.db, ds.dataset_id, date(2024, 2, 5))
    assert by_customer(scores, "recency_days") == {"7": 0}


def test_repeated_header_names_are_told_apart_by_position(tmp_path):
    text = "customer,date,amount,amount\nA,2024-01-01,1,100\nA,2024-01-02,2,200\n"
    preview = upload.inspect_file(upload.save_upload(text.encode(), "dup.csv", tmp_path), "transactions")
    assert preview.column_labels == ("customer", "date", "amount (#3)", "amount (#4)")
    plan = upload.plan(preview, upload.default_choices(preview) | {"amount": 3})
    assert plan.overrides["amount"] == "#4"
    checked = upload.check([plan])
    assert checked.transactions == 2


@pytest.mark.parametrize("choices, needle", [
    ({"amount": None}, "required transactions field(s) amount"),
    ({"amount": 0}, "chosen for both customer_id and amount"),
    ({"amount": 9}, "not in the file"),
    ({"colour": 1}, "Unknown transactions field"),
])
def test_bad_choices_are_one_line_errors(tmp_path, choices, needle):
    preview = upload.inspect_file(gbk_file(tmp_path), "transactions")
    with pytest.raises(MappingError) as err:
        upload.plan(preview, upload.default_choices(preview) | choices)
    assert needle in one_line(err.value)


# --------------------------------------------------------------------------- other formats
def test_xlsx_with_chinese_headers(tmp_path, mem):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["客户编号", "订单日期", "销售额", "渠道", "产品类别"])
    ws.append(["C01", date(2024, 1, 5), 100.5, "线上", "A"])
    ws.append(["C02", date(2024, 2, 6), 50, "门店", "B"])
    ws.append(["C01", date(2024, 3, 7), 20, "线上", "A"])
    src = tmp_path / "src.xlsx"
    wb.save(src)
    path = upload.save_upload(src.read_bytes(), "订单.xlsx", tmp_path)
    preview = upload.inspect_file(path, "transactions")
    assert preview.format == "xlsx" and preview.encoding is None
    assert preview.detected == {"customer_id": 0, "order_date": 1, "amount": 2, "category": 4, "channel": 3}
    assert "Excel" in upload.describe(preview, "en")
    plan = upload.plan(preview, upload.default_choices(preview) | {"channel": None})
    assert plan.hidden == (3,)
    report = upload.check([plan]).reports[0]
    assert "channel" not in report.mapping and "category" in report.mapping and report.rows_loaded == 3
    ds = upload.save(mem, "xlsx", [plan]).dataset
    assert by_customer(rfm(mem.db, ds.dataset_id, date(2024, 3, 7)), "monetary") == {"C01": 120.5, "C02": 50.0}


def test_parquet_with_typed_columns(tmp_path, mem):
    frame = pd.DataFrame({"customer_id": ["001", "002", "001"],
                          "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01"]),
                          "amount": [10.0, 20.0, 5.25], "region": ["N", "S", "N"]})
    src = tmp_path / "src.parquet"
    frame.to_parquet(src, index=False)
    preview = upload.inspect_file(upload.save_upload(src.read_bytes(), "orders.parquet", tmp_path), "transactions")
    assert preview.format == "parquet" and preview.headers == ("customer_id", "order_date", "amount", "region")
    assert preview.detected == {"customer_id": 0, "order_date": 1, "amount": 2, "region": 3}
    plan = upload.plan(preview, upload.default_choices(preview) | {"region": None})
    assert plan.hidden == (3,) and "region" not in upload.check([plan]).reports[0].mapping
    ds = upload.save(mem, "pq", [plan]).dataset
    assert by_customer(rfm(mem.db, ds.dataset_id, date(2024, 2, 1)), "monetary") == {"001": 15.25, "002": 20.0}


def test_headerless_text_is_mapped_from_content(tmp_path):
    text = "00001 19970101 1 11.77\n00002 19970112 1 12.00\n00001 19970115 2 30.50\n"
    preview = upload.inspect_file(upload.save_upload(text.encode(), "cdnow.txt", tmp_path), "transactions")
    assert preview.header is False and preview.delimiter == "whitespace"
    assert preview.headers == ("column1", "column2", "column3", "column4")
    assert preview.detected["customer_id"] == 0 and preview.detected["order_date"] == 1
    assert preview.detected["amount"] == 3
    assert "no header row" in upload.describe(preview, "en")
    plan = upload.plan(preview, upload.default_choices(preview))
    assert plan.hidden == ()
    assert upload.check([plan]).transactions == 3


def test_customers_and_interactions_files_go_in_together(tmp_path, mem):
    tx = upload.inspect_file(gbk_file(tmp_path), "transactions")
    customers = upload.save_upload("客户编号,客户名称,是否大客户\n001,甲公司,是\n002,乙公司,否\n".encode(), "c.csv", tmp_path)
    interactions = upload.save_upload(b"customer_id,date,type\n001,2024-01-07,visit\n002,2024-02-09,complaint\n",
                                      "i.csv", tmp_path)
    cp = upload.inspect_file(customers, "customers")
    ip = upload.inspect_file(interactions, "interactions")
    assert cp.detected["customer_id"] == 0 and ip.detected == {"customer_id": 0, "date": 1, "type": 2}
    plans = [upload.plan(p, upload.default_choices(p)) for p in (tx, cp, ip)]
    checked = upload.check(plans)
    assert (checked.transactions, checked.customers, checked.interactions) == (3, 2, 2)
    ds = upload.save(mem, "all", plans).dataset
    coverage = mem.db.run("data_coverage", dataset_id=ds.dataset_id).iloc[0]
    assert int(coverage["customers"]) == 2 and int(coverage["complaints"]) == 1


# --------------------------------------------------------------------------- bad files
def write(tmp_path: Path, name: str, data: bytes) -> Path:
    return upload.save_upload(data, name, tmp_path)


@pytest.mark.parametrize("name, data, needle", [
    ("empty.csv", b"", "is empty"),
    ("blank.csv", b"\n\n  \n", "is empty"),
    ("noise.csv", bytes(range(256)) * 20, "not a text table"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "Excel 97-2003"),
    ("broken.xlsx", b"PK\x03\x04" + b"xl/" + b"\x00" * 300, "could not read"),
    ("header_only.csv", b"customer_id,order_date,amount\n", "no rows"),
    ("one_column.csv", b"customer\nA\nB\nC\n", "single value"),
    ("fake.parquet", b"PAR1 this is not parquet", "could not read"),
])
def test_bad_files_are_one_line_errors(tmp_path, name, data, needle):
    path = write(tmp_path, name, data)
    with pytest.raises(CrmflowError) as err:
        upload.inspect_file(path, "transactions")
    assert needle.lower() in one_line(err.value).lower()


def test_zip_archive_says_to_unzip(tmp_path):
    src = tmp_path / "a.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("t.csv", "customer_id,order_date,amount\n1,2024-01-01,3\n")
    with pytest.raises(CrmflowError) as err:
        upload.inspect_file(write(tmp_path, "export.zip", src.read_bytes()), "transactions")
    assert "Unzip" in one_line(err.value)


def test_a_missing_required_column_is_a_preview_problem_then_a_mapping_choice(tmp_path, mem):
    text = "客户编号,下单日期,Betrag\n1,2024-01-01,5\n2,2024-01-02,6\n"
    preview = upload.inspect_file(write(tmp_path, "de.csv", text.encode()), "transactions")
    assert "amount" in preview.problem.line() and "amount" not in preview.detected
    with pytest.raises(MappingError):
        upload.plan(preview, upload.default_choices(preview))
    plan = upload.plan(preview, upload.default_choices(preview) | {"amount": 2})
    assert upload.save(mem, "de", [plan]).dataset.n_transactions == 2


def test_every_row_rejected_is_a_clear_error_and_stores_nothing(tmp_path, mem):
    text = "customer_id,order_date,amount\n1,not a date,x\n2,also not,y\n"
    preview = upload.inspect_file(write(tmp_path, "bad.csv", text.encode()), "transactions")
    plan = upload.plan(preview, upload.default_choices(preview))
    with pytest.raises(CrmflowError) as err:
        upload.check([plan])
    # no date can be read at all: the message names the column and shows its values (issue 11)
    assert 'holds no date in a form crmflow reads (e.g. "also not", "not a date")' in one_line(err.value)
    with pytest.raises(CrmflowError):
        upload.save(mem, "bad", [plan])
    assert mem.names() == []


def test_a_failed_upload_never_loses_a_stored_dataset(tmp_path, mem):
    good = upload.inspect_file(gbk_file(tmp_path), "transactions")
    kept = upload.save(mem, "keep", [upload.plan(good, upload.default_choices(good))]).dataset
    with pytest.raises(DatasetError):
        upload.save(mem, "keep", [upload.plan(good, upload.default_choices(good))])  # no replace
    bad = upload.inspect_file(write(tmp_path, "bad.csv", b"customer_id,order_date,amount\n1,x,y\n"), "transactions")
    with pytest.raises(CrmflowError):
        upload.save(mem, "keep", [upload.plan(bad, upload.default_choices(bad))], replace=True)
    after = mem.get("keep")
    assert (after.dataset_id, after.n_transactions, after.created_at) == (kept.dataset_id, 3, kept.created_at)
    assert by_customer(rfm(mem.db, after.dataset_id, D), "monetary") == {"001": 19.5, "002": 1234.5}


def test_check_needs_one_transactions_file(tmp_path):
    preview = upload.inspect_file(write(tmp_path, "c.csv", b"customer_id,name\n1,A\n"), "customers")
    plan = upload.plan(preview, upload.default_choices(preview))
    with pytest.raises(CrmflowError, match="No transactions file"):
        upload.check([plan])
    with pytest.raises(CrmflowError, match="same table"):
        upload.check([plan, plan])


# --------------------------------------------------------------------------- words for the interface
def test_reason_labels_and_frames_in_both_languages(tmp_path):
    preview = upload.inspect_file(gbk_file(tmp_path), "transactions")
    report = upload.check([upload.plan(preview, upload.default_choices(preview))]).reports[0]
    assert upload.reasons_frame(report, "en").to_dict("records") == [
        {"reason": "missing customer id", "rows": 1}, {"reason": "order date is not a date", "rows": 1}]
    assert set(upload.reasons_frame(report, "zh")["reason"]) == {"缺少客户编号", "下单日期不是有效日期"}
    assert upload.reason_label("something new", "zh") == "something new"
    for reason in upload.REASON_KEYS:
        assert upload.reason_label(reason, "zh") != reason
    mapping = upload.mapping_frame(report, "zh")
    assert mapping.to_dict("records")[:3] == [{"field": "客户编号", "column": "客户编号"},
                                             {"field": "下单日期", "column": "下单日期"},
                                             {"field": "金额", "column": "金额"}]


def test_coverage_frame_lists_every_optional_item_with_what_it_unlocks():
    frame = upload.coverage_frame({"cost": 10, "customers": 0, "transactions": 99}, "en")
    assert list(frame.columns) == ["item", "present", "rows", "unlocks"]
    assert len(frame) == len(upload.COVERAGE_ITEMS)
    cost = frame[frame["item"] == "Cost or margin"].iloc[0]
    assert bool(cost["present"]) and cost["rows"] == 10 and "Profit" in cost["unlocks"]
    assert not frame[frame["item"] == "Customers table"]["present"].iloc[0]
    assert upload.coverage_frame({}, "zh")["item"].iloc[0] == "客户表"


def test_dataset_list_counts_distinct_customers(tmp_path, mem):
    preview = upload.inspect_file(gbk_file(tmp_path), "transactions")
    upload.save(mem, "one", [upload.plan(preview, upload.default_choices(preview))])
    listing = upload.dataset_list(mem)
    assert listing[["name", "transactions", "customers", "interactions", "rejected"]].to_dict("records") == [
        {"name": "one", "transactions": 3, "customers": 2, "interactions": 0, "rejected": 2}]
    seen = []
    upload.dataset_list(mem, customers=lambda i, created: seen.append((i, created)) or 7)
    assert seen and seen[0][0] == int(mem.get("one").dataset_id)


@pytest.mark.parametrize("text, expected", [
    ("sales_2024.csv", "sales\\_2024\\.csv"), ("[x](http://e)", "\\[x\\]\\(http\u2060\\://e\\)"),
    ("a\nb", "a b"), (":red[x]", "\\:red\\[x\\]"), ("客户*名单", "客户\\*名单"),
])
def test_escape_markdown(text, expected):
    assert upload.escape_markdown(text) == expected


@pytest.mark.parametrize("fmt, expected", [("%Y-%m-%d", "YYYY-MM-DD"), ("%d/%m/%y", "DD/MM/YY"),
                                           ("%Y%m%d", "YYYYMMDD"), ("excel", "Excel date numbers")])
def test_date_format_label(fmt, expected):
    assert upload.date_format_label(fmt) == expected


def test_sweep_removes_only_old_upload_folders(tmp_path):
    import os

    old, new = upload.save_upload(b"x", "a.csv", tmp_path), upload.save_upload(b"y", "b.csv", tmp_path)
    other = tmp_path / "keep-me"
    other.mkdir()
    os.utime(old.parent, (1, 1))
    os.utime(other, (1, 1))
    upload.sweep(tmp_path)
    assert not old.parent.exists() and new.exists() and other.exists()


def test_name_from_file():
    assert upload.name_from_file("2024 销售.xlsx") == "2024 销售"
    assert upload.name_from_file("") == "upload"
