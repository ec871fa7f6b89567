"""User text is shown as text, and no table hands a spreadsheet a formula (issue 12, items 5 and 6).

A dataset whose name, customer names and ids, regions, owners, channels,
products, categories and notes are Markdown/HTML payloads and formula-looking
cells (``=1+1``, ``+cmd|' /C calc'!A0``) is opened on every page and on every
slide of the presentation. Every element that renders Markdown must carry each
payload it shows with its active characters escaped (so the browser shows the
literal text: no image, no link, no bold), and every table on screen (whose
toolbar offers "Download as CSV") must hold no text cell, column name or index
label starting with = + - @, tab or CR. The command line's CSVs follow the same
rule. Static checks keep every page's tables going through the one helper.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crmflow import report
from crmflow.exports import FORMULA_STARTS, safe_csv
from crmflow.plain import JOINER, MARKDOWN_SPECIALS, is_formula, md, md_paragraphs, table, unmd
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("overview", "flow", "churn", "key_accounts", "account", "my_accounts", "segments", "data")

DATASET = "ZDS ![p](http://127.0.0.1:8999/x.png) **x** <img src=http://127.0.0.1:8999/y.png>"
#: Customer ids a spreadsheet would run (replacing the first demo ids in every table).
FORMULA_IDS = ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)")
#: Active characters: a payload showing one of these unescaped would be read as Markdown.
ACTIVE = set("*_[]()!<>`$:&~#|\\")


def name_payload(i: int) -> str:
    if i % 2:
        return f"=ZNM{i:04d}+1 **b** [l](http://127.0.0.1:8999/n)"
    return f"ZNM{i:04d} ![i](http://127.0.0.1:8999/n.png) _e_ :red[r] $x$"


REGIONS = ("ZRG1 **North** [l](http://127.0.0.1:8999/r)", "-ZRG2 :red[South] $y$", "ZRG3 # <b>East</b>")
OWNERS = ("@ZOW1 `code` _i_", "ZOW2 ~~s~~ &amp; co", "+ZOW3 [o](http://127.0.0.1:8999/o)")
CATEGORIES = ("=ZCT1+1 **c**", "ZCT2 ![c](http://127.0.0.1:8999/c.png)")
PRODUCTS = ("ZPR1 **p** <i>x</i>", "@ZPR2 [p](http://127.0.0.1:8999/p)")
CHANNELS = ("+ZCH1 **web**", "ZCH2 _shop_")
NOTES = ("ZNT1 **n** <img src=http://127.0.0.1:8999/n.png>", "=ZNT2+1 [n](http://127.0.0.1:8999/n)")

#: token -> the full payload it starts (tokens are unique words inside the payloads).
PAYLOADS: dict[str, str] = {}


def _register(values) -> None:
    for v in values:
        PAYLOADS[re.search(r"Z[A-Z]{2}\d+", v).group(0)] = v


PAYLOADS["ZDS"] = DATASET


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from crmflow.demo import generate

    data = generate(n_customers=300)
    ids = sorted(data.customers["customer_id"].unique())
    # the biggest buyers get the formula ids, so they are on every list
    top = data.transactions.groupby("customer_id")["amount"].sum().sort_values(ascending=False).index[:4]
    rename = dict(zip(top, FORMULA_IDS))
    names = {c: name_payload(i) for i, c in enumerate(ids)}
    _register(names.values())
    for values in (REGIONS, OWNERS, CATEGORIES, PRODUCTS, CHANNELS, NOTES):
        _register(values)

    def cycle(series: pd.Series, values: tuple[str, ...]) -> pd.Series:
        codes = series.astype("category").cat.codes
        return pd.Series([values[c % len(values)] for c in codes], index=series.index)

    tx, cu, it = data.transactions.copy(), data.customers.copy(), data.interactions.copy()
    cu["name"] = cu["customer_id"].map(names)
    for frame in (tx, cu):
        frame["region"] = cycle(frame["region"], REGIONS)
        frame["owner"] = cycle(frame["owner"], OWNERS)
    tx["category"] = cycle(tx["category"], CATEGORIES)
    tx["product"] = cycle(tx["product"], PRODUCTS)
    tx["channel"] = cycle(tx["channel"], CHANNELS)
    it["note"] = [NOTES[i % 2] for i in range(len(it))]
    for frame in (tx, cu, it):
        frame["customer_id"] = frame["customer_id"].replace(rename)
    folder = tmp_path_factory.mktemp("safe")
    db = folder / "crmflow.duckdb"
    for label, frame in (("t", tx), ("c", cu), ("i", it)):
        frame.to_csv(folder / f"{label}.csv", index=False, date_format="%Y-%m-%d")
    with Store(db) as store:
        store.ensure_demo()
        store.ingest(DATASET, folder / "t.csv", folder / "c.csv", folder / "i.csv")
        stored = store.get(DATASET)
        assert stored.name == DATASET and stored.n_customers == 300
    return db


@pytest.fixture
def app(world, app_factory):
    return app_factory(world, defaults={"dataset": DATASET}, errors_ok=True, timeout=240)


# --------------------------------------------------------------------------- checks
def literal_pattern(payload: str) -> re.Pattern:
    """The payload as it must appear in Markdown source to be shown literally: every
    active character backslash-escaped, other punctuation optionally escaped,
    whitespace folded."""
    parts = []
    for ch in payload:
        if ch in ACTIVE:
            parts.append(re.escape("\\" + ch))
        elif ch.isspace():
            parts.append(r"\s+")
        elif ch in MARKDOWN_SPECIALS:
            parts.append(r"\\?" + re.escape(ch))
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts))


def markdown_sources(at: AppTest) -> list[tuple[str, str]]:
    """(kind, Markdown source) of every element and label that Streamlit renders as Markdown."""
    out: list[tuple[str, str]] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success"):
        out += [(kind, e.value) for e in getattr(at, kind)]
    out += [("metric", m.label) for m in at.metric]
    out += [("expander", e.label) for e in at.expander]
    out += [("tab", e.label) for e in at.tabs]
    for kind in ("radio", "selectbox", "multiselect", "toggle", "checkbox", "number_input", "date_input",
                 "button", "text_input", "slider"):
        out += [(f"{kind} label", e.label) for e in getattr(at, kind)]
    out += [("radio option", o) for r in at.radio for o in r.options]
    for e in at.get("segmented_control") + at.get("button_group"):
        label = getattr(e, "label", None)
        if isinstance(label, str):
            out.append(("segmented_control label", label))
    return out


def unescaped_payloads(at: AppTest) -> list[tuple[str, str, str]]:
    """(element kind, payload, source) for every payload shown without its escapes."""
    bad = []
    for kind, source in markdown_sources(at):
        # GFM links bare URLs and e-mail addresses after parsing: each needs a joiner
        if re.search(r"Z[A-Z]{2}", source) and re.search(r"(?i)(https?\\?:|www\\?\.|\w\\?@\w)", source):
            bad.append((kind, "bare URL", source))
        source = source.replace(JOINER, "")
        for token in re.findall(r"Z[A-Z]{2}\d*", source):
            payload = PAYLOADS.get(token)
            if payload is None:
                continue
            if not literal_pattern(payload).search(source):
                bad.append((kind, payload, source))
    return bad


def shown_tokens(at: AppTest) -> set[str]:
    return {tok for _, s in markdown_sources(at) for tok in re.findall(r"Z[A-Z]{2}\d*", s)}


def formula_cells(frame: pd.DataFrame) -> list[str]:
    cells = [v for col in frame.columns for v in frame[col].tolist()]
    labels = [*map(str, frame.columns), *[str(i) for i in frame.index if isinstance(i, str)]]
    return [v for v in [*cells, *labels] if is_formula(v)]


def tables(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe] + [t.value for t in at.table]


def neutralised_cells(frames: list[pd.DataFrame]) -> int:
    return sum(isinstance(v, str) and v.startswith("'") and v[1:].startswith(FORMULA_STARTS)
               for f in frames for col in f.columns for v in f[col].tolist())


def chart_strings(at: AppTest) -> list[str]:
    """Every string in every Plotly chart's figure (titles, labels, hover text, custom data)."""
    import json

    def walk(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v)

    return [s for c in at.get("plotly_chart") for s in walk(json.loads(c.proto.spec))]


