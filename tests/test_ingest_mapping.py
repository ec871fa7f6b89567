"""Issue 11, columns and values (SPEC §1): amount = quantity × unit price when a
file has no amount column (UCI Online Retail and ERP line exports), an amount
mapped to a column of codes or ids refused, "e.g." suggestions that name a
plausible column, ids written as floats (12349.0) read as 12349, cancelled
lines kept out of orders and revenue (and counted), and the synonym table
checked against the headers of real exports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from crmflow import upload
from crmflow.analytics import rfm
from crmflow.errors import MappingError
from crmflow.ingest import report_text
from crmflow.mapping import REQUIRED, auto_map, derives_amount, parse_overrides, says_id
from crmflow.stages import stage_counts
from crmflow.store import Store


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def mem():
    store = Store(in_memory=True)
    yield store
    store.close()


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(c) for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def query(store: Store, sql: str, **params) -> list[tuple]:
    with store.db.cursor() as cur:
        return cur.execute(sql, params).fetchall()


def revenue_of(store: Store, ds: int) -> dict[str, Decimal]:
    rows = query(store, "SELECT customer_id, SUM(amount) FROM transactions WHERE dataset_id = $ds "
                        "GROUP BY customer_id", ds=ds)
    return {c: Decimal(v) for c, v in rows}


def note_keys(report) -> list[str]:
    return [getattr(w, "key", None) for w in report.warnings]


# UCI Online Retail (archive.ics.uci.edu/dataset/352): header and lines as published, plus
# a cancellation (C536379, negative quantity: a return), and two unreadable lines.
UCI_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
              "Country"]
UCI_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"],
    ["536365", "71053", "WHITE METAL LANTERN", "6", "12/1/2010 8:26", "3.39", "17850", "United Kingdom"],
    ["536365", "84406B", "CREAM CUPID HEARTS COAT HANGER", "8", "12/1/2010 8:26", "2.75", "17850", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "12/1/2010 8:28", "1.85", "17850", "United Kingdom"],
    ["536367", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "32", "12/1/2010 8:34", "1.69", "13047", "United Kingdom"],
    ["536367", "22745", "POPPY'S PLAYHOUSE BEDROOM", "6", "12/1/2010 8:34", "2.1", "13047", "United Kingdom"],
    ["536370", "22728", "ALARM CLOCK BAKELIKE PINK", "24", "12/1/2010 8:45", "3.75", "12583", "France"],
    ["536370", "POST", "POSTAGE", "3", "12/1/2010 8:45", "18", "12583", "France"],
    ["C536379", "D", "Discount", "-1", "12/1/2010 9:41", "27.5", "14527", "United Kingdom"],
    ["536381", "82567", "AIRLINE LOUNGE,METAL SIGN", "2", "12/1/2010 9:41", "0.0125", "15311", "United Kingdom"],
    ["536382", "10002", "INFLATABLE POLITICAL GLOBE", "12", "12/1/2010 9:45", "0.85", "16098", "United Kingdom"],
    ["536383", "35004C", "SET OF 3 COLOURED FLYING DUCKS", "x", "12/1/2010 9:49", "4.65", "15311", "United Kingdom"],
    ["536384", "82484", "WOOD BLACK BOARD ANT WHITE FINISH", "3", "12/1/2010 9:53", "", "18074", "United Kingdom"],
]


def uci_rows(id_suffix: str = "") -> list[list[str]]:
    out = []
    for r in UCI_ROWS:
        r = list(r)
        r[2] = '"' + r[2] + '"' if "," in r[2] else r[2]
        r[6] = r[6] + id_suffix
        out.append(r)
    return out


def uci_expected_revenue() -> dict[str, Decimal]:
    """Quantity × UnitPrice per customer, in plain Decimal (the two unreadable lines left out)."""
    out: dict[str, Decimal] = {}
    for r in UCI_ROWS:
        try:
            value = Decimal(r[3]) * Decimal(r[5])
        except ArithmeticError:
            continue
        out[r[6]] = out.get(r[6], Decimal(0)) + value
    return out


# --------------------------------------------------------------------------- quantity × unit price
def test_amount_is_derived_from_quantity_and_unit_price_exactly(tmp_path, mem):
    path = write_csv(tmp_path / "Online Retail.csv", UCI_HEADER, uci_rows())
    result = mem.ingest("uci", path)
    report = result.reports[0]
    assert "amount" not in report.mapping
    assert report.derived == {"amount": "Quantity × UnitPrice"}
    assert report.mapping["quantity"] == "Quantity" and report.mapping["unit_price"] == "UnitPrice"
    assert "amount_derived" in note_keys(report)
    assert "amount <- Quantity × UnitPrice" in report_text(result.reports)
    assert report.rejected_by_reason == {"quantity is not a number": 1, "missing unit price": 1}
    revenue = revenue_of(mem, result.dataset.dataset_id)
    expected = uci_expected_revenue()
    assert revenue == expected
    # by hand: 6×2.55 + 6×3.39 + 8×2.75 + 6×1.85 = 15.30 + 20.34 + 22.00 + 11.10
    assert revenue["17850"] == Decimal("68.74")
    assert revenue["15311"] == Decimal("0.025")  # 2 × 0.0125, exact
    assert revenue["14527"] == Decimal("-27.5")  # the cancellation C536379 is a return
    # the return is revenue, never an order (SPEC §2)
    orders = dict(query(mem, "SELECT customer_id, COUNT(*) FROM orders WHERE dataset_id = $ds GROUP BY 1",
                        ds=result.dataset.dataset_id))
    assert orders == {"17850": 2, "13047": 1, "12583": 1, "15311": 1, "16098": 1}


def test_an_amount_column_wins_and_the_unit_price_is_only_information(tmp_path, mem):
    # Kaggle "sample_sales_data": QUANTITYORDERED, PRICEEACH and SALES (not always their product)
    header = ["ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "SALES", "ORDERDATE", "STATUS", "CUSTOMERNAME"]
    rows = [["10107", "30", "95.7", "2871", "2/24/2003 0:00", "Shipped", "Land of Toys Inc."],
            ["10121", "34", "81.35", "2765.9", "5/7/2003 0:00", "Shipped", "Reims Collectables"]]
    result = mem.ingest("s", write_csv(tmp_path / "sales_data_sample.csv", header, rows))
    report = result.reports[0]
    assert report.mapping["amount"] == "SALES" and report.mapping["unit_price"] == "PRICEEACH"
    assert report.derived == {}
    assert revenue_of(mem, result.dataset.dataset_id) == {"Land of Toys Inc.": Decimal("2871"),
                                                          "Reims Collectables": Decimal("2765.9")}


GERMAN = ["Kunde", "Datum", "Menge", "Preis", "Summe brutto"]
GERMAN_ROWS = [["K1", "2024-01-05", "3", "0.10", "9"], ["K1", "2024-02-05", "2", "19.99", "9"],
               ["K2", "2024-03-01", "-1", "5.50", "9"]]
GERMAN_REVENUE = {"K1": Decimal("40.28"), "K2": Decimal("-5.50")}  # 0.30 + 39.98; a return


@pytest.mark.parametrize("product", ["Menge*Preis", "Menge * Preis", "#3*#4", "#3 * #4", "Menge×#4"])
def test_map_amount_as_quantity_times_unit_price(tmp_path, mem, product):
    path = write_csv(tmp_path / "de.csv", GERMAN, GERMAN_ROWS)
    items = ["customer_id=Kunde", "order_date=Datum", f"amount={product}"]
    overrides = {"transactions": parse_overrides(items)}
    result = mem.ingest("de", path, overrides=overrides)
    report = result.reports[0]
    assert report.mapping["quantity"] == "Menge" and report.mapping["unit_price"] == "Preis"
    assert report.derived == {"amount": "Menge × Preis"} and "Summe brutto" in report.unused_columns
    assert revenue_of(mem, result.dataset.dataset_id) == GERMAN_REVENUE


def test_map_product_replaces_an_automatic_amount(tmp_path, mem):
    header = ["customer_id", "order_date", "total", "qty", "unit price"]
    rows = [["A", "2024-01-01", "100", "2", "1.25"], ["B", "2024-01-02", "100", "3", "0.5"]]
    path = write_csv(tmp_path / "t.csv", header, rows)
    auto = mem.ingest("auto", path).reports[0]
    assert auto.mapping["amount"] == "total" and auto.derived == {}
    result = mem.ingest("x", path, overrides={"transactions": {"amount": "qty*unit price"}})
    assert result.reports[0].derived == {"amount": "qty × unit price"}
    assert "total" in result.reports[0].unused_columns
    assert revenue_of(mem, result.dataset.dataset_id) == {"A": Decimal("2.5"), "B": Decimal("1.5")}


@pytest.mark.parametrize("product, key, needle", [
    ("#3*#3", "map_product_same", "itself"),
    ("Menge*Nix", "map_no_column", "Nix"),
    ("#3*#9", "map_position", "#9"),
])
def test_bad_product_maps_are_clear_errors(tmp_path, mem, product, key, needle):
    path = write_csv(tmp_path / "de.csv", GERMAN, GERMAN_ROWS)
    with pytest.raises(MappingError) as err:
        mem.ingest("de", path, overrides={"transactions": {"customer_id": "Kunde", "order_date": "Datum",
                                                           "amount": product}})
    assert err.value.key == key and needle in str(err.value) and "\n" not in str(err.value)
    assert mem.names() == []


def test_bad_map_form_is_keyed():
    with pytest.raises(MappingError) as err:
        parse_overrides(["amount"])
    assert err.value.key == "map_form" and "--map" in str(err.value)
    assert "--map" in err.value.localized("zh")


# --------------------------------------------------------------------------- amount on codes or ids
STOCK_HEADER = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
STOCK_ROWS = [[f"5363{i:02d}", code, "2", "2010-12-0%d" % (1 + i % 9), "1.25", f"178{i % 4}0"]
              for i, code in enumerate(["85123A", "71053", "84406B", "84029G", "22752", "21730", "22633",
                                        "84879", "22745", "22748", "22749", "22310", "84969", "22623"])]


def test_amount_on_stock_codes_is_refused_and_quantity_times_price_suggested(tmp_path, mem):
    path = write_csv(tmp_path / "retail.csv", STOCK_HEADER, STOCK_ROWS)
    with pytest.raises(MappingError) as err:
        mem.ingest("r", path, overrides={"transactions": {"amount": "StockCode"}})
    exc = err.value
    assert exc.key == "amount_is_codes"
    text = str(exc)
    assert "StockCode" in text and "e.g. --map amount=Quantity*UnitPrice" in text, text
    assert "StockCode" in exc.localized("zh") and "单价" in exc.localized("zh")
    assert "--map" not in exc.localized("en")  # the page's hint names the dropdown, not a flag
    assert mem.names() == []
    # without the override, the amount is derived and every line loads
    assert mem.ingest("r", path).dataset.n_transactions == len(STOCK_ROWS)


def test_refusal_suggests_a_money_column_with_decimals(tmp_path, mem):
    header = ["Artikelnr", "Kunde", "Datum", "Pos Nr", "Betrag"]
    rows = [["A-100", "K1", "2024-01-05", "1", "10.50"], ["B-7", "K2", "2024-01-06", "2", "3.20"],
            ["C-12", "K1", "2024-01-07", "3", "99.99"]]
    path = write_csv(tmp_path / "de.csv", header, rows)
    base = {"customer_id": "Kunde", "order_date": "Datum"}
    with pytest.raises(MappingError) as err:
        mem.ingest("d", path, overrides={"transactions": {**base, "amount": "Artikelnr"}})
    assert err.value.key == "amount_is_codes" and "--map amount=Betrag" in str(err.value)
    with pytest.raises(MappingError) as err:
        mem.ingest("d", path, overrides={"transactions": {**base, "amount": "Pos Nr"}})
    assert err.value.key == "amount_is_ids" and "Pos Nr" in str(err.value)
    assert "--map amount=Betrag" in str(err.value)
    # a money column of whole numbers is money
    result = mem.ingest("d", path, overrides={"transactions": {**base, "amount": "Betrag"}})
    assert revenue_of(mem, result.dataset.dataset_id) == {"K1": Decimal("110.49"), "K2": Decimal("3.20")}


def test_amount_on_a_text_or_id_column_is_refused(tmp_path, mem):
    path = write_csv(tmp_path / "Online Retail.csv", UCI_HEADER, uci_rows())
    for column, key in (("Description", "amount_is_text"), ("CustomerID", "amount_is_ids")):
        with pytest.raises(MappingError) as err:
            mem.ingest("u", path, overrides={"transactions": {"amount": column, "customer_id": "InvoiceNo"}})
        assert err.value.key == key and column in str(err.value)
    assert mem.names() == []


def test_a_named_amount_column_with_junk_keeps_its_rows_rejected(tmp_path, mem):
    rows = [["A", "2024-01-01", "12.5"], ["B", "2024-01-02", "n/a"], ["C", "2024-01-03", "7"]]
    result = mem.ingest("j", write_csv(tmp_path / "j.csv", ["customer_id", "order_date", "amount"], rows))
    assert result.reports[0].rejected_by_reason == {"amount is not a number": 1}


@pytest.mark.parametrize("header, expected", [
    ("StockCode", True), ("CustomerID", True), ("InvoiceNo", True), ("Pos Nr", True), ("商品编码", True),
    ("订单号", True), ("SKU", True), ("Amount", False), ("UnitPrice", False), ("Total", False),
    ("金额", False), ("Notes", False),
])
def test_says_id(header, expected):
    assert says_id(header) is expected


# --------------------------------------------------------------------------- suggestions
def test_missing_column_suggestions_name_a_plausible_column(tmp_path, mem):
    # the first unmapped column (Notiz, free text) must never be the example
    header = ["Notiz", "Pos Nr", "Kunde", "Datum", "Betrag"]
    rows = [["erste Lieferung", "1", "K-001", "05.01.2024", "10.50"],
            ["bar bezahlt", "2", "K-002", "06.01.2024", "3.20"],
            ["Rabatt", "3", "K-001", "17.01.2024", "99.99"]]
    path = write_csv(tmp_path / "de.csv", header, rows)
    with pytest.raises(MappingError) as err:
        mem.ingest("d", path)
    assert err.value.key == "missing_columns"
    assert "e.g. --map customer_id=Kunde" in str(err.value), str(err.value)
    assert "K-001" not in str(err.value) and "Kunde" in err.value.localized("zh")
    with pytest.raises(MappingError) as err:
        mem.ingest("d", path, overrides={"transactions": {"customer_id": "Kunde"}})
    assert "e.g. --map order_date=Datum" in str(err.value), str(err.value)
    with pytest.raises(MappingError) as err:
        mem.ingest("d", path, overrides={"transactions": {"customer_id": "Kunde", "order_date": "Datum"}})
    assert "e.g. --map amount=Betrag" in str(err.value), str(err.value)


def test_missing_amount_with_quantity_and_price_columns_suggests_their_product(tmp_path, mem):
    path = write_csv(tmp_path / "p.csv", ["customer_id", "order_date", "quantity", "Preis"],
                     [["A", "2024-01-01", "2", "1.5"]])
    with pytest.raises(MappingError) as err:
        mem.ingest("p", path)
    assert "amount" in str(err.value)
    result = mem.ingest("p", path, overrides={"transactions": {"amount": "quantity*Preis"}})
    assert revenue_of(mem, result.dataset.dataset_id) == {"A": Decimal("3")}


def test_a_price_without_quantity_is_suggested_as_the_amount(tmp_path, mem):
    # Olist order items: one row per item, a price and a freight value, no quantity
    path = write_csv(tmp_path / "items.csv", ["customer_id", "order_date", "price", "freight_value"],
                     [["A", "2018-01-01", "58.90", "13.29"], ["B", "2018-01-02", "239.90", "19.93"]])
    with pytest.raises(MappingError) as err:
        mem.ingest("o", path)
    assert "e.g. --map amount=price" in str(err.value), str(err.value)
    result = mem.ingest("o", path, overrides={"transactions": {"amount": "price"}})
    assert revenue_of(mem, result.dataset.dataset_id) == {"A": Decimal("58.90"), "B": Decimal("239.90")}


def test_no_plausible_column_gives_no_example(tmp_path, mem):
    path = write_csv(tmp_path / "noid.csv", ["order_date", "amount", "remarks"],
                     [["2024-01-05", "10.50", "first visit"], ["2024-01-06", "11.00", "paid cash"]])
    with pytest.raises(MappingError) as err:
        mem.ingest("n", path)
    assert err.value.key == "missing_columns_any"
    assert "--map customer_id=COLUMN" in str(err.value) and "remarks" not in str(err.value).split("(its")[0]


# --------------------------------------------------------------------------- ids written as floats
CUSTOMERS = [["12349", "Acme GmbH", "Germany", "2010-11-01"], ["12350", "Borealis AS", "Norway", "2010-12-20"],
             ["00777", "Zero Lead", "Italy", "2010-01-15"]]


def test_float_ids_match_the_customers_file(tmp_path, mem):
    # as pandas writes an integer id column with a gap: 12349.0, and an empty cell
    tx = write_csv(tmp_path / "tx.csv", ["Invoice", "InvoiceDate", "Customer ID", "Price", "Quantity"], [
        ["536365.0", "2010-12-01", "12349.0", "2.50", "4"],
        ["536366.0", "2010-12-05", "12349.0", "1.00", "1"],
        ["536367.0", "2010-12-05", "12350.0", "3.00", "2"],
        ["536368.0", "2010-12-06", "", "1.00", "1"],
    ])
    cu = write_csv(tmp_path / "cu.csv", ["Customer ID", "Name", "Country", "Created"], CUSTOMERS)
    result = mem.ingest("f", tx, cu)
    ds = result.dataset.dataset_id
    tx_report, cu_report = result.reports
    assert tx_report.rejected_by_reason == {"missing customer id": 1}
    assert "ids_from_floats" in note_keys(tx_report) and "ids_from_floats" not in note_keys(cu_report)
    rows = query(mem, "SELECT t.customer_id, t.order_id, c.name, c.region, c.created_at FROM transactions t "
                      "JOIN customers c USING (dataset_id, customer_id) WHERE dataset_id = $ds ORDER BY t.row_number",
                 ds=ds)
    assert rows == [("12349", "536365", "Acme GmbH", "Germany", date(2010, 11, 1)),
                    ("12349", "536366", "Acme GmbH", "Germany", date(2010, 11, 1)),
                    ("12350", "536367", "Borealis AS", "Norway", date(2010, 12, 20))]
    # by hand at 2010-12-06: 12349 two orders (repeat), 12350 one (first), 00777 listed only
    # (potential, leading zeros kept); no third customer "12349.0"
    assert stage_counts(mem.db, ds, date(2010, 12, 6)) == {"potential": 1, "first": 1, "repeat": 1, "loyal": 0,
                                                            "lost": 0}


def test_float_ids_from_parquet_with_a_gap(tmp_path, mem):
    frame = pd.DataFrame({"CustomerID": [12349.0, None, 12350.0], "InvoiceDate": ["2010-12-01"] * 3,
                          "Sales": [1.5, 2.0, 3.25]})
    path = tmp_path / "tx.parquet"
    frame.to_parquet(path)
    result = mem.ingest("p", path)
    assert revenue_of(mem, result.dataset.dataset_id) == {"12349": Decimal("1.5"), "12350": Decimal("3.25")}
    assert result.reports[0].rejected_by_reason == {"missing customer id": 1}


def test_float_ids_in_customers_and_interactions_files(tmp_path, mem):
    tx = write_csv(tmp_path / "tx.csv", ["customer_id", "order_date", "amount"], [["12349", "2024-01-02", "5"]])
    cu = write_csv(tmp_path / "cu.csv", ["customer_id", "name"], [["12349.0", "Acme"], ["12350.00", "Other"]])
    ia = write_csv(tmp_path / "ia.csv", ["customer_id", "date", "type"], [["12349.0", "2024-01-03", "call"]])
    ds = mem.ingest("c", tx, cu, ia).dataset.dataset_id
    assert query(mem, "SELECT customer_id, name FROM customers WHERE dataset_id = $ds ORDER BY 1", ds=ds) == [
        ("12349", "Acme"), ("12350", "Other")]
    assert query(mem, "SELECT customer_id FROM interactions WHERE dataset_id = $ds", ds=ds) == [("12349",)]


def test_mixed_id_columns_are_left_as_they_are(tmp_path, mem):
    tx = write_csv(tmp_path / "tx.csv", ["customer_id", "order_id", "order_date", "amount"], [
        ["12349.0", "7.0", "2024-01-02", "5"],
        ["1.5", "7.5", "2024-01-03", "5"],
        ["00123", "A-7", "2024-01-04", "5"],
        ["12350", "8.0", "2024-01-05", "5"],
    ])
    result = mem.ingest("m", tx)
    assert "ids_from_floats" not in note_keys(result.reports[0])
    assert query(mem, "SELECT customer_id, order_id FROM transactions WHERE dataset_id = $ds ORDER BY row_number",
                 ds=result.dataset.dataset_id) == [("12349.0", "7.0"), ("1.5", "7.5"), ("00123", "A-7"),
                                                   ("12350", "8.0")]


# --------------------------------------------------------------------------- cancelled lines
def test_cancelled_lines_are_neither_orders_nor_revenue(tmp_path, mem):
    header = ["客户编号", "下单日期", "金额", "订单号", "订单状态"]
    rows = [
        ["A", "2024-01-10", "100.00", "o1", "已完成"],
        ["A", "2024-03-10", "50.00", "o2", "Shipped"],
        ["A", "2024-05-10", "999.00", "o3", "已取消"],        # cancelled
        ["A", "2024-05-20", "-20.00", "o2r", "Refunded"],      # a return: revenue, not an order
        ["B", "2024-06-01", "300.00", "o4", "Cancelled"],      # B has only cancelled lines
        ["B", "2024-06-02", "300.00", "o5", "作废"],
        ["C", "2024-02-01", "80.00", "o6", "取消申请中"],      # a request, not (yet) a cancellation
        ["C", "2024-06-15", "70.00", "o7", "void"],
    ]
    path = write_csv(tmp_path / "订单.csv", header, rows)
    result = mem.ingest("c", path)
    report = result.reports[0]
    ds = result.dataset.dataset_id
    assert report.rejected_by_reason == {"cancelled line (status)": 4}
    assert report.rows_loaded == 4 and "cancelled_lines" in note_keys(report)
    rejected = mem.rejected_rows("c")
    assert sorted(rejected["row_number"]) == [3, 5, 6, 8]
    assert set(rejected["reason"]) == {"cancelled line (status)"}
    assert upload.reason_label("cancelled line (status)", "zh") == "已取消的行（状态）"
    assert revenue_of(mem, ds) == {"A": Decimal("130.00"), "C": Decimal("80.00")}
    # by hand at 2024-06-30: A has orders o1, o2 (repeat), C one order o6 (first); B none, and not a customer
    as_of = date(2024, 6, 30)
    assert stage_counts(mem.db, ds, as_of) == {"potential": 0, "first": 1, "repeat": 1, "loyal": 0, "lost": 0}
    table = rfm(mem.db, ds, as_of).set_index("customer_id")
    assert sorted(table.index) == ["A", "C"]
    assert table.loc["A", "frequency"] == 2 and table.loc["A", "monetary"] == pytest.approx(130.0)
    assert table.loc["A", "recency_days"] == (as_of - date(2024, 3, 10)).days
    assert table.loc["C", "frequency"] == 1 and table.loc["C", "recency_days"] == (as_of - date(2024, 2, 1)).days


STATUSES = {
    True: ["Cancelled", "canceled", "CANCELLED", "Cancellation", "void", "Voided", "wc-cancelled", "Order Cancelled",
           "cancel", "取消", "已取消", "订单取消", "作废", "已作废", "撤销", "撤单", "交易关闭"],
    False: ["Shipped", "Refunded", "returned", "Shipped - Returned to Seller", "Cancellation requested",
            "cancel pending", "partially cancelled", "not cancelled", "avoid", "取消申请中", "待取消", "未取消",
            "部分取消", "交易成功", "已退款", "closed", ""],
}


def test_which_statuses_are_cancellations(tmp_path, mem):
    statuses = STATUSES[True] + STATUSES[False]
    rows = [[f"c{i}", "2024-01-01", "10", status] for i, status in enumerate(statuses)]
    path = write_csv(tmp_path / "s.csv", ["customer_id", "order_date", "amount", "status"], rows)
    mem.ingest("s", path)
    rejected = mem.rejected_rows("s")
    got = sorted(statuses[n - 1] for n in rejected["row_number"])
    assert got == sorted(STATUSES[True])
    assert set(rejected["reason"]) == {"cancelled line (status)"}


# --------------------------------------------------------------------------- header names
@pytest.mark.parametrize("header, field", [
    # every name issue 11 lists as seen unmapped in real files
    ("grand_total", "amount"), ("Net Sales (USD)", "amount"), ("Client Ref", "customer_id"),
    ("trans_date", "order_date"), ("tran_amount", "amount"), ("cumid", "customer_id"), ("CUMID", "customer_id"),
    ("cust_no", "customer_id"), ("Description", "product"), ("category_1", "category"), ("Invoice", "order_id"),
    ("InvoiceNo", "order_id"), ("Price", "unit_price"), ("UnitPrice", "unit_price"),
])
def test_issue_header_names_map_right(header, field):
    assert auto_map("transactions", [header]) == {field: 0}


def test_description_is_a_note_in_interactions():
    assert auto_map("interactions", ["customer_id", "date", "type", "Description"])["note"] == 3


def test_price_never_takes_the_amount_and_id_beats_name():
    headers = ["Customer Name", "Customer ID", "Price", "Amount", "Grand Total", "Total"]
    mapping = auto_map("transactions", headers)
    assert mapping["customer_id"] == 1 and mapping["unit_price"] == 2 and mapping["amount"] == 3


# Real export headers (source in the comment); expected fields -> header.
REAL_HEADERS = {
    # UCI Online Retail, archive.ics.uci.edu/dataset/352
    "uci_online_retail": (UCI_HEADER, {
        "order_id": "InvoiceNo", "product": "Description", "quantity": "Quantity", "order_date": "InvoiceDate",
        "unit_price": "UnitPrice", "customer_id": "CustomerID", "region": "Country"}),
    # UCI Online Retail II, archive.ics.uci.edu/dataset/502
    "uci_online_retail_ii": (["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                              "Customer ID", "Country"], {
        "order_id": "Invoice", "product": "Description", "quantity": "Quantity", "order_date": "InvoiceDate",
        "unit_price": "Price", "customer_id": "Customer ID", "region": "Country"}),
    # Kaggle "Sample - Superstore"
    "superstore": (["Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID", "Customer Name",
                    "Segment", "Country", "City", "State", "Postal Code", "Region", "Product ID", "Category",
                    "Sub-Category", "Product Name", "Sales", "Quantity", "Discount", "Profit"], {
        "order_id": "Order ID", "order_date": "Order Date", "customer_id": "Customer ID", "region": "Region",
        "category": "Category", "product": "Product Name", "amount": "Sales", "quantity": "Quantity",
        "margin": "Profit"}),
    # Kaggle "Retail Transactions Dataset" (Retail_Data_Transactions.csv)
    "retail_data_transactions": (["customer_id", "trans_date", "tran_amount"], {
        "customer_id": "customer_id", "order_date": "trans_date", "amount": "tran_amount"}),
    # Kaggle "sample_sales_data" (sales_data_sample.csv)
    "sample_sales_data": (["ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "SALES", "ORDERDATE",
                           "STATUS", "QTR_ID", "MONTH_ID", "YEAR_ID", "PRODUCTLINE", "MSRP", "PRODUCTCODE",
                           "CUSTOMERNAME", "PHONE", "ADDRESSLINE1", "CITY", "COUNTRY", "TERRITORY",
                           "CONTACTLASTNAME", "DEALSIZE"], {
        "order_id": "ORDERNUMBER", "quantity": "QUANTITYORDERED", "unit_price": "PRICEEACH", "amount": "SALES",
        "order_date": "ORDERDATE", "status": "STATUS", "category": "PRODUCTLINE", "product": "PRODUCTCODE",
        "customer_id": "CUSTOMERNAME", "region": "TERRITORY"}),
    # Kaggle "Amazon Sale Report" (no customer column)
    "amazon_sale_report": (["index", "Order ID", "Date", "Status", "Fulfilment", "Sales Channel ",
                            "ship-service-level", "Style", "SKU", "Category", "Size", "ASIN", "Courier Status",
                            "Qty", "currency", "Amount", "ship-city", "ship-state", "ship-postal-code",
                            "ship-country", "promotion-ids", "B2B"], {
        "order_id": "Order ID", "order_date": "Date", "status": "Status", "channel": "Sales Channel ",
        "product": "SKU", "category": "Category", "quantity": "Qty", "amount": "Amount"}),
    # Shopify orders export
    "shopify_orders": (["Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
                        "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
                        "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
                        "Lineitem price", "Lineitem sku", "Billing Name"], {
        "customer_id": "Email", "status": "Financial Status", "paid_date": "Paid at", "amount": "Total",
        "order_date": "Created at", "quantity": "Lineitem quantity", "product": "Lineitem name",
        "unit_price": "Lineitem price"}),
    # Olist Brazilian e-commerce: olist_orders_dataset.csv
    "olist_orders": (["order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at",
                      "order_delivered_carrier_date", "order_delivered_customer_date",
                      "order_estimated_delivery_date"], {
        "order_id": "order_id", "customer_id": "customer_id", "status": "order_status",
        "order_date": "order_purchase_timestamp"}),
    # Taobao/Tmall seller order export (淘宝订单报表)
    "taobao_orders": (["订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "买家支付积分", "总金额",
                       "返点积分", "买家实际支付金额", "买家实际支付积分", "订单状态", "买家留言", "收货人姓名", "收货地址",
                       "运送方式", "联系电话", "联系手机", "订单创建时间", "订单付款时间", "宝贝标题", "宝贝种类",
                       "物流单号", "物流公司", "订单备注", "宝贝总数量"], {
        "order_id": "订单编号", "customer_id": "买家会员名", "amount": "买家实际支付金额", "status": "订单状态",
        "order_date": "订单创建时间", "paid_date": "订单付款时间", "product": "宝贝标题", "quantity": "宝贝总数量"}),
    # Chinese ERP receivables / sales document export (应收明细: 单据日期, 单据编号, ...)
    "erp_receivables": (["单据日期", "单据编号", "客户名称", "单据金额", "已收金额", "未收金额", "到期日", "状态"], {
        "order_date": "单据日期", "order_id": "单据编号", "customer_id": "客户名称", "amount": "单据金额",
        "due_date": "到期日", "status": "状态"}),
    # Kingdee/Yonyou-style sales outbound lines (销售出库单)
    "erp_sales_lines": (["单据日期", "单据编号", "往来单位", "存货编码", "存货名称", "数量", "含税单价", "价税合计",
                         "业务员"], {
        "order_date": "单据日期", "order_id": "单据编号", "customer_id": "往来单位", "product": "存货名称",
        "quantity": "数量", "unit_price": "含税单价", "amount": "价税合计", "owner": "业务员"}),
    # SAP billing document lines (VBRK/VBRP field names)
    "sap_billing": (["VBELN", "FKDAT", "KUNAG", "MATNR", "FKIMG", "NETWR"], {
        "order_id": "VBELN", "order_date": "FKDAT", "customer_id": "KUNAG", "product": "MATNR", "quantity": "FKIMG",
        "amount": "NETWR"}),
}


@pytest.mark.parametrize("source", list(REAL_HEADERS))
def test_real_export_headers_map_right(source):
    headers, expected = REAL_HEADERS[source]
    mapping = auto_map("transactions", headers)
    got = {f: headers[i] for f, i in mapping.items()}
    assert {f: got.get(f) for f in expected} == expected
    if {"customer_id", "order_date"} <= expected.keys() and ("amount" in expected or "unit_price" in expected):
        # the file is loadable as it is
        missing = [f for f in REQUIRED["transactions"]
                   if f not in mapping and not (f == "amount" and derives_amount("transactions", mapping))]
        assert missing == []


def test_customers_and_interactions_headers():
    # a CRM contact export and a follow-up log (跟进记录)
    cu = ["Client Ref", "Company Name", "Country", "Customer Since", "Industry", "Account Manager"]
    assert {f: cu[i] for f, i in auto_map("customers", cu).items()} == {
        "customer_id": "Client Ref", "name": "Company Name", "region": "Country", "created_at": "Customer Since",
        "industry": "Industry", "owner": "Account Manager"}
    ia = ["客户编号", "跟进时间", "跟进方式", "跟进内容"]
    assert {f: ia[i] for f, i in auto_map("interactions", ia).items()} == {
        "customer_id": "客户编号", "date": "跟进时间", "type": "跟进方式", "note": "跟进内容"}


# --------------------------------------------------------------------------- the Data page
def test_data_page_maps_quantity_and_unit_price_without_an_amount(tmp_path, mem):
    path = upload.save_upload(
        write_csv(tmp_path / "src.csv", UCI_HEADER, uci_rows(".0")).read_bytes(), "Online Retail.csv", tmp_path)
    preview = upload.inspect_file(path, "transactions")
    assert preview.problem is None
    choices = upload.default_choices(preview)
    assert choices["amount"] is None and choices["unit_price"] == 5 and choices["quantity"] == 3
    plan = upload.plan(preview, choices)
    checked = upload.check([plan])
    report = checked.reports[0]
    assert report.derived == {"amount": "Quantity × UnitPrice"}
    frame = upload.mapping_frame(report, "zh")
    assert {"field": "金额", "column": "Quantity × UnitPrice"} in frame.to_dict("records")
    assert {"field": "单价", "column": "UnitPrice"} in frame.to_dict("records")
    saved = upload.save(mem, "uci", [plan]).dataset
    assert revenue_of(mem, saved.dataset_id) == uci_expected_revenue()
    # amount switched off with only a quantity is still a missing required column
    with pytest.raises(MappingError):
        upload.plan(preview, {**choices, "unit_price": None})


def test_new_rejection_reasons_have_labels():
    for reason in ("cancelled line (status)", "missing quantity", "quantity is not a number",
                   "missing unit price", "unit price is not a number"):
        assert upload.reason_label(reason, "zh") != reason and upload.reason_label(reason, "en") != ""


def test_order_quantity_and_discount_applied_headers_of_a_real_export():
    """The header row of Kaggle's "US Regional Sales Data" export (no amount
    column: amount = Order Quantity × Unit Price; Discount Applied is the
    loyalty measures' discount)."""
    from crmflow.mapping import auto_map

    headers = ["OrderNumber", "Sales Channel", "WarehouseCode", "OrderDate", "CurrencyCode", "_SalesTeamID",
               "_CustomerID", "_StoreID", "_ProductID", "Order Quantity", "Discount Applied", "Unit Cost",
               "Unit Price"]
    mapped = {field: headers[i] for field, i in auto_map("transactions", headers).items()}
    assert mapped["quantity"] == "Order Quantity"
    assert mapped["discount"] == "Discount Applied"
    assert mapped["unit_price"] == "Unit Price" and mapped["customer_id"] == "_CustomerID"
    assert "amount" not in mapped
