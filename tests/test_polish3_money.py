"""Issue 12, item 8 ("number formats mix 370k and 33,375.08") and the
Chinese churn table that showed "33K" under a "37.0万" headline: a money
column of any table (``NumberColumn(format=TABLE_MONEY)``) shows the one
money format of the headlines and cards, crmflow.headlines.money(), in the
view's language, while its cells keep their numbers (the column sorts by
amount). Driven by Streamlit's AppTest; the shown text is the table's
display values (what the browser draws)."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow.headlines import MISSING, money
from crmflow.i18n import t

ROOT = Path(__file__).resolve().parent.parent


def shown(element) -> pd.DataFrame:
    """The text a table shows (its Styler's display values)."""
    data = element.proto.arrow_data.styler.display_values
    assert data, "the table carries no display values"
    return pa.ipc.open_stream(data).read_pandas()


def test_a_money_column_shows_the_headline_format_and_keeps_its_numbers():
    def script():
        import pandas as pd
        import streamlit as st

        from crmflow.headlines import TABLE_MONEY
        from crmflow.ui.common import show_table

        show_table(pd.DataFrame({"who": ["=1+1", "b", "c", "d"], "v": [33375.08, 370000.0, 999.4, None],
                                 "n": [1, 2, 3, 4]}),
                   column_config={"v": st.column_config.NumberColumn("Value", format=TABLE_MONEY, width=90)})

    at = AppTest.from_function(script).run()
    assert not at.exception, at.exception
    table = at.dataframe[0]
    # worked out by hand: 33,375.08 -> 33.4k, 370,000 -> 370k, 999.4 -> 999, missing -> — (MISSING)
    assert list(shown(table)["v"]) == ["33.4k", "370k", "999", MISSING]
    assert list(shown(table)["who"])[0] == "'=1+1"  # still the neutralised copy
    assert table.value["v"].dtype.kind == "f" and table.value["v"].iloc[0] == pytest.approx(33375.08)
    # the format is the Styler's text now, not the browser's compact notation ("33K")
    assert "compact" not in table.proto.columns


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("polish3-money") / "crmflow.duckdb"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_churn_table_uses_the_headline_money_format(db, monkeypatch, lang):
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/churn.py")
    at.run()
    assert not at.exception, at.exception
    column = t("cp_col_value_at_risk", lang)
    table = next(d for d in at.dataframe if column in d.value.columns)
    values, texts = table.value[column], shown(table)[column]
    assert len(values) > 5
    assert list(texts) == [money(v, lang) for v in values]
    if lang == "zh":  # the demo's largest values at risk are tens of thousands: 万, as in the headline
        assert texts.iloc[0].endswith("万") and not any(s.endswith(("K", "k")) for s in texts)
    # the card beside it: the total value at risk of the list, in the same format
    card = next(m for m in at.metric if m.label == t("cp_metric_value", lang))
    assert card.value == money(values.sum(), lang)
    st.cache_resource.clear()
    gc.collect()