def check_page(at: AppTest, where: str) -> None:
    bad = unescaped_payloads(at)
    assert not bad, f"{where}: user text rendered as Markdown: {bad[:3]}"
    # Plotly reads a few HTML tags in its text: a payload's tags reach it escaped
    tags = [s for s in chart_strings(at) if re.search(r"Z[A-Z]{2}", s) and re.search(r"<(img|b|i|a)\b", s)
            and any(p in s for p in PAYLOADS.values() if "<" in p)]
    assert not tags, f"{where}: user text with live tags in a chart: {tags[:3]}"
    for i, frame in enumerate(tables(at)):
        found = formula_cells(frame)
        assert not found, f"{where}: table {i} holds formula cells {found[:5]}"


# --------------------------------------------------------------------------- every page
@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_user_text_as_text_and_tables_without_formulas(app, page):
    query = {"account": {"customer": FORMULA_IDS[0]}, "my_accounts": {"manager": OWNERS[0]}}.get(page, {})
    at = app(page, **query)
    check_page(at, page)
    # the check is not vacuous: the page shows data text, and its tables held formula cells
    if page in ("overview", "data"):
        assert "ZDS" in shown_tokens(at), page
    if page in ("flow", "churn", "key_accounts", "account", "my_accounts", "segments"):
        assert neutralised_cells(tables(at)) > 0, page


