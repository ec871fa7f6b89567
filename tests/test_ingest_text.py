"""Text files as real exports have them: single-byte encodings beyond Latin-1
(Windows-1252, Mac-Roman, CP850), Chinese and Japanese multi-byte ones (GBK,
Big5, Shift-JIS), ``--encoding``, title rows above the header and
``--header-row``.

Every file is written byte for byte by the test from Python strings (the names
a customer list holds), so the expected values are the strings themselves, not
what crmflow reads.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crmflow import upload
from crmflow.cli import main
from crmflow.errors import CrmflowError, InputFileError
from crmflow.ingest import SAMPLE_BYTES, ReadOptions, report_text, resolve_encoding, sniff
from crmflow.store import Store

HEADER = "customer_id,order_date,amount,product"

# Names as customer lists hold them, each only in encodings that can write it.
IRISH_FRENCH = ["O’Brien", "Café Šimek", "Pádraig O’Neill", "Siobhán Ní Bhriain", "Œuvre d’Art SARL",
                "Hélène Lefèvre", "Boulangerie Noël", "Žižka & Söhne", "Jérôme Garçon"]
GERMAN_SPANISH_SWEDISH = ["Müller GmbH", "Jürgen Schäfer", "Björn Köhler", "Günther Weiß", "José Núñez",
                          "María Ibáñez", "Señora Gómez", "Åsa Öberg", "Håkan Sjöö", "Ängelholm Fisk"]
CHINESE = ["北京贸易有限公司", "张伟", "王芳", "上海华东电子科技", "刘洋", "杭州西湖茶叶店", "深圳市腾达物流"]
TAIWANESE = ["陳大文", "林淑芬", "台北貿易股份有限公司", "黃志明", "高雄海產行", "新竹科技公司", "王建國"]
JAPANESE = ["山田太郎", "佐藤花子", "株式会社サクラ", "鈴木一郎", "田中商店", "カフェ・ミドリ", "東京物産株式会社"]
ASCII = ["Smith", "Acme Ltd", "Jones", "Nova Trading"]


def customer_rows(names: list[str], n: int = 300, seed: int = 7) -> list[str]:
    """``n`` order lines of a customer list: names from ``names`` mixed with
    plain ASCII ones, dates in 2024, amounts with decimals."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        name = names[i % len(names)] if i < len(names) or rnd.random() < 0.5 else rnd.choice(ASCII)
        rows.append(f"{name},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{(i * 37) % 1000}.{i % 100:02d},"
                    f"{'Tee' if i % 2 else 'Kaffee'}")
    return rows


