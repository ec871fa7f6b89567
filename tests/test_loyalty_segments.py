"""The Segments page's download of every customer carries the per-customer
loyalty measures (issue 17 part 3), with headers in the view's language."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from test_loyalty import D, INTERACTIONS, TRANSACTIONS

from crmflow.i18n import t
from crmflow.segments_table import CUSTOMER_TABLE_COLUMNS, download_frame, segment_view

CUSTOMERS = "customer_id,created_at\nA,2023-01-01\nP,2024-01-01\n"


def test_the_table_gains_the_measures(load):
    store, ds = load(TRANSACTIONS, customers=CUSTOMERS, interactions=INTERACTIONS)
    table = segment_view(store.db, ds, D).customers
    assert list(table.columns) == [*CUSTOMER_TABLE_COLUMNS, "orders_in_window", "buying_days", "interval_cv",
                                   "categories_bought", "breadth", "complaint_date", "orders_after_complaint",
                                   "priced_orders", "discounted_orders", "discount_share"]
    rows = table.set_index("customer_id")
    assert rows.loc["A", "buying_days"] == 3 and rows.loc["A", "interval_cv"] == pytest.approx(1 / 3)
    assert rows.loc["A", "complaint_date"] == date(2024, 1, 15) and rows.loc["A", "orders_after_complaint"] == 2
    assert rows.loc["B", "orders_after_complaint"] == 0 and pd.isna(rows.loc["B", "interval_cv"])
    assert rows.loc["C", "orders_in_window"] == 1 and rows.loc["C", "breadth"] == 0
    assert rows.loc["D", "discount_share"] == 0.25 and rows.loc["C", "priced_orders"] == 0
    # P is a listed lead without an order: a row, no measures
    assert rows.loc["P", "stage"] == "potential"
    assert rows.loc["P", ["orders_in_window", "buying_days", "interval_cv", "breadth"]].isna().all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_download_names_them_in_the_language(load, lang):
    store, ds = load(TRANSACTIONS, interactions=INTERACTIONS)
    out = download_frame(segment_view(store.db, ds, D).customers, lang)
    for key in ("seg_col_interval_cv", "seg_col_breadth", "seg_col_orders_after_complaint", "seg_col_complaint_date"):
        assert t(key, lang) in out.columns
    a = out[out[t("seg_col_customer_id", lang)] == "A"].iloc[0]
    assert a[t("seg_col_interval_cv", lang)] == 0.3333 and a[t("seg_col_breadth", lang)] == 0.6667
