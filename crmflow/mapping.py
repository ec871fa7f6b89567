"""Column mapping: which column of an export is which field of the data contract.

Synonyms are data (English and Chinese, in priority order). Headers are
normalised before matching — case, spaces, underscores, punctuation and a unit
in brackets are ignored, so ``Order Date``, ``order_date`` and ``下单日期(北京时间)``
all match. A column is used for at most one field. The user overrides any of it
with ``--map field=column`` (by header name, or by 1-based position as ``#3``);
``--map amount=Quantity*UnitPrice`` (or ``#4*#6``) maps the quantity and unit
price and has the amount derived from them.

The synonyms come from the headers of real exports: UCI Online Retail (I and
II), the Kaggle Superstore, Retail Transactions (customer_id, trans_date,
tran_amount), Amazon sale report and sample sales data files, Shopify and Olist
order exports, Taobao/Tmall order exports (订单编号, 买家会员名, 买家实际支付金额,
...), Kingdee/Yonyou-style documents (单据日期, 单据编号, 往来单位, 存货名称) and
SAP field names (KUNNR, VBELN, FKDAT, NETWR, MATNR). A header that two fields
know goes to the field listed first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from crmflow.errors import MappingError

TABLES = ("transactions", "customers", "interactions", "surveys")

#: field -> synonyms, in priority order; the fields of each table in assignment order.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "transactions": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "customer_no", "customer number", "customer code",
            "customer_ref", "customer reference", "customer_key", "customer_num",
            "cust_id", "custid", "cust_no", "custno", "cust_code", "cust_ref", "cusid", "cumid",
            "client_id", "client id", "clientid", "client_ref", "client ref", "client reference", "client_no",
            "client code", "client", "customer", "account_id", "account id", "account_no", "account number",
            "account", "buyer_id", "buyer", "member_id", "user_id", "userid", "kunnr", "kunag",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户号", "客户", "顾客编号", "顾客ID",
            "会员编号", "会员ID", "会员卡号", "用户ID", "买家ID", "买家会员名", "买家昵称", "会员名",
            "客户名称", "客户全称", "客户简称", "购货单位", "往来单位", "customer name", "client name",
            "customer_email", "customer email", "email",
        ),
        "order_date": (
            "order_date", "order date", "orderdate", "date", "order_time", "purchase_date", "purchase date",
            "transaction_date", "transaction date", "trans_date", "tran_date", "txn_date", "invoice_date",
            "invoice date", "sale_date", "sales_date", "sales date", "billing_date", "bill_date", "document_date",
            "doc_date", "posting_date", "order_purchase_timestamp", "created at", "fkdat", "erdat",
            "订单日期", "下单日期", "日期", "交易日期", "购买日期", "销售日期", "下单时间", "订单时间",
            "成交日期", "开票日期", "单据日期", "业务日期", "订单创建时间", "创建时间", "成交时间", "出库日期",
            "发货日期",
        ),
        "amount": (
            "amount", "revenue", "sales", "sales_amount", "sales amount", "net_sales", "net sales", "gross_sales",
            "net_revenue", "sales_value", "dollar_value", "dollar value", "dollars", "value", "total",
            "total_amount", "grand_total", "grand total", "order_total", "invoice_total", "order_amount",
            "net_amount", "line_total", "line_amount", "total_price", "totalprice", "total_sales",
            "extended_price", "extended price", "ext_price", "extended_amount", "tran_amount", "trans_amount",
            "transaction_amount", "txn_amount", "payment_value", "turnover", "price_total", "netwr",
            "金额", "销售额", "订单金额", "交易金额", "实付金额", "买家实际支付金额", "实收金额", "销售金额",
            "单据金额", "本币金额", "价税合计", "总金额", "收入", "营业额", "成交金额", "含税金额", "订单应付金额",
        ),
        "order_id": (
            "order_id", "order id", "orderid", "order_no", "order number", "invoice", "invoice_no",
            "invoice number", "invoice_id", "inv_no", "bill_no", "receipt_no", "document_no", "doc_no",
            "transaction_id", "txn_id", "sales_order", "vbeln",
            "订单号", "订单编号", "单号", "订单ID", "发票号", "发票号码", "单据编号", "单据号", "销售单号",
            "出库单号", "交易号",
        ),
        "quantity": (
            "quantity", "qty", "units", "quantity_ordered", "quantityordered", "order quantity", "lineitem quantity",
            "units_sold",
            "number_of_cds", "fkimg",
            "数量", "件数", "销量", "销售数量", "购买数量", "商品数量", "宝贝总数量", "宝贝数量", "出库数量",
        ),
        "unit_price": (
            "unit_price", "unit price", "unitprice", "price", "price_each", "priceeach", "lineitem price",
            "item_price", "sale_price", "selling_price",
            "单价", "含税单价", "销售单价", "成交单价", "商品单价", "实际单价", "无税单价",
        ),
        "product": (
            "product", "item", "sku", "product_name", "description", "product description", "item description",
            "item_name", "lineitem name", "stockcode", "stock code", "product_code", "product_id", "item_code",
            "matnr",
            "产品", "商品", "产品名称", "商品名称", "货品", "品名", "宝贝标题", "存货名称", "物料名称",
            "商品编码", "存货编码", "物料编码",
        ),
        "category": (
            "category", "category_1", "category_name", "product_category", "product_line", "productline",
            "类别", "品类", "产品类别", "商品类别", "分类", "类目", "一级类目", "商品类目", "存货分类", "产品线",
        ),
        "cost": ("cost", "cogs", "cost_amount", "成本", "成本金额"),
        "margin": ("margin", "profit", "gross_profit", "gross margin", "毛利", "利润", "毛利额"),
        "channel": ("channel", "sales_channel", "渠道", "销售渠道"),
        "region": ("region", "area", "territory", "country", "区域", "地区", "大区", "销售区域", "省份", "国家"),
        "owner": (
            "owner", "account_manager", "account manager", "sales_rep", "salesperson", "sales person", "rep",
            "客户经理", "销售员", "负责人", "业务员", "销售代表", "销售人员",
        ),
        "due_date": ("due_date", "due date", "payment_due", "应付日期", "到期日", "应收日期", "付款期限", "账期到期日"),
        "paid_date": (
            "paid_date", "paid date", "paid at", "payment_date", "付款日期", "回款日期", "实际付款日期", "收款日期",
            "订单付款时间", "付款时间",
        ),
        "status": ("status", "order_status", "financial status", "状态", "订单状态", "单据状态", "交易状态"),
        # price sensitivity (crmflow.loyalty): a discount (amount or rate) or the list price per unit
        "discount": ("discount", "discount_amount", "discount_rate", "discount applied", "disc", "rebate", "折扣", "折扣金额", "优惠",
                     "优惠金额", "减免金额", "折让"),
        "list_price": ("list_price", "list price", "listprice", "msrp", "rrp", "original_price", "regular_price",
                       "标价", "原价", "吊牌价", "市场价", "零售价"),
    },
    "customers": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "customer_no", "customer number", "customer code",
            "customer_ref", "cust_id", "custid", "cust_no", "custno", "cust_code", "cusid", "cumid", "client_id",
            "client id", "client_ref", "client ref", "client", "customer", "account_id", "account_no",
            "account number", "account", "kunnr",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户号", "客户", "会员编号", "会员ID",
            "客户名称", "email",
        ),
        "name": (
            "name", "customer_name", "customer name", "client name", "company", "company_name", "account name",
            "客户名称", "公司名称", "名称", "企业名称", "客户全称",
        ),
        "created_at": (
            "created_at", "created", "create_date", "lead_date", "first_contact", "first contact date",
            "signup_date", "registration_date", "date_joined", "customer_since",
            "创建日期", "建档日期", "首次接触日期", "注册日期", "创建时间", "注册时间", "开户日期",
        ),
        "region": ("region", "area", "territory", "country", "区域", "地区", "大区", "省份", "国家"),
        "industry": ("industry", "sector", "行业", "所属行业"),
        "owner": ("owner", "account_manager", "sales_rep", "客户经理", "负责人", "业务员", "销售员"),
        "tier": ("tier", "level", "grade", "class", "segment", "等级", "客户等级", "级别", "会员等级"),
        "is_key_account": (
            "is_key_account", "key_account", "key account", "ka", "key", "大客户", "是否大客户", "重点客户",
            "核心客户", "是否重点客户",
        ),
        "credit_limit": ("credit_limit", "credit limit", "信用额度", "授信额度"),
    },
    "interactions": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "customer_no", "cust_id", "cust_no", "cusid", "cumid",
            "client_id", "client_ref", "client ref", "client", "customer", "account_id", "account",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户", "客户名称",
        ),
        "date": (
            "date", "interaction_date", "contact_date", "activity_date", "created at",
            "日期", "联系日期", "拜访日期", "跟进日期", "跟进时间", "时间", "发生日期",
        ),
        "type": (
            "type", "interaction_type", "activity_type", "contact_type", "activity",
            "类型", "联系方式", "跟进方式", "沟通方式", "事件类型", "互动类型",
        ),
        "resolved": ("resolved", "is_resolved", "是否解决", "已解决", "处理状态", "解决状态"),
        "satisfaction": ("satisfaction", "csat", "rating", "score", "满意度", "评分"),
        "note": ("note", "notes", "comment", "description", "subject", "备注", "内容", "说明", "跟进内容", "沟通内容"),
    },
}

# The optional Servqual survey (crmflow.servqual): one row per response × item
# (a wide file, one row per response with Q1_E/Q1_P or 期望1/感知1 columns, is
# melted to this form first: crmflow.ingest.melt_wide_survey).
SYNONYMS["surveys"] = {
    "date": (
        "date", "survey_date", "survey date", "response_date", "response date", "submitted_at", "submitted",
        "timestamp", "created at", "日期", "调查日期", "问卷日期", "填写日期", "提交时间", "填写时间", "答卷时间", "时间",
    ),
    "item": (
        "item", "item_id", "question", "question_id", "statement", "attribute",
        "题目", "题号", "问题", "条目", "项目", "指标", "测量项",
    ),
    "expectation": (
        "expectation", "expectation_score", "expected", "expect", "e_score",
        "期望", "期望值", "期望分", "期望得分", "期望分数",
    ),
    "perception": (
        "perception", "perception_score", "perceived", "perceive", "p_score",
        "感知", "感知值", "感知分", "感知得分", "感知分数", "实际感受", "实际感受分数",
    ),
    "dimension": ("dimension", "servqual_dimension", "factor", "category", "维度", "服务质量维度", "类别", "因素"),
    "customer_id": SYNONYMS["interactions"]["customer_id"],
    "response_id": (
        "response_id", "response id", "respondent", "respondent_id", "respondent id", "survey_id", "answer_id",
        "问卷编号", "问卷ID", "答卷编号", "受访者", "受访者编号",
    ),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_date", "amount"),
    "customers": ("customer_id",),
    "interactions": ("customer_id", "date", "type"),
    "surveys": ("date", "item", "expectation", "perception"),
}

#: fields parsed as dates / numbers / booleans (the rest are text)
DATE_FIELDS = {"order_date", "due_date", "paid_date", "created_at", "date"}
NUMBER_FIELDS = {"amount", "quantity", "unit_price", "cost", "margin", "credit_limit", "satisfaction", "discount",
                 "list_price", "expectation", "perception"}
#: id fields: text, but a column of integral numbers written as floats (12349.0) is read as integers
ID_FIELDS = {"customer_id", "order_id"}
BOOL_FIELDS = {"is_key_account", "resolved"}

_BRACKETS_RE = re.compile(r"[(\[（【].*?[)\]）】]")
_DROP_RE = re.compile(r"[\s_\-./:：,，;'\"`#]+")


def normalise(header: str) -> str:
    """Canonical form of a header for matching: ``Order Date (UTC)`` -> ``orderdate``."""
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip().lower()
    stripped = _BRACKETS_RE.sub("", text)
    text = stripped if stripped.strip() else text
    return _DROP_RE.sub("", text)


_NORMALISED = {
    table: {field: tuple(dict.fromkeys(normalise(s) for s in syns)) for field, syns in fields.items()}
    for table, fields in SYNONYMS.items()
}


def auto_map(table: str, headers: Sequence[str]) -> dict[str, int]:
    """Map fields to column positions from the headers' names alone."""
    norm = [normalise(h) for h in headers]
    taken: set[int] = set()
    out: dict[str, int] = {}
    for field, syns in _NORMALISED[table].items():
        for syn in syns:
            hits = [i for i, n in enumerate(norm) if n == syn and i not in taken]
            if hits:
                out[field] = hits[0]
                taken.add(hits[0])
                break
    return out