def test_account_page_names_the_formula_customer_as_text(app):
    at = app("account", customer=FORMULA_IDS[1])
    check_page(at, "account")
    head = at.subheader[0].value
    assert unmd(head).startswith(("ZNM", "=ZNM")) and literal_pattern(unmd(head)).search(head.replace(JOINER, ""))
    assert any(unmd(c.value).find(FORMULA_IDS[1]) >= 0 for c in at.caption)


def test_churn_page_with_everyone_listed(app):
    at = app("churn", all="1")
    check_page(at, "churn (all)")
    shown = at.dataframe[0].value
    assert neutralised_cells([shown]) > 0


@pytest.mark.parametrize("number", range(1, len(report.SLIDE_KEYS) + 1))
def test_every_slide_shows_user_text_as_text(app, number):
    at = app(None, present="1", slide=str(number))
    check_page(at, f"slide {number}")
    assert "ZDS" in shown_tokens(at)          # the presentation caption names the dataset


# --------------------------------------------------------------------------- churn table layout
def test_churn_table_key_columns_first_and_reasons_wrapped(app):
    import json

    from crmflow.i18n import t

    at = app("churn")
    proto = at.dataframe[0].proto
    shown = at.dataframe[0].value
    first = list(shown.columns[:3])
    assert first == [t("cp_col_name", "en"), t("cp_col_value_at_risk", "en"), t("cp_col_reasons", "en")]
    config = json.loads(proto.columns)
    name, reasons = config[t("cp_col_name", "en")], config[t("cp_col_reasons", "en")]
    assert name.get("pinned") is True
    # 390 px phone: the pinned name and the value fit beside the start of the reasons
    assert name["width"] + config[t("cp_col_value_at_risk", "en")]["width"] <= 220
    # 1440 px: the reasons get a wide column and rows tall enough to wrap (Streamlit wraps above 64 px)
    assert reasons["width"] >= 550
    assert proto.row_height >= 96  # five lines