def write(path: Path, lines: list[str], encoding: str, newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def rfm_customers(capsys, *args: str) -> set[str]:
    """Customer ids of ``crmflow rfm FILE --format csv`` run in process."""
    assert main(["rfm", *args, "--format", "csv"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("customer_id,")
    return {line.rsplit(",", 7)[0].strip('"') for line in out[1:]}


def stored_customers(store: Store, dataset_id: int) -> set[str]:
    with store.db.cursor() as cur:
        rows = cur.execute("SELECT DISTINCT customer_id FROM transactions WHERE dataset_id = $ds",
                           {"ds": dataset_id}).fetchall()
    return {r[0] for r in rows}


@pytest.fixture
def mem():
    with Store(in_memory=True) as store:
        yield store


# --------------------------------------------------------------------------- encodings
ENCODING_CASES = {
    # file written in  -> (codec crmflow reads it as, label in the report, names)
    "cp1252": ("cp1252", "Windows-1252", IRISH_FRENCH),
    "latin-1": ("latin-1", "Latin-1", GERMAN_SPANISH_SWEDISH),
    "mac_roman": ("mac_roman", "Mac-Roman", GERMAN_SPANISH_SWEDISH + ["O’Brien", "Hélène Lefèvre"]),
    "cp850": ("cp850", "CP850 (DOS)", GERMAN_SPANISH_SWEDISH),
    "gbk": ("gb18030", "GB18030/GBK", CHINESE),
    "big5": ("cp950", "Big5", TAIWANESE),
    "shift_jis": ("cp932", "Shift-JIS", JAPANESE),
}


@pytest.mark.parametrize("written", list(ENCODING_CASES))
def test_each_encoding_is_detected_and_names_come_through_exactly(tmp_path, capsys, written):
    codec, label, names = ENCODING_CASES[written]
    path = write(tmp_path / f"kunden_{written}.csv", [HEADER] + customer_rows(names), written, "\r\n")
    sniffed = sniff(path)
    assert (sniffed.encoding, sniffed.encoding_label) == (codec, label)
    # the command line: every name is a customer of the RFM table, spelled exactly
    customers = rfm_customers(capsys, str(path))
    assert set(names) <= customers and customers <= set(names) | set(ASCII)
    # the Data page: the preview shows the names and says the encoding
    preview = upload.inspect_file(path, "transactions")
    assert preview.encoding == label
    shown = list(preview.rows["customer_id"])
    assert shown[: len(names)] == names[: len(shown)]
    assert label in upload.describe(preview)


def test_a_few_rows_of_names_are_enough(tmp_path):
    for written, (codec, _, names) in ENCODING_CASES.items():
        path = write(tmp_path / f"short_{written}.csv", [HEADER] + customer_rows(names, n=len(names)), written)
        assert sniff(path).encoding == codec, written


def test_windows_1252_punctuation_and_letters_of_0x80_to_0x9f_come_through(tmp_path, mem):
    names = ["O’Brien", "“Quoted” Ltd", "Dash – Co", "Wait… Inc", "Šimek", "Œuvre d’Art", "Ÿvon Élan", "€ Shop",
             "Brand™"]
    path = write(tmp_path / "w.csv", [HEADER] + customer_rows(names, n=60), "cp1252")
    assert all(0x80 <= b <= 0x9F for b in "’“”–…ŠŒŸ€™".encode("cp1252"))
    result = mem.ingest("w", path)
    assert set(names) <= stored_customers(mem, result.dataset.dataset_id)
    assert result.reports[0].encoding == "Windows-1252"


def test_latin1_label_rule(tmp_path):
    # no byte 0x80-0x9F: Latin-1 (Windows-1252 reads those bytes the same)
    plain = write(tmp_path / "plain.csv", [HEADER, "Zoë Müller,2024-01-02,5.00,Tee"], "latin-1")
    assert (sniff(plain).encoding, sniff(plain).encoding_label) == ("latin-1", "Latin-1")
    # one curly apostrophe: Windows-1252
    curly = write(tmp_path / "curly.csv", [HEADER, "Zoë Müller,2024-01-02,5.00,Tee", "O’Brien,2024-01-03,1,Tee"],
                  "cp1252")
    assert (sniff(curly).encoding, sniff(curly).encoding_label) == ("cp1252", "Windows-1252")


def test_a_windows_1252_byte_after_the_sample_makes_the_file_windows_1252(tmp_path, mem):
    rows = [HEADER] + [f"Zoë {i},2024-01-{1 + i % 28:02d},1.00,Tee" for i in range(SAMPLE_BYTES // 25)]
    rows.append("O’Brien,2024-02-01,9.99,Tee")
    path = write(tmp_path / "late.csv", rows, "cp1252")
    assert path.read_bytes()[:SAMPLE_BYTES].find(b"\x92") < 0  # the ’ is beyond the first bytes
    result = mem.ingest("late", path)
    assert result.reports[0].encoding == "Windows-1252"
    assert {"O’Brien", "Zoë 0"} <= stored_customers(mem, result.dataset.dataset_id)


def test_a_byte_windows_1252_leaves_undefined_does_not_crash(tmp_path, capsys, mem):
    rows = [HEADER] + customer_rows(IRISH_FRENCH, n=100)
    data = ("\n".join(rows) + "\n").encode("cp1252") + b"Odd\x81\x8d\x8f\x90\x9dName,2024-05-01,3.00,Tee\n"
    path = tmp_path / "undefined.csv"
    path.write_bytes(data)
    assert sniff(path).encoding == "cp1252"
    result = mem.ingest("u", path)
    assert result.reports[0].rows_rejected == 0
    # the undefined bytes are kept as the characters of the same number (as browsers read them)
    assert {"Odd\x81\x8d\x8f\x90\x9dName", "O’Brien"} <= stored_customers(mem, result.dataset.dataset_id)
    assert "O’Brien" in rfm_customers(capsys, str(path), "--encoding", "windows-1252")


def test_report_says_the_encoding_and_how_to_choose_another(tmp_path, mem):
    path = write(tmp_path / "mac.csv", [HEADER] + customer_rows(GERMAN_SPANISH_SWEDISH), "mac_roman")
    report = mem.ingest("mac", path).reports[0]
    assert "read as csv, encoding Mac-Roman" in report_text([report])
    note = next(w for w in report.warnings if w.key == "encoding_detected")
    assert "--encoding" in note and "Mac-Roman" in note
    assert "--encoding" not in note.text("en", page=True) and "encoding on this page" in note.text("en", page=True)
    assert "Mac-Roman" in note.text("zh") and "编码" in note.text("zh")
    # a UTF-8 file has no such note
    utf8 = write(tmp_path / "u.csv", [HEADER, "Zoë,2024-01-02,1,Tee"], "utf-8")
    assert not [w for w in mem.ingest("u8", utf8).reports[0].warnings if w.key == "encoding_detected"]


# --------------------------------------------------------------------------- --encoding
def test_encoding_option_overrides_a_wrong_detection(tmp_path, capsys):
    # a DOS (CP850) "ë" is byte 0x89, a Mac-Roman "â": "Zoâ" is as plausible a
    # name as "Zoë", and with one name to go on the detection picks Mac-Roman
    path = write(tmp_path / "one.csv", [HEADER, "Zoë,2024-01-02,12.00,Tee"], "cp850")
    assert sniff(path).encoding == "mac_roman"
    assert rfm_customers(capsys, str(path)) == {"Zoâ"}
    assert rfm_customers(capsys, str(path), "--encoding", "dos") == {"Zoë"}
    preview = upload.inspect_file(path, "transactions", options=ReadOptions(encoding="IBM850"))
    assert (preview.encoding, preview.rows["customer_id"][0]) == ("CP850 (DOS)", "Zoë")
    # the user's choice is not second-guessed: no "detected" note
    with Store(in_memory=True) as store:
        report = store.ingest("x", path, read_options={"transactions": ReadOptions(encoding="cp850")}).reports[0]
    assert not [w for w in report.warnings if w.key == "encoding_detected"]
    # nor is a choice that disagrees with the detection on a long file
    path = write(tmp_path / "long.csv", [HEADER] + customer_rows(GERMAN_SPANISH_SWEDISH), "cp1252")
    assert upload.inspect_file(path, "transactions",
                               options=ReadOptions(encoding="mac_roman")).rows["customer_id"][0] == "M¸ller GmbH"


def test_encoding_option_per_table(tmp_path, capsys):
    sales = write(tmp_path / "s.csv", [HEADER, "Müller,2024-01-02,12.00,Tee"], "cp850")
    customers = write(tmp_path / "c.csv", ["customer_id,name", "Müller,Jürgen Müller"], "utf-8")
    assert main(["rfm", str(sales), "--customers", str(customers), "--encoding", "transactions:ibm850",
                 "--encoding", "customers:utf-8", "--format", "csv"]) == 0
    assert "Müller," in capsys.readouterr().out


@pytest.mark.parametrize("name, codec", [
    ("windows-1252", "cp1252"), ("cp1252", "cp1252"), ("ANSI", "cp1252"), ("latin1", "latin-1"),
    ("ISO-8859-1", "latin-1"), ("macroman", "mac_roman"), ("mac_roman", "mac_roman"), ("Macintosh", "mac_roman"),
    ("cp850", "cp850"), ("IBM850", "cp850"), ("gbk", "gb18030"), ("GB2312", "gb18030"), ("gb18030", "gb18030"),
    ("big5", "cp950"), ("Big5", "cp950"), ("shift_jis", "cp932"), ("sjis", "cp932"), ("Shift-JIS", "cp932"),
    ("utf-8", "utf-8"), ("UTF8", "utf-8"),
])
def test_encoding_names_and_aliases(name, codec):
    assert resolve_encoding(name) == codec


@pytest.mark.parametrize("name", ["klingon", "base64", "rot13", "utf-32", "idna", "cp037"])
def test_an_unknown_encoding_is_one_clear_message(tmp_path, capsys, name):
    path = write(tmp_path / "a.csv", [HEADER, "A,2024-01-02,1,Tee"], "utf-8")
    assert main(["rfm", str(path), "--encoding", name]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and name in err and "cp1252" in err and "--encoding" in err
    with pytest.raises(CrmflowError) as exc:
        upload.inspect_file(path, "transactions", options=ReadOptions(encoding=name))
    assert exc.value.key == "unknown_encoding"
    assert "--encoding" not in exc.value.localized("en") and name in exc.value.localized("zh")


def test_an_encoding_that_does_not_fit_the_file_names_the_line(tmp_path, capsys):
    path = write(tmp_path / "l.csv", [HEADER, "A,2024-01-02,1,Tee", "Zoë,2024-01-03,2,Tee"], "latin-1")
    assert main(["rfm", str(path), "--encoding", "utf-8"]) == 2
    err = capsys.readouterr().err
    assert "Line 3" in err and "UTF-8" in err and "--encoding" in err
    # a multi-byte codec that meets bytes it cannot read: "é," is no Shift-JIS character
    path = write(tmp_path / "s.csv", [HEADER, "A,2024-01-02,1,Tee", "Café,2024-01-03,2,Tee"], "latin-1")
    with pytest.raises(InputFileError) as exc:
        upload.inspect_file(path, "transactions", options=ReadOptions(encoding="shift_jis"))
    assert exc.value.key == "encoding_mismatch" and exc.value.params["line"] == 3
    assert "Shift-JIS" in exc.value.localized("zh") and "第 3 行" in exc.value.localized("zh")


# --------------------------------------------------------------------------- title rows
ERP_LINES = ["销售明细报表", "导出时间: 2024-01-05 10:32", "", "客户编号,下单日期,金额,客户名称"]


def erp_export(tmp_path: Path) -> Path:
    rows = [f"{i:05d},2024-01-{1 + i % 28:02d},{i * 10}.50,{CHINESE[i % len(CHINESE)]}" for i in range(1, 41)]
    return write(tmp_path / "销售明细.csv", ERP_LINES + rows, "gbk", "\r\n")


def test_chinese_erp_export_with_title_rows(tmp_path, capsys, mem):
    path = erp_export(tmp_path)
    sniffed = sniff(path)
    assert sniffed.encoding == "gb18030" and sniffed.headers == ["客户编号", "下单日期", "金额", "客户名称"]
    assert (sniffed.header_row, sniffed.skip) == (4, 4)
    result = mem.ingest("erp", path)
    report = result.reports[0]
    assert (report.rows_read, report.rows_loaded) == (40, 40)
    note = next(w for w in report.warnings if w.key == "title_rows_skipped")
    assert "1–3" in note and "销售明细报表" in note and "row 4" in note and "--header-row" in note
    assert "第 1–3 行" in note.text("zh") and "--header-row" not in note.text("zh", page=True)
    ids = stored_customers(mem, result.dataset.dataset_id)
    assert ids == {f"{i:05d}" for i in range(1, 41)}  # leading zeros kept, no title text among them
    assert rfm_customers(capsys, str(path)) == ids
    preview = upload.inspect_file(path, "transactions")
    assert preview.headers == ("客户编号", "下单日期", "金额", "客户名称") and preview.rows_read == 40
    assert preview.rows["客户名称"][0] == CHINESE[1]


def test_western_report_with_title_cells_as_excel_saves_them(tmp_path, mem):
    lines = ["Sales report Q1 2024,,,", "Exported 2024-04-01 by J. Smith,,,", ",,,", HEADER]
    path = write(tmp_path / "report.csv", lines + customer_rows(IRISH_FRENCH, n=30), "cp1252", "\r\n")
    sniffed = sniff(path)
    assert (sniffed.header_row, sniffed.headers) == (4, HEADER.split(","))
    result = mem.ingest("west", path)
    assert (result.reports[0].rows_read, result.reports[0].rows_rejected) == (30, 0)
    assert set(IRISH_FRENCH) <= stored_customers(mem, result.dataset.dataset_id)


def test_title_row_in_a_short_semicolon_file(tmp_path):
    # the title line would break the field count of a 4-line file
    path = write(tmp_path / "short.csv", ["Kundenliste", "Kunde;Datum;Betrag", "Müller;02.01.2024;12,50",
                                          "Weiß;03.01.2024;7,00"], "utf-8")
    sniffed = sniff(path)
    assert (sniffed.delimiter, sniffed.header_row, sniffed.headers) == (";", 2, ["Kunde", "Datum", "Betrag"])


def test_a_data_row_with_empty_cells_is_not_taken_for_a_title(tmp_path, mem):
    # headerless: the first row leaves its optional cells empty but holds a date and an amount
    lines = ["A1,,,2024-01-02,12.50,", "A2,North,Tea,2024-01-03,7.00,web", "A3,South,Tea,2024-01-04,8.00,shop",
             "A4,North,Cup,2024-01-05,9.00,web"]
    path = write(tmp_path / "nohead.csv", lines, "utf-8")
    sniffed = sniff(path)
    assert (sniffed.header, sniffed.skip) == (False, 0)
    assert not [w for w in sniffed.notes if w.key.startswith("title_rows")]


def test_header_row_option(tmp_path, capsys, mem):
    # row 1 groups the columns, row 2 names them: only the user can tell
    lines = ["Customer,Order,Order,Money", "customer_id,order_date,product,amount",
             "O’Brien,2024-01-02,Tee,12.00", "Šimek,2024-01-03,Tee,7.50"]
    path = write(tmp_path / "two.csv", lines, "cp1252")
    assert sniff(path).headers == ["Customer", "Order", "Order", "Money"]
    sniffed = sniff(path, ReadOptions(header_row=2))
    assert (sniffed.headers, sniffed.skip) == (["customer_id", "order_date", "product", "amount"], 2)
    assert rfm_customers(capsys, str(path), "--header-row", "2") == {"O’Brien", "Šimek"}
    preview = upload.inspect_file(path, "transactions", options=ReadOptions(header_row=2))
    assert preview.rows_read == 2 and preview.rows["customer_id"].tolist() == ["O’Brien", "Šimek"]
    # N counts lines as a text editor does, blank lines included
    path = write(tmp_path / "blank.csv", ["Report", "", ""] + lines[1:], "utf-8")
    assert sniff(path, ReadOptions(header_row=4)).headers == ["customer_id", "order_date", "product", "amount"]
    report = mem.ingest("blank", path, read_options={"transactions": ReadOptions(header_row=4)}).reports[0]
    assert (report.rows_read, report.rows_loaded) == (2, 2)
    assert not [w for w in report.warnings if w.key.startswith("title_rows")]  # the user said so


def test_header_row_zero_reads_every_row_as_data(tmp_path, capsys):
    lines = ["Acme,2024-01-02,12.00", "Nova,2024-01-03,7.50", "Acme,2024-02-01,3.00"]
    path = write(tmp_path / "h0.csv", ["customer,date,amount"] + lines, "utf-8")
    sniffed = sniff(path, ReadOptions(header_row=0))
    assert (sniffed.header, sniffed.skip, sniffed.headers) == (False, 0, ["column1", "column2", "column3"])
    preview = upload.inspect_file(path, "transactions", options=ReadOptions(header_row=0))
    assert preview.rows_read == 4 and preview.rows["column1"].tolist()[:2] == ["customer", "Acme"]


@pytest.mark.parametrize("row, key", [(2, "header_row_blank"), (99, "header_row_missing")])
def test_a_header_row_that_cannot_be_is_one_message(tmp_path, capsys, row, key):
    path = write(tmp_path / "x.csv", ["Title", "", HEADER, "A,2024-01-02,1,Tee"], "utf-8")
    with pytest.raises(InputFileError) as exc:
        sniff(path, ReadOptions(header_row=row))
    assert exc.value.key == key and str(row) in exc.value.line() and "--header-row" in exc.value.line()
    assert "--header-row" not in exc.value.localized("zh")
    assert main(["rfm", str(path), "--header-row", str(row)]) == 2
    assert "--header-row" in capsys.readouterr().err


# --------------------------------------------------------------------------- switching columns off
@pytest.mark.parametrize("written", ["cp1252", "mac_roman", "cp850", "gbk", "big5", "shift_jis"])
def test_switching_a_column_off_keeps_the_file_encoding_and_title_rows(tmp_path, written):
    codec, label, names = ENCODING_CASES[written]
    header = "customer_id,order_date,amount,Bemerkung"
    lines = ["Report 2024,,,", "", header] + customer_rows(names, n=40)
    path = write(tmp_path / f"hide_{written}.csv", lines, written, "\r\n")
    preview = upload.inspect_file(path, "transactions")
    hidden = upload.hide_columns(preview, [3])
    original, copy = path.read_bytes(), hidden.read_bytes()
    new_header = (upload.UNUSED_PREFIX + "Bemerkung").encode("ascii")
    assert copy == original.replace(b"Bemerkung", new_header, 1)
    sniffed = sniff(hidden)
    assert sniffed.encoding == codec and sniffed.headers[3] == upload.UNUSED_PREFIX + "Bemerkung"


def test_title_rows_above_whitespace_and_tab_separated_tables(tmp_path, mem):
    body = ["C001 2024-01-02 12.50", "C002 2024-01-03 7.00", "C001 2024-02-01 3.25"]
    path = write(tmp_path / "ws.txt", ["Kundenumsätze Januar", "", "customer_id order_date amount"] + body,
                 "cp1252")
    sniffed = sniff(path)
    assert (sniffed.delimiter, sniffed.header_row, sniffed.headers) == ("whitespace", 3,
                                                                        ["customer_id", "order_date", "amount"])
    report = mem.ingest("ws", path).reports[0]
    assert (report.rows_read, report.rows_loaded) == (3, 3)
    tsv = write(tmp_path / "t.tsv", ["Umsatzliste\t\t", "customer_id\torder_date\tamount"]
                + [line.replace(" ", "\t") for line in body], "utf-8")
    assert (sniff(tsv).delimiter, sniff(tsv).header_row) == ("\t", 2)
    assert mem.ingest("tsv", tsv).reports[0].rows_loaded == 3


def test_switching_a_column_off_in_a_utf16_file_is_one_message(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes(("\n".join([HEADER + ",Bemerkung"] + [r + ",x" for r in customer_rows(ASCII, n=5)]) + "\n")
                     .encode("utf-16"))
    preview = upload.inspect_file(path, "transactions")
    with pytest.raises(InputFileError) as exc:
        upload.hide_columns(preview, [4])
    assert exc.value.key == "hide_text_unsupported" and "UTF-16" in exc.value.line()
    assert "UTF-8" in exc.value.localized("zh")


def test_a_header_shorter_than_its_rows_is_not_taken_for_a_title(tmp_path):
    lines = ["customer_id,order_date,amount"] + [f"A{i},2024-01-0{1 + i},1.50,x,y,z" for i in range(5)]
    path = write(tmp_path / "short_header.csv", lines, "utf-8")
    sniffed = sniff(path)
    assert (sniffed.header_row, sniffed.headers[:3]) == (1, ["customer_id", "order_date", "amount"])


def test_a_gbk_file_with_one_broken_character_is_one_message_naming_its_line(tmp_path, capsys):
    lines = [HEADER] + customer_rows(CHINESE, n=100)
    data = ("\n".join(lines[:50]) + "\n").encode("gbk") + b"\xff\xfe" + ("\n".join(lines[50:]) + "\n").encode("gbk")
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    assert sniff(path).encoding == "gb18030"  # one bad pair does not make it Latin
    assert main(["rfm", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Line 51" in err and "GB18030/GBK" in err and "--encoding" in err


# --------------------------------------------------------------------------- the Data page's encoding choice
def test_data_page_offers_the_encoding_and_reads_again_with_the_one_chosen(tmp_path):
    """The page shows the detected encoding and lets the user choose another:
    the same bytes read as Mac-Roman give other names (0x8E is é in Mac-Roman,
    Ž in Windows-1252), and the choice is kept for the check and the save."""
    from crmflow import upload

    rows = "".join(f"C{i},2024-01-{i % 28 + 1:02d},{i}.50,Caf\x8e {i}\r\n" for i in range(40))
    path = tmp_path / "cafes.csv"
    path.write_bytes(("customer_id,order_date,amount,product\r\n" + rows).encode("latin-1"))
    preview = upload.inspect_file(path, "transactions")
    controls = upload.read_controls(preview)
    assert controls.encodings and "mac_roman" in controls.encodings and controls.encoding == preview.codec
    entry = {"path": str(path), "name": "cafes.csv", "preview": preview}
    again = upload.apply_read_choice(entry, "transactions", encoding="mac_roman")
    assert again is not None and entry["preview"] is again and again.options.encoding == "mac_roman"
    assert upload.read_controls(again).encoding == "mac_roman"
    assert again.rows["product"].iloc[0] == "Café 0"
    plan = upload.plan(again, upload.default_choices(again))
    assert plan.options.encoding == "mac_roman"
    result = upload.check([plan])
    assert result.reports[0].encoding == "Mac-Roman" and result.reports[0].rows_loaded == 40
    assert upload.encoding_choice_label("cp1252") == "Windows-1252"
