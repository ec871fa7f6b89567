"""Column mapping: which column of an export is which field of the data contract.

Synonyms are data (English and Chinese, in priority order). Headers are
normalised before matching — case, spaces, underscores, punctuation and a unit
in brackets are ignored, so ``Order Date``, ``order_date`` and ``下单日期(北京时间)``
all match. A column is used for at most one field. The user overrides any of it
with ``--map field=column`` (by header name, or by 1-based position as ``#3``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from crmflow.errors import MappingError

TABLES = ("transactions", "customers", "interactions")

#: field -> synonyms, in priority order; the fields of each table in assignment order.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "transactions": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "customer_no", "customer number", "customer code",
            "cust_id", "custid", "client_id", "client id", "clientid", "client", "customer", "account_id",
            "account id", "account", "buyer_id", "buyer", "member_id", "user_id", "userid",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户号", "客户", "顾客编号", "顾客ID",
            "会员编号", "会员ID", "用户ID", "买家ID", "客户名称", "customer name", "client name",
        ),
        "order_date": (
            "order_date", "order date", "orderdate", "date", "order_time", "purchase_date", "purchase date",
            "transaction_date", "transaction date", "invoice_date", "invoice date", "sale_date", "sales_date",
            "订单日期", "下单日期", "日期", "交易日期", "购买日期", "销售日期", "下单时间", "订单时间",
            "成交日期", "开票日期", "发货日期",
        ),
        "amount": (
            "amount", "revenue", "sales", "sales_amount", "sales amount", "dollar_value", "dollar value",
            "dollars", "value", "total", "total_amount", "order_amount", "net_amount", "line_total",
            "turnover", "price_total", "金额", "销售额", "订单金额", "交易金额", "实付金额", "销售金额",
            "总金额", "收入", "营业额", "成交金额", "含税金额", "价税合计",
        ),
        "order_id": (
            "order_id", "order id", "orderid", "order_no", "order number", "invoice", "invoice_no",
            "invoice_id", "transaction_id", "订单号", "订单编号", "单号", "订单ID", "发票号", "单据编号",
        ),
        "quantity": ("quantity", "qty", "units", "number_of_cds", "数量", "件数", "销量"),
        "product": ("product", "item", "sku", "product_name", "产品", "商品", "产品名称", "商品名称", "货品"),
        "category": ("category", "product_category", "类别", "品类", "产品类别", "商品类别", "分类"),
        "cost": ("cost", "cogs", "cost_amount", "成本", "成本金额"),
        "margin": ("margin", "profit", "gross_profit", "gross margin", "毛利", "利润", "毛利额"),
        "channel": ("channel", "sales_channel", "渠道", "销售渠道"),
        "region": ("region", "area", "territory", "区域", "地区", "大区", "销售区域"),
        "owner": (
            "owner", "account_manager", "account manager", "sales_rep", "salesperson", "rep",
            "客户经理", "销售员", "负责人", "业务员", "销售代表",
        ),
        "due_date": ("due_date", "due date", "payment_due", "应付日期", "到期日", "应收日期", "付款期限", "账期到期日"),
        "paid_date": ("paid_date", "paid date", "payment_date", "付款日期", "回款日期", "实际付款日期", "收款日期"),
        "status": ("status", "order_status", "状态", "订单状态"),
    },
    "customers": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "customer_no", "customer code", "cust_id", "client_id",
            "client", "customer", "account_id", "account",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户号", "客户", "会员编号", "客户名称",
        ),
        "name": ("name", "customer_name", "customer name", "company", "company_name", "客户名称", "公司名称", "名称", "企业名称"),
        "created_at": (
            "created_at", "created", "create_date", "lead_date", "first_contact", "first contact date",
            "signup_date", "registration_date", "创建日期", "建档日期", "首次接触日期", "注册日期", "创建时间",
        ),
        "region": ("region", "area", "territory", "区域", "地区", "大区"),
        "industry": ("industry", "sector", "行业", "所属行业"),
        "owner": ("owner", "account_manager", "sales_rep", "客户经理", "负责人", "业务员", "销售员"),
        "tier": ("tier", "level", "grade", "class", "segment", "等级", "客户等级", "级别"),
        "is_key_account": (
            "is_key_account", "key_account", "key account", "ka", "key", "大客户", "是否大客户", "重点客户",
            "核心客户", "是否重点客户",
        ),
        "credit_limit": ("credit_limit", "credit limit", "信用额度", "授信额度"),
    },
    "interactions": {
        "customer_id": (
            "customer_id", "customer id", "customerid", "client_id", "client", "customer", "account_id",
            "客户编号", "客户ID", "客户id", "客户代码", "客户编码", "客户", "客户名称",
        ),
        "date": ("date", "interaction_date", "contact_date", "activity_date", "日期", "联系日期", "拜访日期", "时间", "发生日期"),
        "type": ("type", "interaction_type", "activity_type", "activity", "类型", "联系方式", "事件类型", "互动类型"),
        "resolved": ("resolved", "is_resolved", "是否解决", "已解决", "处理状态", "解决状态"),
        "satisfaction": ("satisfaction", "csat", "rating", "score", "满意度", "评分"),
        "note": ("note", "notes", "comment", "description", "备注", "内容", "说明"),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "order_date", "amount"),
    "customers": ("customer_id",),
    "interactions": ("customer_id", "date", "type"),
}

#: fields parsed as dates / numbers / booleans (the rest are text)
DATE_FIELDS = {"order_date", "due_date", "paid_date", "created_at", "date"}
NUMBER_FIELDS = {"amount", "quantity", "cost", "margin", "credit_limit", "satisfaction"}
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


def parse_overrides(items: Sequence[str] | None) -> dict[str, str]:
    """``["amount=Betrag", "order_date=#2"]`` -> ``{"amount": "Betrag", ...}``."""
    out: dict[str, str] = {}
    for item in items or ():
        field, sep, column = item.partition("=")
        field = field.strip()
        if not sep or not field or not column.strip():
            raise MappingError(
                f"--map {item!r} is not of the form field=column",
                "Write it like --map customer_id=客户编号 or --map amount=#5 (5th column)",
            )
        out[field] = column.strip()
    return out


def apply_overrides(table: str, headers: Sequence[str], mapping: dict[str, int],
                    overrides: Mapping[str, str]) -> dict[str, int]:
    """Apply user overrides (by header name or ``#position``) on top of ``mapping``."""
    fields = SYNONYMS[table]
    out = dict(mapping)
    for field, column in overrides.items():
        if field not in fields:
            raise MappingError(
                f"--map names an unknown field {field!r} for the {table} table",
                f"Known fields: {', '.join(fields)}",
            )
        if column.startswith("#") and column[1:].isdigit():
            pos = int(column[1:]) - 1
            if not 0 <= pos < len(headers):
                raise MappingError(
                    f"--map {field}={column}: the file has only {len(headers)} columns",
                    "Count columns from #1",
                )
        else:
            matches = [i for i, h in enumerate(headers) if h == column]
            if not matches:
                matches = [i for i, h in enumerate(headers) if normalise(h) == normalise(column)]
            if not matches:
                raise MappingError(
                    f"--map {field}={column}: there is no column {column!r} in the {table} file",
                    f"Its columns are: {', '.join(map(str, headers))}",
                )
            pos = matches[0]
        # the column moves to this field; a field that had it loses it
        out = {f: p for f, p in out.items() if p != pos}
        out[field] = pos
    return out