#: words in a header that say the column holds codes or ids, not money
_ID_WORDS = {"id", "code", "no", "nr", "num", "number", "key", "ref", "sku", "ean", "upc", "isbn"}
_ID_CJK = ("编号", "编码", "代码", "单号", "号码", "条码", "货号")


def says_id(header: str) -> bool:
    """Does the header name say the column holds codes or ids (``StockCode``,
    ``CustomerID``, ``Invoice No``, ``商品编码``)?"""
    text = unicodedata.normalize("NFKC", str(header))
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    words = set(re.split(r"[^a-z0-9]+", text))
    return bool(words & _ID_WORDS) or any(w in text for w in _ID_CJK) or text.endswith("号")


_PRODUCT_RE = re.compile(r"^(.+?)\s*[*×]\s*(.+)$")


def _position(table: str, headers: Sequence[str], field: str, column: str) -> int:
    """The 0-based position of ``column`` (a header name or ``#N``) for ``--map field=column``."""
    if column.startswith("#") and column[1:].isdigit():
        pos = int(column[1:]) - 1
        if not 0 <= pos < len(headers):
            raise MappingError(key="map_position", field=field, column=column, n=len(headers))
        return pos
    matches = [i for i, h in enumerate(headers) if h == column]
    if not matches:
        matches = [i for i, h in enumerate(headers) if normalise(h) == normalise(column)]
    if not matches:
        raise MappingError(key="map_no_column", field=field, column=column, table=table,
                           columns=", ".join(map(str, headers)))
    return matches[0]