# --------------------------------------------------------------------------- helpers (units)
@pytest.mark.parametrize("text", [DATASET, *NOTES, *REGIONS, *OWNERS, "a\nb\n\n# c", "1. x", "- y", "&lt;b&gt;",
                                  "www.example.com", "mail a@b.co", "HTTPS://x.y"])
def test_md_escapes_every_active_character_and_round_trips(text):
    out = md(text)
    assert "\n" not in out
    assert literal_pattern(" ".join(text.split())).fullmatch(out.replace(JOINER, ""))
    assert not re.search(r"(?i)(https?\\?:|www\\?\.|\w\\?@\w)", out)
    assert unmd(out) == " ".join(text.split())


def test_md_paragraphs_keeps_paragraphs():
    assert md_paragraphs("a **b**\n\nc_d") == "a \\*\\*b\\*\\*\n\nc\\_d"


def test_table_neutralises_cells_labels_and_index_but_not_numbers():
    frame = pd.DataFrame({"=name": ["=1+1", "ok", "-x", None], "amount": [-5, 3, -1, 0],
                          "cat": pd.Categorical(["@a", "b", "@a", "b"])}, index=["+i", "j", "k", "l"])
    out = table(frame)
    assert list(out.columns) == ["'=name", "amount", "cat"]
    assert out["'=name"].tolist()[:3] == ["'=1+1", "ok", "'-x"] and pd.isna(out["'=name"].iloc[3])
    assert out["amount"].tolist() == [-5, 3, -1, 0]
    assert out["cat"].tolist() == ["'@a", "b", "'@a", "b"]
    assert list(out.index) == ["'+i", "j", "k", "l"]
    assert frame.iloc[0, 0] == "=1+1"  # the page's own frame is untouched
    assert safe_csv(frame.reset_index(drop=True)).splitlines()[1].startswith("'=1+1")


def test_clv_csv_neutralises_formula_ids(world):
    out = subprocess.run([sys.executable, "-m", "crmflow", "clv", "--dataset", DATASET, "--format", "csv",
                          "--db", str(world)], capture_output=True, text=True, cwd=ROOT, check=True)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    ids = [r["customer_id"] for r in rows]
    assert {"'" + i for i in FORMULA_IDS} <= set(ids)
    assert not [i for i in ids if is_formula(i)]


# --------------------------------------------------------------------------- architecture
def test_every_page_table_goes_through_the_safe_helper():
    """No page hands a frame to Streamlit's table elements directly: st.dataframe and
    st.data_editor only in crmflow.ui.common.show_table; st.table only with escaped cells."""
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "crmflow" / "ui").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        body = text
        if path.name == "common.py":
            body = re.sub(r"def show_table\(.*?(?=\n\S|\Z)", "", text, flags=re.S)
        assert "st.data_editor(" not in text, path
        assert "st.dataframe(" not in body, f"{path.name}: use crmflow.ui.common.show_table"
        for m in re.finditer(r"st\.table\(([^\n]*)", body):
            assert ".map(md)" in m.group(1) and "rename(columns=md)" in m.group(1), f"{path.name}: {m.group(0)}"


def test_downloads_only_through_the_safe_buttons():
    """A table's download is crmflow.ui.common.download_buttons (safe_csv / safe_excel); the only
    other download buttons are the report files (crmflow.ui.report) and the presentation's chart image."""
    ui = ROOT / "crmflow" / "ui"
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted(ui.glob("*.py"))]:
        if path.name in ("common.py", "present.py", "report.py"):
            continue
        assert "download_button(" not in path.read_text(encoding="utf-8"), path.name
    present = (ROOT / "pages" / "present.py").read_text(encoding="utf-8")
    assert re.findall(r"st\.download_button\([^,]+, ([^,]+),", present) == ["st.session_state[name][1]"]
    report = (ui / "report.py").read_text(encoding="utf-8")
    assert re.findall(r"st\.download_button\([^,]+, ([^,]+),", report) == ["html", "pptx"]
