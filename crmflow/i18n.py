"""Translation tables (English, 简体中文). Every label the interface shows comes
from here; a test fails when a key is missing in either language.

Chinese terms follow the course texts the product comes from: 潜在客户,
初次购买客户, 重复购买客户, 忠诚客户, 流失客户, 挽回.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"

TRANSLATIONS: dict[str, dict[str, str]] = {
    "en": {
        "app_title": "crmflow",
        "app_tagline": "How customers move through the relationship",
        "page_overview": "Overview",
        "sidebar_dataset": "Dataset",
        "sidebar_as_of": "As of",
        "sidebar_language": "Language",
        "sidebar_definitions": "Definitions",
        "param_lost_after_days": "Lost after (days without an order)",
        "param_loyal_orders": "Loyal: orders in the window",
        "param_loyal_window_days": "Loyal window (days)",
        "stage_none": "Not yet a customer",
        "stage_potential": "Potential",
        "stage_first": "First purchase",
        "stage_repeat": "Repeat",
        "stage_loyal": "Loyal",
        "stage_lost": "Lost",
        "customers": "Customers",
        "stage": "Stage",
                "overview_dataset_caption": "Dataset {name}: {n_transactions:,} transactions, {n_customers:,} customers in the customers table",
        "error_title": "Something in the data needs attention",
        "empty_data": "This dataset has no customers at this date.",
        "segment": "Segment",
        "segment_champions": "Champions",
        "segment_loyal": "Steady buyers",
        "segment_potential_loyalist": "Rising buyers",
        "segment_new": "Recent starters",
        "segment_promising": "Promising",
        "segment_need_attention": "Need a nudge",
        "segment_about_to_sleep": "About to sleep",
        "segment_at_risk": "Fading regulars",
        "segment_cant_lose": "Quiet top buyers",
        "segment_hibernating": "Hibernating",
        "segment_lost": "Gone cold",
        "pareto_headline_revenue": "The top 20% of customers give {share:.0%} of revenue",
        "pareto_headline_profit": "The top 20% of customers give {share:.0%} of profit",
        "profit_needs_cost": "Upload transactions with a cost or margin column to unlock profit",
    },
    "zh": {
        "app_title": "crmflow 客户流转",
        "app_tagline": "客户在关系中的流转",
        "page_overview": "总览",
        "sidebar_dataset": "数据集",
        "sidebar_as_of": "截至日期",
        "sidebar_language": "语言",
        "sidebar_definitions": "定义参数",
        "param_lost_after_days": "流失判定（无订单天数）",
        "param_loyal_orders": "忠诚：窗口内订单数",
        "param_loyal_window_days": "忠诚窗口（天）",
        "stage_none": "尚未成为客户",
        "stage_potential": "潜在客户",
        "stage_first": "初次购买客户",
        "stage_repeat": "重复购买客户",
        "stage_loyal": "忠诚客户",
        "stage_lost": "流失客户",
        "customers": "客户数",
        "stage": "阶段",
                "overview_dataset_caption": "数据集 {name}：{n_transactions:,} 条交易，客户表 {n_customers:,} 位客户",
        "error_title": "数据中有需要处理的问题",
        "empty_data": "该数据集在此日期没有客户。",
        "segment": "客户分群",
        "segment_champions": "冠军买家",
        "segment_loyal": "稳定买家",
        "segment_potential_loyalist": "上升买家",
        "segment_new": "新近起步",
        "segment_promising": "有望买家",
        "segment_need_attention": "需要推动",
        "segment_about_to_sleep": "即将沉睡",
        "segment_at_risk": "渐疏常客",
        "segment_cant_lose": "沉寂的头部买家",
        "segment_hibernating": "休眠买家",
        "segment_lost": "冷淡买家",
        "pareto_headline_revenue": "前 20% 的客户贡献了 {share:.0%} 的收入",
        "pareto_headline_profit": "前 20% 的客户贡献了 {share:.0%} 的利润",
        "profit_needs_cost": "上传含成本或毛利列的交易数据即可查看利润",
    },
}


def _merge_locale_files() -> None:
    """Add the labels of ``crmflow/locales/*.json`` (one file per area of the
    interface, ``{"en": {...}, "zh": {...}}``) to the tables; a key defined
    twice is an error, so two areas never silently fight over a label."""
    import json
    from pathlib import Path

    for path in sorted((Path(__file__).parent / "locales").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for lang, table in doc.items():
            target = TRANSLATIONS.setdefault(lang, {})
            clash = set(table) & set(target)
            if clash:
                raise RuntimeError(f"{path.name} redefines translation keys {sorted(clash)}")
            target.update(table)


_merge_locale_files()


def formatter(key: str, lang: str = DEFAULT_LANGUAGE) -> Callable[[Mapping[str, object]], str]:
    """The label ``key`` in ``lang`` as a function of its values: ``formatter(key,
    lang)(values)`` is ``t(key, lang, **values)``, with the label looked up once
    (for wording many rows with one label). An unknown language falls back to
    English; an unknown key raises KeyError, here when the formatter is made."""
    text = TRANSLATIONS.get(lang, TRANSLATIONS[DEFAULT_LANGUAGE])[key]

    def format_values(values: Mapping[str, object]) -> str:
        return text.format(**values) if values else text

    return format_values


def t(key: str, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``values``."""
    return formatter(key, lang)(values)