def _is_column(headers: Sequence[str], column: str) -> bool:
    return any(h == column or normalise(h) == normalise(column) for h in headers)


def parse_overrides(items: Sequence[str] | None) -> dict[str, str]:
    """``["amount=Betrag", "order_date=#2"]`` -> ``{"amount": "Betrag", ...}``."""
    out: dict[str, str] = {}
    for item in items or ():
        field, sep, column = item.partition("=")
        field = field.strip()
        if not sep or not field or not column.strip():
            raise MappingError(key="map_form", item=item)
        out[field] = column.strip()
    return out


def apply_overrides(table: str, headers: Sequence[str], mapping: dict[str, int],
                    overrides: Mapping[str, str]) -> dict[str, int]:
    """Apply user overrides (by header name or ``#position``) on top of ``mapping``.

    ``amount=Quantity*UnitPrice`` (a product of two columns, also ``#4 * #6``
    or with ``×``) maps quantity and unit_price and leaves amount unmapped:
    the amount is then derived from them (see :func:`derives_amount`)."""
    fields = SYNONYMS[table]
    out = dict(mapping)
    for field, column in overrides.items():
        if field not in fields:
            raise MappingError(key="map_unknown_field", field=field, table=table, fields=", ".join(fields))
        product = _PRODUCT_RE.match(column)
        if table == "transactions" and field == "amount" and product and not _is_column(headers, column):
            pairs = [("quantity", product.group(1).strip()), ("unit_price", product.group(2).strip())]
            positions = {f: _position(table, headers, field, c) for f, c in pairs}
            if positions["quantity"] == positions["unit_price"]:
                raise MappingError(key="map_product_same", column=column)
            out.pop("amount", None)
            for f, pos in positions.items():
                out = {g: p for g, p in out.items() if p != pos}
                out[f] = pos
            continue
        pos = _position(table, headers, field, column)
        # the column moves to this field; a field that had it loses it
        out = {f: p for f, p in out.items() if p != pos}
        out[field] = pos
    return out


def missing_required(table: str, mapping: Mapping[str, int]) -> list[str]:
    """Required fields ``mapping`` leaves without a column (no amount column is
    fine when quantity and unit price give it)."""
    return [f for f in REQUIRED[table] if f not in mapping and not (f == "amount" and derives_amount(table, mapping))]


def derives_amount(table: str, mapping: Mapping[str, int]) -> bool:
    """Is the amount derived as quantity × unit price (no amount column, both of those mapped)?"""
    return table == "transactions" and "amount" not in mapping and "quantity" in mapping and "unit_price" in mapping
