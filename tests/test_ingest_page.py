"""The Data page (issue 11, part "page"): the preview shows the rows as they
will be stored, a problem or note that a later choice fixed is gone, and every
message is in the page's language and says what to do on the page.

The package functions (crmflow.upload, crmflow.store, crmflow.errors) are
tested on files written byte for byte here, against values worked out by hand;
then the page itself is driven in Chinese by Streamlit's AppTest with uploads.
"""

from __future__ import annotations

import gc
import json
import pickle
import re
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow import upload
from crmflow.errors import CrmflowError, DatasetError, InputFileError, MappingError
from crmflow.i18n import TRANSLATIONS, t
from crmflow.messages import Note, Term, TermList, note_text
from crmflow.store import Store, clean_name

ROOT = Path(__file__).resolve().parent.parent
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug, valid from 1900-03-01)

#: three English words in a row: what an untranslated sentence looks like on the Chinese page
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[\s,'’]+[A-Za-z]{2,}){2,}")


def english_sentences(text: str) -> list[str]:
    return ENGLISH_SENTENCE.findall(text.replace("\\", ""))


def save(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    return upload.save_upload(text.encode(encoding), name, tmp_path)


@pytest.fixture
def mem():
    with Store(in_memory=True) as store:
        yield store


# =========================================================================== the preview: values as stored
# ';'-separated, decimal comma, Excel serial dates, empty cells, leading zeros, a column no field uses
SEMICOLON = (
    "客户编号;下单日期;金额;备注\n"
    "007;45296;1.234,565;首单\n"
    "008;45297;;\n"
    ";45298;12,5;复购\n"
    "009;45299;abc; x \n"
)


def test_preview_shows_dates_money_and_empty_cells_as_stored(tmp_path):
    preview = upload.inspect_file(save(tmp_path, "sales.csv", SEMICOLON), "transactions")
    assert preview.problem is None and preview.decimal_comma is True and preview.date_formats == {"order_date": "excel"}
    rows = preview.parsed.rows
    assert list(rows.columns) == ["客户编号", "下单日期", "金额", "备注"]
    # worked out by hand: Excel day 45296 is 2024-01-05; "1.234,565" with a decimal comma is 1234.565 -> 1234.57
    assert EXCEL_EPOCH + timedelta(days=45296) == date(2024, 1, 5)
    assert rows.iloc[0].tolist() == ["007", date(2024, 1, 5), Decimal("1234.57"), "首单"]
    assert rows.iloc[1].tolist() == ["008", date(2024, 1, 6), None, None]  # empty cells are None, not "" or nan
    assert rows.iloc[2].tolist() == [None, date(2024, 1, 7), Decimal("12.50"), "复购"]
    assert rows.iloc[3, 2] is None and rows.iloc[3, 3] == " x "  # not a number; the unused column as read
    assert str(rows.iloc[2, 2]) == "12.50"  # money: two decimals
    assert preview.parsed.reasons == (None, "missing amount", "missing customer id", "amount is not a number")
    # the raw view is still the file's text
    assert preview.rows.iloc[0].tolist() == ["007", "45296", "1.234,565", "首单"]


def test_preview_values_are_what_saving_stores(tmp_path, mem):
    preview = upload.inspect_file(save(tmp_path, "sales.csv", SEMICOLON), "transactions")
    saved = upload.save(mem, "s", [upload.plan(preview, upload.default_choices(preview))])
    stored = mem.db.run("customer_attributes", dataset_id=saved.dataset.dataset_id)
    assert set(stored["customer_id"]) == {"007"}  # the only row the preview left unmarked
    shown = preview.parsed.rows[[r is None for r in preview.parsed.reasons]]
    assert shown["客户编号"].tolist() == ["007"]
    assert saved.dataset.n_rejected == sum(r is not None for r in preview.parsed.reasons) == 3


def test_slash_dates_become_iso_dates_and_ids_keep_their_text(tmp_path):
    text = "customer_id,order_date,amount,region\n00042,2024/1/5,10,North\n12349.0,2024/12/31,-3.456,\n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    rows = preview.parsed.rows
    assert rows["order_date"].tolist() == [date(2024, 1, 5), date(2024, 12, 31)]
    assert rows["order_date"].iloc[0].isoformat() == "2024-01-05"
    assert rows["amount"].tolist() == [Decimal("10.00"), Decimal("-3.46")]
    assert rows["customer_id"].iloc[0] == "00042"  # leading zeros kept
    assert rows["region"].tolist() == ["North", None]


def test_a_margin_column_reads_back_as_amount_minus_cost(tmp_path):
    text = "customer_id,order_date,amount,margin,product\nA,2024-01-01,100,25.5,x\nA,2024-01-02,50,,y\n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    assert preview.detected["margin"] == 3
    rows = preview.parsed.rows
    assert rows["margin"].tolist() == [Decimal("25.50"), None]
    assert rows["product"].tolist() == ["x", "y"]


def test_rejected_rows_are_marked_with_their_reason_in_the_page_language(tmp_path):
    preview = upload.inspect_file(save(tmp_path, "sales.csv", SEMICOLON), "transactions")
    zh = upload.preview_frame(preview.parsed, "zh")
    assert zh.columns[0] == "拒绝原因" and list(zh.columns[1:]) == list(preview.parsed.rows.columns)
    assert zh.iloc[:, 0].tolist() == ["", "⚠ 缺少金额", "⚠ 缺少客户编号", "⚠ 金额不是数字"]
    en = upload.preview_frame(preview.parsed, "en")
    assert en.iloc[:, 0].tolist() == ["", "⚠ missing amount", "⚠ missing customer id", "⚠ amount is not a number"]
    assert list(preview.parsed.rows.columns) == ["客户编号", "下单日期", "金额", "备注"]  # the preview is not changed


def test_a_file_column_named_like_the_status_column_is_kept(tmp_path):
    text = "customer_id,order_date,amount,Rejected because\nA,2024-01-01,1,keep me\n"
    frame = upload.preview_frame(upload.inspect_file(save(tmp_path, "t.csv", text), "transactions").parsed, "en")
    assert frame["Rejected because"].tolist() == ["keep me"] and frame.iloc[0, 0] == ""


# =========================================================================== problems and notes follow the choices
GERMAN = "客户编号,下单日期,Betrag\n1,2024-01-01,5\n2,2024-01-02,6\n"


def test_a_missing_column_problem_is_keyed_and_gone_once_the_column_is_chosen(tmp_path):
    preview = upload.inspect_file(save(tmp_path, "de.csv", GERMAN), "transactions")
    assert isinstance(preview.problem, MappingError) and preview.problem.key == "upload_required_not_chosen"
    assert preview.parsed is None
    zh = preview.problem.localized("zh")
    assert "金额" in zh and "amount" not in zh and not english_sentences(zh) and "--" not in zh
    assert "amount" in preview.problem.line()  # the command line names the field as --map does
    choices = upload.default_choices(preview)
    state = upload.preview_state(preview, choices)
    assert state.problem is not None and state.parsed is None and state.notes == []
    state = upload.preview_state(preview, choices | {"amount": 2})
    assert state.problem is None
    assert state.parsed.rows["Betrag"].tolist() == [Decimal("5.00"), Decimal("6.00")]
    assert state.parsed.rows["下单日期"].tolist() == [date(2024, 1, 1), date(2024, 1, 2)]
    assert state.report is not None and state.report.mapping["amount"] == "Betrag"


def test_a_column_chosen_twice_is_a_problem_until_one_is_changed(tmp_path):
    text = "customer_id,order_date,amount,total\nA,2024-01-01,5,7\n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    twice = upload.default_choices(preview) | {"order_id": 2}
    problem = upload.preview_state(preview, twice).problem
    assert problem.key == "upload_column_twice"
    assert "金额" in problem.localized("zh") and "订单号" in problem.localized("zh")
    fixed = upload.preview_state(preview, twice | {"amount": 3})
    assert fixed.problem is None and fixed.parsed.rows["total"].tolist() == [Decimal("7.00")]
    assert fixed.parsed.rows["amount"].tolist() == ["5"]  # order_id: the id text as stored


def test_the_day_month_choice_removes_the_ambiguity_note(tmp_path):
    text = "customer_id,order_date,amount\nA,01/02/2024,5\nB,03/04/2024,6\n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    choices = upload.default_choices(preview)
    state = upload.preview_state(preview, choices)
    assert [n.key for n in state.notes] == ["dates_ambiguous"]
    assert state.parsed.rows["order_date"].tolist() == [date(2024, 1, 2), date(2024, 3, 4)]  # month first
    page = note_text(state.notes[0], "zh", page=True)
    assert "--" not in page and "日在前" in page
    dmy = upload.preview_state(preview, choices, "dmy")
    assert dmy.notes == [] and dmy.parsed.rows["order_date"].tolist() == [date(2024, 2, 1), date(2024, 4, 3)]


def test_switching_a_detected_field_off_previews_it_as_read(tmp_path):
    text = "customer_id,order_date,amount,region\nA,2024-01-01,5, North \n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    assert preview.parsed.rows["region"].tolist() == ["North"]  # stored trimmed
    state = upload.preview_state(preview, upload.default_choices(preview) | {"region": None})
    assert state.problem is None and "region" not in state.report.mapping
    assert state.parsed.rows["region"].tolist() == [" North "]  # not used: as in the file


# =========================================================================== messages in the page's language
def test_a_readers_own_error_becomes_a_keyed_could_not_be_read(tmp_path):
    @upload.one_line_errors
    def read():
        raise zipfile.BadZipFile("File is not a zip file")

    with pytest.raises(InputFileError) as err:
        read()
    exc = err.value
    assert exc.key == "upload_unreadable" and "File is not a zip file" in exc.line()  # the detail on the CLI
    zh = exc.localized("zh")
    assert zh.startswith("无法读取该文件（BadZipFile）") and not english_sentences(zh)
    assert "Excel" in zh and "--" not in exc.localized("en")


def test_a_header_only_file_is_a_keyed_error(tmp_path):
    with pytest.raises(InputFileError) as err:
        upload.inspect_file(save(tmp_path, "empty.csv", "customer_id,order_date,amount\n"), "customers")
    assert err.value.key == "upload_no_rows"
    assert err.value.localized("zh").startswith("客户文件 empty.csv 只有表头")
    assert "has a header but no rows" in err.value.line()


def test_dataset_name_errors_are_keyed_in_both_languages(mem):
    for bad, key in [("  ", "dataset_name_empty"), ("x" * 101, "dataset_name_too_long"),
                     ("a\x07b", "dataset_name_control")]:
        with pytest.raises(DatasetError) as err:
            clean_name(bad)
        assert err.value.key == key
        zh = err.value.localized("zh")
        assert not english_sentences(zh) and "--" not in zh and "--" not in err.value.localized("en")
    with pytest.raises(DatasetError) as err:
        clean_name("")
    assert "--name" in err.value.line() and "“数据集名称”" in err.value.localized("zh")
    with pytest.raises(DatasetError) as err:
        mem.get("nope")
    assert err.value.key == "dataset_none" and "crmflow ingest" in err.value.line()
    assert "“1. 上传”" in err.value.localized("zh")


def test_an_existing_name_and_no_usable_rows_are_keyed(tmp_path, mem):
    good = save(tmp_path, "g.csv", "customer_id,order_date,amount\nA,2024-01-01,5\n")
    mem.ingest("keep", good)
    with pytest.raises(DatasetError) as err:
        mem.ingest("keep", good)
    assert err.value.key == "dataset_exists" and "--replace" in err.value.line()
    assert "“替换同名的现有数据集”" in err.value.localized("zh") and "--" not in err.value.localized("en")
    mem.ingest("other", good)
    with pytest.raises(DatasetError) as err:
        mem.rename("other", "keep")
    assert err.value.key == "dataset_name_taken" and "“新名称”" in err.value.localized("zh")
    with pytest.raises(DatasetError) as err:
        mem.get("nope")
    assert err.value.key == "dataset_unknown" and "other, keep" in err.value.line()  # newest first
    assert "请选择一个已保存的数据集：other、keep" in err.value.localized("zh")

    # (every row rejected, mostly for their amounts: a date form nobody can read is its own error)
    bad = save(tmp_path, "b.csv", "customer_id,order_date,amount\n1,2024-01-01,x\n2,2024-01-02,y\n3,later,4\n")
    with pytest.raises(CrmflowError) as err:
        mem.ingest("bad", bad)
    exc = err.value
    assert exc.key == "store_no_usable_rows"
    assert "2 × amount is not a number; 1 × order date is not a date" in exc.line()
    zh = exc.localized("zh")
    assert "（2 行金额不是数字、1 行下单日期不是有效日期）" in zh and not english_sentences(zh)


def test_database_errors_that_reach_the_page_are_keyed():
    import duckdb

    from crmflow.db import translate_error

    busy = translate_error(duckdb.IOException("Could not set lock on file x: Conflicting lock"), "Statement s", "x.db")
    assert busy.key == "db_busy" and "--db PATH" in busy.line()
    assert "--" not in busy.localized("en") and busy.localized("zh").startswith("数据库文件 x.db 正被另一个程序使用")
    failed = translate_error(duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate"), "Statement s")
    assert failed.key == "db_query_failed" and "failed to allocate" in failed.line()
    zh = failed.localized("zh")
    assert zh.startswith("数据库操作 Statement s 失败（OutOfMemoryException）") and not english_sentences(zh)


def test_terms_localize_inside_messages_and_survive_pickling():
    fields = TermList([upload.field_term("order_date"), upload.field_term("amount")])
    exc = MappingError(key="upload_required_not_chosen", table=upload.table_term("transactions"), fields=fields)
    assert "transactions field(s) order_date, amount" in exc.line()
    assert "Order date, Amount" in exc.localized("en")
    assert "必需的交易字段 下单日期、金额" in exc.localized("zh")
    back = pickle.loads(pickle.dumps(fields))
    assert back.text("zh") == "下单日期、金额" and str(back) == "order_date, amount"
    term = pickle.loads(pickle.dumps(Term("amount", "data_field_amount")))
    assert term.text("zh") == "金额" and Term("x", None).text("zh") == "x"
    note = pickle.loads(pickle.dumps(Note("bad_optional", n=2, columns=TermList([upload.field_term("cost")]))))
    assert "成本" in note.text("zh") and "cost" in note


def error_keys() -> set[str]:
    """Every ``key="..."`` keyword an error is raised with in the package
    (crmflow/ui/, the shared page code, names widgets with ``key=``)."""
    keys: set[str] = set()
    for path in (ROOT / "crmflow").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "crmflow").parts[:-1]:
            continue
        keys |= set(re.findall(r"""[(,]\s*key=["']([a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    return keys


def test_every_error_key_has_its_labels_in_both_languages():
    keys = error_keys()
    assert {"upload_required_not_chosen", "store_no_usable_rows", "dataset_name_empty", "upload_unreadable"} <= keys
    for key in sorted(keys):
        for lang in ("en", "zh"):
            assert f"err_{key}" in TRANSLATIONS[lang], (key, lang)
            assert f"err_{key}_cli" in TRANSLATIONS[lang], (key, lang)


def test_no_page_label_names_a_command_line_option():
    for lang, table in TRANSLATIONS.items():
        for key, text in table.items():
            if key.endswith("_page"):
                assert "--" not in text, (lang, key)
                assert not re.search(r"`|crmflow (ingest|report|serve)", text), (lang, key)  # no commands


def test_every_locale_label_of_this_part_is_natural_chinese():
    doc = json.loads((ROOT / "crmflow" / "locales" / "ingest_page.json").read_text(encoding="utf-8"))
    assert set(doc["en"]) == set(doc["zh"])
    for key, text in doc["zh"].items():
        if key.endswith("_cli"):
            continue  # the command line's own words (--name, crmflow ingest) stay
        assert not english_sentences(re.sub(r"\{[^}]*\}", "", text)), key


# =========================================================================== the page, in Chinese
@pytest.fixture(scope="module")
def page_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("page") / "crmflow.duckdb"
    with Store(db) as store:
        store.ensure_demo()
    return db


@pytest.fixture
def data_page(page_db, monkeypatch):
    monkeypatch.setenv("CRMFLOW_DB", str(page_db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()

    def start(lang: str = "zh") -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["lang"] = lang
        at.run()
        at.switch_page("pages/data.py")
        at.run()
        assert not at.exception, at.exception
        return at

    yield start
    st.cache_resource.clear()
    gc.collect()


def messages(at: AppTest) -> list[str]:
    return [e.value for e in [*at.error, *at.warning, *at.info, *at.success]]


def shown_text(at: AppTest) -> list[str]:
    return messages(at) + [c.value for c in at.caption] + [m.value for m in at.markdown]


def upload_file(at: AppTest, name: str, text: str, table: str = "transactions") -> AppTest:
    at.file_uploader(key=f"data:upload:{table}").upload(name, text.encode("utf-8"), "text/csv").run()
    assert not at.exception, at.exception
    return at


def assert_chinese(at: AppTest) -> None:
    for text in shown_text(at):
        assert not english_sentences(text), text


def test_zh_page_missing_column_then_the_choice_clears_it(data_page):
    at = upload_file(data_page("zh"), "de.csv", GERMAN)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("必需的交易字段 金额 还没有选择对应的列")
    assert_chinese(at)
    assert at.dataframe[0].value["Betrag"].tolist() == ["5", "6"]  # as read until the column is chosen
    at.selectbox(key="data:map:transactions:amount").set_value(2).run()
    assert not at.exception and not at.warning and not at.error  # gone without pressing anything else
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["拒绝原因", "客户编号", "下单日期", "Betrag"]
    assert [float(v) for v in frame["Betrag"]] == [5.0, 6.0]
    # the raw view on request
    at.toggle(key="data:preview_raw:transactions").set_value(True).run()
    assert at.dataframe[0].value["Betrag"].tolist() == ["5", "6"]


def test_en_page_says_what_to_do_on_the_page_not_on_the_command_line(data_page):
    at = upload_file(data_page("en"), "de.csv", GERMAN)
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert warnings == ["No column is chosen for the required transactions field(s) Amount. Pick the column that "
                        "holds it in the Amount dropdown under “3. Columns” (fields marked * are required; an amount "
                        "can also be quantity × unit price: set Amount to not used and choose the Quantity and Unit "
                        "price columns)."]
    at.selectbox(key="data:map:transactions:amount").set_value(2).run()
    assert not at.warning and at.dataframe[0].value.columns[0] == "Rejected because"


def test_zh_page_marks_a_rejected_row_and_a_stale_check_shows_no_old_warnings(data_page):
    text = "customer_id,order_date,amount\nA,01/02/2024,5\nB,03/04/2024,\n"
    at = upload_file(data_page("zh"), "t.csv", text)
    frame = at.dataframe[0].value
    assert frame["拒绝原因"].tolist()[1] == "⚠ 缺少金额"
    ambiguous = note_text(Note("dates_ambiguous", field="order_date"), "zh", page=True)
    assert [w.value.replace("\\", "") for w in at.warning] == [ambiguous.replace("\\", "")]
    at.button(key="data:check").click().run()
    assert len([w for w in at.warning if "日在前" in w.value]) == 2  # the preview's and the report's
    at.selectbox(key="data:date_order").set_value("dmy").run()
    assert not at.exception and not at.warning  # neither the preview nor the stale report keeps it
    assert t("data_check_stale", "zh") in [i.value for i in at.info]
    assert [str(v)[:10] for v in at.dataframe[0].value["order_date"]] == ["2024-02-01", "2024-04-03"]


def test_zh_page_unreadable_file(data_page, monkeypatch):
    def broken(*args, **kwargs):
        raise zipfile.BadZipFile("File is not a zip file")

    monkeypatch.setattr(upload, "sniff", broken)  # a reader's own error, as a damaged workbook gives
    at = upload_file(data_page("zh"), "broken.xlsx", "PK")
    assert [e.value for e in at.error] == [upload.escape_markdown(
        t("err_upload_unreadable", "zh", kind="BadZipFile") + "。" + t("err_upload_unreadable_page", "zh") + "。")]
    assert_chinese(at)


def test_zh_page_header_only_file(data_page):
    at = upload_file(data_page("zh"), "empty.csv", "customer_id,order_date,amount\n")
    assert len(at.error) == 1 and at.error[0].value.startswith("交易文件 empty\\.csv 只有表头")
    assert_chinese(at)


def test_zh_page_file_with_no_usable_rows(data_page):
    at = upload_file(data_page("zh"), "bad.csv", "customer_id,order_date,amount\n1,2024-01-02,x\n2,2024-01-03,y\n")
    at.button(key="data:check").click().run()
    assert not at.exception and len(at.error) == 1
    assert at.error[0].value.startswith("没有可用的交易行：所有行都被拒绝（2 行金额不是数字）")
    assert_chinese(at)
    at.text_input(key="data:name").input("bad").run()
    at.button(key="data:save").click().run()
    assert at.error and at.error[-1].value.startswith("没有可用的交易行")
    assert_chinese(at)


def test_zh_page_dates_in_no_known_form(data_page):
    at = upload_file(data_page("zh"), "bad.csv", "customer_id,order_date,amount\n1,soon,3\n2,later,4\n")
    assert not at.exception
    shown = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("交易文件 bad\\.csv 的下单日期列“order\\_date”中没有 crmflow 能识别的日期写法" in v for v in shown), shown
    assert_chinese(at)


def test_zh_page_bad_dataset_names(data_page):
    at = upload_file(data_page("zh"), "ok.csv", "customer_id,order_date,amount\nA,2024-01-01,5\n")
    at.text_input(key="data:name").input("   ").run()
    at.button(key="data:save").click().run()
    assert [e.value for e in at.error] == [upload.escape_markdown(
        t("err_dataset_name_empty", "zh") + "。" + t("err_dataset_name_empty_page", "zh") + "。")]
    assert_chinese(at)
    at.text_input(key="data:name").input("a\x07b").run()
    at.button(key="data:save").click().run()
    assert len(at.error) == 1 and at.error[0].value.startswith("数据集名称包含控制字符")
    assert_chinese(at)
    at.text_input(key="data:name").input("demo").run()
    at.button(key="data:save").click().run()  # taken, "replace" not ticked
    assert len(at.error) == 1 and at.error[0].value.startswith("已有名为“demo”的数据集")
    assert_chinese(at)


def test_zh_page_upload_box_says_the_limit_in_chinese(data_page):
    at = data_page("zh")
    limit = [c.value for c in at.caption if "MB" in c.value]
    assert limit and limit[0].startswith("每个文件最大 500 MB") and "config.toml" not in limit[0]
    uploader = at.file_uploader(key="data:upload:transactions")
    assert "500 MB" in uploader.help and not english_sentences(uploader.help)
    assert_chinese(at)


def test_an_empty_text_cell_shows_empty_on_the_page_and_stays_missing_in_the_data(tmp_path):
    text = "customer_id,order_date,amount,product,region\nA,2024-01-01,100,,North\nB,2024-01-02,50,y,\n"
    preview = upload.inspect_file(save(tmp_path, "t.csv", text), "transactions")
    assert preview.parsed.rows["product"].tolist() == [None, "y"]  # what is stored: missing
    shown = upload.preview_frame(preview.parsed, "en")
    assert shown["product"].tolist() == ["", "y"] and shown["region"].tolist() == ["North", ""]
    assert shown.iloc[:, 0].tolist() == ["", ""]  # no row is rejected: the reason column is empty, not "None"
