"""Deterministic, realistic B2B demo data.

:func:`generate` builds three frames — order lines, customers and contact
history — for a wholesale business selling ~30 products in 6 categories
through 3 channels in 5 regions, looked after by 8 account managers. The data
is made to show everything the dashboard analyses: leads that never buy,
steady acquisition, different purchase rhythms, one-off buyers, churners whose
orders thin out and shrink before they stop, win-backs after a long gap, loyal
frequent buyers, returns, same-day orders, a skewed revenue distribution led by
key accounts, late payers and unresolved complaints.

Everything is drawn from one ``numpy.random.default_rng(seed)`` and computed
with array operations (no Python loop over orders or customers), so the same
seed always gives identical frames and the default size builds in a fraction
of a second.

Internally every date is an integer *day offset* from ``start`` (0 … span);
it is turned into ``datetime64[ns]`` only when the frames are assembled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmflow.errors import CrmflowError

__all__ = ["DemoData", "generate"]

DEFAULT_SEED = 20240601
DEFAULT_N_CUSTOMERS = 3000
DEFAULT_START = dt.date(2022, 1, 1)
DEFAULT_END = dt.date(2025, 6, 30)

# --------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------

REGIONS = ("North", "East", "South", "West", "Central")
REGION_WEIGHTS = (0.25, 0.25, 0.20, 0.15, 0.15)

#: Account managers, each covering one region (8 in all).
OWNERS_BY_REGION = {
    "North": ("Li Wei", "Emma Clarke"),
    "East": ("Zhang Min", "James Porter"),
    "South": ("Chen Jing",),
    "West": ("Olivia Brown", "Daniel Schmidt"),
    "Central": ("Wang Fang",),
}

#: (industry, English word used in company names, Chinese word used in names)
INDUSTRIES = (
    ("Manufacturing", "Manufacturing", "制造"),
    ("Wholesale & Retail", "Trading", "贸易"),
    ("Logistics", "Logistics", "物流"),
    ("Technology", "Technologies", "科技"),
    ("Healthcare", "Medical", "医疗"),
    ("Construction", "Building Materials", "建材"),
    ("Food & Beverage", "Foods", "食品"),
    ("Energy", "Energy", "能源"),
)

CHANNELS = ("Direct", "Distributor", "Online")
CHANNEL_WEIGHTS = (0.30, 0.40, 0.30)
KEY_ACCOUNT_CHANNEL_WEIGHTS = (0.80, 0.15, 0.05)
#: Probability that an order goes through the customer's usual channel.
MAIN_CHANNEL_SHARE = 0.85

#: category -> typical gross margin of its lines
CATEGORY_MARGIN = {
    "Packaging": 0.22,
    "Electronics": 0.28,
    "Office Supplies": 0.25,
    "Industrial Parts": 0.32,
    "Chemicals": 0.30,
    "Software & Services": 0.55,
}
CATEGORIES = tuple(CATEGORY_MARGIN)

#: (product, category, list price per unit, relative popularity)
CATALOG = (
    ("Corrugated Boxes (pack of 50)", "Packaging", 45.0, 3.0),
    ("Stretch Film Roll", "Packaging", 28.0, 3.0),
    ("Pallet Wrap Pro", "Packaging", 60.0, 1.5),
    ("Custom Printed Cartons", "Packaging", 180.0, 1.0),
    ("Protective Foam Kit", "Packaging", 95.0, 1.0),
    ("Industrial Sensor", "Electronics", 320.0, 1.5),
    ("PLC Controller", "Electronics", 1450.0, 0.6),
    ("Power Supply Unit", "Electronics", 210.0, 1.2),
    ("Cable Assembly", "Electronics", 35.0, 2.5),
    ("Touch Panel HMI", "Electronics", 980.0, 0.5),
    ("Copy Paper (box)", "Office Supplies", 38.0, 3.0),
    ("Toner Cartridge", "Office Supplies", 85.0, 2.5),
    ("Ergonomic Chair", "Office Supplies", 420.0, 0.6),
    ("Desk Organizer Set", "Office Supplies", 25.0, 1.5),
    ("Whiteboard Kit", "Office Supplies", 140.0, 0.8),
    ("Bearing Set", "Industrial Parts", 75.0, 2.0),
    ("Hydraulic Pump", "Industrial Parts", 2300.0, 0.4),
    ("Valve Assembly", "Industrial Parts", 410.0, 1.0),
    ("Gear Motor", "Industrial Parts", 860.0, 0.7),
    ("Fastener Kit", "Industrial Parts", 18.0, 3.0),
    ("Industrial Solvent (20L)", "Chemicals", 120.0, 1.5),
    ("Lubricant Drum", "Chemicals", 540.0, 0.8),
    ("Cleaning Concentrate", "Chemicals", 48.0, 2.0),
    ("Epoxy Resin Kit", "Chemicals", 160.0, 1.0),
    ("Coating Primer", "Chemicals", 95.0, 1.2),
    ("Annual Support Plan", "Software & Services", 2400.0, 0.4),
    ("Installation Service", "Software & Services", 750.0, 0.6),
    ("Training Day", "Software & Services", 1200.0, 0.5),
    ("Cloud Licence (seat)", "Software & Services", 65.0, 1.5),
    ("Maintenance Visit", "Software & Services", 480.0, 0.8),
)
#: Weight multiplier of products in a customer's preferred category.
PREFERRED_CATEGORY_BOOST = 4.0
#: Yearly list-price increase.
PRICE_INFLATION = 0.03

PAYMENT_TERMS = (30, 45, 60)
PAYMENT_TERMS_WEIGHTS = (0.50, 0.25, 0.25)
KEY_ACCOUNT_TERMS_WEIGHTS = (0.20, 0.30, 0.50)

EN_NAME_ROOTS = (
    "Northwind", "Apex", "Bluewater", "Summit", "Ironbridge", "Redwood",
    "Silverline", "Crescent", "Harbor", "Keystone", "Pinnacle", "Meridian",
    "Oakridge", "Evergreen", "Granite", "Lakeside", "Horizon", "Falcon",
    "Beacon", "Cobalt", "Sterling", "Westfield", "Riverside", "Highland",
    "Orion", "Atlas", "Vanguard", "Clearwater", "Brightstone", "Stonegate",
    "Maple", "Cedar", "Pioneer", "Frontier", "Liberty", "Unity", "Triton",
    "Zenith", "Nova", "Vertex", "Alder", "Birch", "Ashford", "Kingsley",
    "Hamilton", "Whitmore", "Fairview", "Greenfield", "Bayview",
    "Copperfield", "Sunrise", "Blackrock", "Eastgate", "Northgate",
    "Southport", "Windsor", "Carlton", "Emerald", "Sapphire", "Titan",
)
EN_LEGAL_FORMS = ("Ltd", "Inc.", "LLC", "GmbH", "Co.", "PLC", "Group")
ZH_NAME_ROOTS = (
    "华盛", "恒通", "金石", "宏达", "永信", "鑫源", "瑞丰", "天成", "嘉禾", "博远",
    "新锐", "联创", "海润", "明辉", "安泰", "泰和", "富强", "德胜", "百川", "锦程",
    "盛世", "康达", "宝丰", "弘毅", "华信", "鼎盛", "同创", "合力", "启明", "凯旋",
    "春晖", "远航", "众诚", "恒昌", "立新", "中恒", "润泽", "东升", "万联", "佳宇",
)
#: City prefixes of Chinese company names ("" = none).
ZH_CITIES = ("", "上海", "深圳", "广州", "杭州", "苏州", "成都", "武汉")
ZH_LEGAL_FORMS = ("有限公司", "股份有限公司")
ZH_NAME_SHARE = 0.35

INTERACTION_TYPES = ("visit", "call", "email", "meeting", "complaint")
VISIT, CALL, EMAIL, MEETING, COMPLAINT = range(5)
#: Mix of routine contact types (visit, call, email, meeting).
CONTACT_MIX = (0.15, 0.40, 0.35, 0.10)
KEY_ACCOUNT_CONTACT_MIX = (0.30, 0.25, 0.20, 0.25)
#: Mix of the first contact with a lead (visit, call, email, meeting).
FIRST_CONTACT_MIX = (0.25, 0.40, 0.35, 0.0)
NOTES = {
    "visit": ("On-site visit", "Plant tour", "Quarterly business review",
              "Visited purchasing team", "客户拜访"),
    "call": ("Follow-up call", "Price enquiry", "Order status check",
             "Reorder reminder", "电话回访"),
    "email": ("Sent quotation", "Sent product catalogue", "Invoice reminder",
              "Shared price list", "邮件跟进"),
    "meeting": ("Annual contract negotiation", "Product demo",
                "Planning meeting", "Executive sponsor meeting"),
    "complaint": ("Late delivery", "Damaged goods", "Invoice error",
                  "Quality issue", "Wrong item shipped", "产品质量投诉"),
}
FIRST_CONTACT_NOTES = ("First contact", "Inbound enquiry", "Trade fair lead",
                       "Referral", "首次接触")

# --------------------------------------------------------------------------
# Behaviour parameters
# --------------------------------------------------------------------------

LEAD_SHARE = 0.20
#: Share of recent leads: created in the last LATE_LEAD_DAYS before `end`.
LATE_LEAD_SHARE = 0.25
LATE_LEAD_DAYS = 120
#: Days from first contact to first order: 0 for walk-ins, else exponential.
WALK_IN_SHARE = 0.15
LEAD_TIME_MEAN_DAYS = 40

#: Buyer archetypes and their shares (before eligibility, see _plan_customers).
ONE_OFF, ACTIVE, CHURNER, WINBACK = range(4)
ARCHETYPE_WEIGHTS = (0.15, 0.40, 0.30, 0.15)  # one-off, active, churner, win-back

#: A customer is "lost" after this many days without an order (SPEC §2).
LOST_AFTER_DAYS = 180
#: Churners' last possible order is at least this many days before `end`.
CHURN_MARGIN_DAYS = LOST_AFTER_DAYS + 6
CHURN_MIN_LIFE_DAYS = 60
#: Share of churners whose orders visibly thin out and shrink before they stop.
CHURN_DECLINE_SHARE = 0.80
#: The decline lasts 6 to 12 months.
DECLINE_DAYS = (180, 365)
#: Shape of a decline: its effect grows like (elapsed share) ** exponent, so
#: an exponent below 1 makes it bite early.
DECLINE_EXPONENT = 0.5
#: At the end of a decline, orders are kept with this probability ...
DECLINE_FREQUENCY_END = (0.15, 0.40)
#: ... and are this fraction of their usual size.
DECLINE_SIZE_END = (0.35, 0.65)

#: Win-backs: active, silent for WINBACK_GAP_DAYS, then buying again to `end`.
WINBACK_GAP_DAYS = (210, 480)
WINBACK_MIN_LIFE_DAYS = 60
WINBACK_MIN_RETURN_DAYS = 60  # buying again at least this long before `end`

#: Purchase rhythms: (share, mean days between orders lo/hi, gamma shape lo/hi).
#: A higher gamma shape is a more regular rhythm.
RHYTHMS = (
    (0.06, 6, 12, 3.0, 6.0),  # weekly-ish
    (0.24, 14, 35, 2.0, 5.0),  # fortnightly to monthly
    (0.55, 35, 100, 1.5, 4.0),  # monthly to quarterly
    (0.15, 100, 170, 1.2, 3.0),  # a few times a year
)

#: Lines per order (1-4).
LINES_PER_ORDER_WEIGHTS = (0.45, 0.30, 0.15, 0.10)
#: Share of orders that get a second, separate order on the same day.
SAME_DAY_ORDER_SHARE = 0.015

#: Typical value of one order line: lognormal median and spread per customer,
#: and spread of lines around the customer's typical value.
LINE_VALUE_MEDIAN = 600.0
CUSTOMER_SIZE_SIGMA = 0.7
LINE_VALUE_SIGMA = 0.6
#: Frequent buyers place smaller orders: line value ~ (mean gap / reference)^e.
REFERENCE_GAP_DAYS = 45.0
GAP_SIZE_ELASTICITY = 0.5
DISCOUNT_RANGE = (0.0, 0.08)
KEY_ACCOUNT_DISCOUNT_RANGE = (0.08, 0.15)
MARGIN_NOISE = 0.05
LOSS_LINE_SHARE = 0.015

KEY_ACCOUNT_SHARE = 0.05
KEY_ACCOUNT_SIZE_FACTOR = 3.0
KEY_ACCOUNT_GAP_FACTOR = 0.5  # key accounts order twice as often
KEY_ACCOUNT_MIN_AGE_DAYS = 450
KEY_ACCOUNT_MIN_LIFE_DAYS = 240
HEALTHY, DECLINING, LOST = range(3)
KEY_ACCOUNT_HEALTH_WEIGHTS = (0.50, 0.25, 0.25)

#: Tiers by expected yearly revenue: A = top 15 %, B = next 35 %, C = rest.
TIER_A_SHARE, TIER_B_SHARE = 0.15, 0.35
#: Credit limit: about a year of expected revenue, scaled by the payment terms
#: (longer terms, larger exposure), at least the tier's floor.
CREDIT_REFERENCE_TERMS = 45.0
CREDIT_FLOOR = {"A": 20_000.0, "B": 8_000.0, "C": 2_000.0}
CREDIT_CAP = 2_000_000.0

#: Payment behaviour: prompt, late, very late.
PAY_PROFILE_WEIGHTS = (0.77, 0.16, 0.07)
KEY_ACCOUNT_PAY_PROFILE_WEIGHTS = (0.85, 0.15, 0.0)
PROMPT_LATE_SHARE = 0.05  # occasional slip of a prompt payer
LATE_SHARE = 0.55
VERY_LATE_SHARE = 0.75
NEVER_PAID_SHARE = 0.10  # of a very late payer's orders

RETURN_SHARE = 0.02  # of all rows
ADJUSTMENT_SHARE = 0.001
RETURN_LAG_MEAN_DAYS = 12
FULL_RETURN_SHARE = 0.6

#: Contact rates (interactions per day).
LEAD_CONTACT_RATE = 1 / 30
LEAD_CONTACT_DAYS = 120
CONTACT_RATE = 1 / 45
TIER_CONTACT_FACTOR = {"A": 2.0, "B": 1.4, "C": 1.0}
KEY_ACCOUNT_CONTACT_RATE = 1 / 8
#: After their last order, one-off buyers and churners are still contacted
#: for this many days.
AFTER_LAST_ORDER_CONTACT_DAYS = 60
#: Contact kept at the end of a decline: key accounts / others.
KEY_ACCOUNT_DECLINE_CONTACT_END = 0.25
DECLINE_CONTACT_END = 0.60
#: Complaints: share of customers prone to complain, complaint probability
#: per contact, and probability that a complaint stays unresolved.
COMPLAINT_PRONE_SHARE = 0.08
#: Indexed by kind of customer: normal, complaint-prone, key account.
COMPLAINT_P = (0.06, 0.28, 0.02)
UNRESOLVED_P = (0.25, 0.45, 0.10)
#: Extra complaint probability / unresolved probability reached at the end of
#: a decline, indexed by kind of declining customer: churner, declining key
#: account, lost key account.
DECLINE_COMPLAINT_P = (0.05, 0.20, 0.35)
DECLINE_UNRESOLVED_P = (0.30, 0.60, 0.80)
SATISFACTION_SURVEYED_SHARE = 0.45


# --------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DemoData:
    """The demo frames (compare them with ``pandas.testing``); ``surveys`` is
    the optional Servqual survey (drawn from its own random stream, so the
    other three are what they were before it existed)."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    interactions: pd.DataFrame
    surveys: pd.DataFrame | None = None


def generate(
    seed: int = DEFAULT_SEED,
    n_customers: int = DEFAULT_N_CUSTOMERS,
    start: dt.date = DEFAULT_START,
    end: dt.date = DEFAULT_END,
) -> DemoData:
    """Demo data for ``n_customers`` customers between ``start`` and ``end``.

    Deterministic: the same arguments always give identical frames.
    Every event date (orders, returns, payments, first contacts, interactions)
    lies in ``[start, end]``; only ``due_date`` — a contractual date — may fall
    after ``end`` for invoices issued in the last weeks (not yet due).
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, (int, np.integer)) or n_customers < 1:
        raise CrmflowError(f"n_customers must be a whole number of at least 1 (got {n_customers!r})",
                           "Pass e.g. n_customers=3000")
    start, end = _as_date(start, "start"), _as_date(end, "end")
    if end <= start:
        raise CrmflowError(f"end ({end}) must be after start ({start})", "Pass an end date later than the start date")

    rng = np.random.default_rng(seed)
    span = (end - start).days
    plan = _plan_customers(rng, int(n_customers), span)
    orders = _orders(rng, plan, span)
    lines = _order_lines(rng, plan, orders, span)
    rows = _with_returns_and_adjustments(rng, lines, span)
    start64 = np.datetime64(start, "D")
    return DemoData(
        transactions=_transactions_frame(plan, rows, start64),
        customers=_customers_frame(plan, start64),
        interactions=_interactions_frame(rng, plan, orders, span, start64),
        surveys=_surveys_frame(np.random.default_rng([seed, SURVEY_STREAM]), plan, orders, span, start64),
    )


def _as_date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise CrmflowError(f"{name} must be a date (got {value!r})", f"Pass e.g. {name}=datetime.date(2022, 1, 1)")


# --------------------------------------------------------------------------
# Customers: who they are and how they will behave
# --------------------------------------------------------------------------


@dataclass
class _Plan:
    """Per-customer arrays (working index 0..n-1, not yet the customer_id order)."""

    is_lead: np.ndarray
    created: np.ndarray  # day of first contact
    acquired: np.ndarray  # day of first order (meaningless for leads)
    archetype: np.ndarray
    is_key: np.ndarray
    health: np.ndarray  # key accounts only: HEALTHY / DECLINING / LOST, else -1
    churn_day: np.ndarray  # churners: last day an order can be placed
    winback_leave: np.ndarray  # win-backs: first day of silence
    winback_return: np.ndarray  # win-backs: day of the first order back
    mean_gap: np.ndarray  # mean days between orders
    shape: np.ndarray  # gamma shape of the gaps (regularity)
    decline_from: np.ndarray  # decline window (float days; NaN = no decline)
    decline_to: np.ndarray
    decline_keep: np.ndarray  # share of orders kept at the end of the decline
    decline_size: np.ndarray  # order size at the end of the decline
    line_value: np.ndarray  # typical value of one order line
    discount: np.ndarray
    pref_category: np.ndarray
    region: np.ndarray
    owner: np.ndarray  # index into OWNERS
    industry: np.ndarray
    channel: np.ndarray  # usual channel
    terms: np.ndarray  # payment terms in days
    pay_profile: np.ndarray  # 0 prompt, 1 late, 2 very late
    complaint_prone: np.ndarray
    tier: np.ndarray  # "A" / "B" / "C"
    credit_limit: np.ndarray
    name: np.ndarray


OWNERS = tuple(o for region in REGIONS for o in OWNERS_BY_REGION[region])


def _uniform_int(rng: np.random.Generator, lo, hi) -> np.ndarray:
    """Integers uniform in [lo, hi] (inclusive, element-wise; needs lo <= hi)."""
    lo = np.asarray(lo)
    return lo + np.floor(rng.random(lo.shape) * (np.asarray(hi) - lo + 1)).astype(np.int64)


def _plan_customers(rng: np.random.Generator, n: int, span: int) -> _Plan:
    is_lead = np.zeros(n, dtype=bool)
    is_lead[rng.permutation(n)[: int(round(LEAD_SHARE * n))]] = True
    if is_lead.all():  # tiny n: keep at least one buyer
        is_lead[0] = False
    buyer = ~is_lead

    # Acquisition is steady: first orders uniform over the whole period.
    acquired = _uniform_int(rng, np.zeros(n, np.int64), span)
    walk_in = rng.random(n) < WALK_IN_SHARE
    lead_time = np.where(walk_in, 0, np.ceil(rng.exponential(LEAD_TIME_MEAN_DAYS, n))).astype(np.int64)
    # Leads: uniform over the period, plus a batch of recent ones.
    late_lead = rng.random(n) < LATE_LEAD_SHARE
    lead_created = np.where(late_lead, _uniform_int(rng, np.full(n, max(0, span - LATE_LEAD_DAYS)), span),
                            _uniform_int(rng, np.zeros(n, np.int64), span))
    created = np.where(is_lead, lead_created, np.maximum(acquired - lead_time, 0))

    # Archetypes, demoted to ACTIVE where the remaining time cannot show them.
    archetype = rng.choice(4, size=n, p=ARCHETYPE_WEIGHTS)
    churn_latest = span - CHURN_MARGIN_DAYS
    can_churn = acquired + CHURN_MIN_LIFE_DAYS <= churn_latest
    winback_latest_leave = span - WINBACK_MIN_RETURN_DAYS - WINBACK_GAP_DAYS[0]
    can_winback = acquired + WINBACK_MIN_LIFE_DAYS <= winback_latest_leave
    archetype[(archetype == CHURNER) & ~can_churn] = ACTIVE
    archetype[(archetype == WINBACK) & ~can_winback] = ACTIVE
    archetype[is_lead] = -1

    # Key accounts: established repeat buyers; healthy, declining or lost.
    n_key = int(round(KEY_ACCOUNT_SHARE * n))
    key_age = min(KEY_ACCOUNT_MIN_AGE_DAYS, span // 3)
    eligible = np.flatnonzero(buyer & (archetype != ONE_OFF) & (acquired <= span - key_age))
    is_key = np.zeros(n, dtype=bool)
    is_key[rng.permutation(eligible)[: min(n_key, len(eligible))]] = True
    health = np.where(is_key, rng.choice(3, size=n, p=KEY_ACCOUNT_HEALTH_WEIGHTS), -1)
    health[(health == LOST) & (acquired + KEY_ACCOUNT_MIN_LIFE_DAYS > churn_latest)] = DECLINING
    archetype[health == HEALTHY] = ACTIVE
    archetype[health == DECLINING] = ACTIVE
    archetype[health == LOST] = CHURNER

    # Churn day: a life of at least the minimum, ending > 180 days before end.
    min_life = np.where(health == LOST, KEY_ACCOUNT_MIN_LIFE_DAYS, CHURN_MIN_LIFE_DAYS)
    churner = archetype == CHURNER
    churn_day = np.where(churner, _uniform_int(rng, np.minimum(acquired + min_life, churn_latest),
                                               np.maximum(churn_latest, 0)), -1)
    # Win-backs: leave after a first life, return after a gap of > 200 days.
    winback = archetype == WINBACK
    leave = _uniform_int(rng, acquired + WINBACK_MIN_LIFE_DAYS,
                         np.maximum(acquired + WINBACK_MIN_LIFE_DAYS, winback_latest_leave))
    latest_return = span - WINBACK_MIN_RETURN_DAYS
    gap = _uniform_int(rng, np.full(n, WINBACK_GAP_DAYS[0]),
                       np.clip(latest_return - leave, WINBACK_GAP_DAYS[0], WINBACK_GAP_DAYS[1]))
    winback_leave = np.where(winback, leave, -1)
    winback_return = np.where(winback, leave + gap, -1)

    # Purchase rhythm.
    shares = np.array([r[0] for r in RHYTHMS])
    rhythm = rng.choice(len(RHYTHMS), size=n, p=shares / shares.sum())
    lo_gap, hi_gap, lo_shape, hi_shape = (np.array([r[k] for r in RHYTHMS], float)[rhythm] for k in range(1, 5))
    u_gap, u_shape = rng.random(n), rng.random(n)
    mean_gap = lo_gap + u_gap * (hi_gap - lo_gap)
    mean_gap = np.where(is_key, np.maximum(RHYTHMS[0][1], mean_gap * KEY_ACCOUNT_GAP_FACTOR), mean_gap)
    shape = lo_shape + u_shape * (hi_shape - lo_shape)

    # Decline before churn (most churners, all lost key accounts) or up to
    # `end` (declining key accounts): orders thin out and shrink.
    declines = (churner & ((rng.random(n) < CHURN_DECLINE_SHARE) | (health == LOST))) | (health == DECLINING)
    decline_len = _uniform_int(rng, np.full(n, DECLINE_DAYS[0]), DECLINE_DAYS[1])
    decline_to = np.where(churner, churn_day, span).astype(float)
    decline_from = np.maximum(acquired, decline_to - decline_len).astype(float)
    decline_from[~declines] = np.nan
    decline_to[~declines] = np.nan
    decline_keep = rng.uniform(*DECLINE_FREQUENCY_END, n)
    decline_size = rng.uniform(*DECLINE_SIZE_END, n)

    # Size: lognormal per customer (key accounts much larger), so revenue is skewed.
    line_value = (LINE_VALUE_MEDIAN * rng.lognormal(0.0, CUSTOMER_SIZE_SIGMA, n)
                  * (mean_gap / REFERENCE_GAP_DAYS) ** GAP_SIZE_ELASTICITY)
    line_value = np.where(is_key, line_value * KEY_ACCOUNT_SIZE_FACTOR, line_value)
    discount = np.where(is_key, rng.uniform(*KEY_ACCOUNT_DISCOUNT_RANGE, n), rng.uniform(*DISCOUNT_RANGE, n))
    pref_category = rng.integers(0, len(CATEGORIES), n)

    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS)
    owner_offset = np.cumsum([0] + [len(OWNERS_BY_REGION[r]) for r in REGIONS])
    owner_count = np.diff(owner_offset)
    owner = owner_offset[region] + np.floor(rng.random(n) * owner_count[region]).astype(np.int64)
    industry = rng.integers(0, len(INDUSTRIES), n)
    channel = np.where(is_key, rng.choice(3, size=n, p=KEY_ACCOUNT_CHANNEL_WEIGHTS),
                       rng.choice(3, size=n, p=CHANNEL_WEIGHTS))
    terms = np.asarray(PAYMENT_TERMS)[np.where(is_key, rng.choice(3, size=n, p=KEY_ACCOUNT_TERMS_WEIGHTS),
                                               rng.choice(3, size=n, p=PAYMENT_TERMS_WEIGHTS))]
    pay_profile = np.where(is_key, rng.choice(3, size=n, p=KEY_ACCOUNT_PAY_PROFILE_WEIGHTS),
                           rng.choice(3, size=n, p=PAY_PROFILE_WEIGHTS))
    complaint_prone = buyer & ~is_key & (rng.random(n) < COMPLAINT_PRONE_SHARE)

    # Tier and credit limit from the expected yearly revenue (~2 lines/order).
    expected_yearly = line_value * 2.0 * np.where(archetype == ONE_OFF, 1.0, 365.0 / mean_gap)
    a_cut, b_cut = np.quantile(expected_yearly[buyer], [1 - TIER_A_SHARE, 1 - TIER_A_SHARE - TIER_B_SHARE])
    tier = np.where(is_key | (expected_yearly >= a_cut), "A", np.where(expected_yearly >= b_cut, "B", "C"))
    floor = np.select([tier == "A", tier == "B"], [CREDIT_FLOOR["A"], CREDIT_FLOOR["B"]], CREDIT_FLOOR["C"])
    credit_limit = np.clip(np.round(expected_yearly * terms / CREDIT_REFERENCE_TERMS, -3), floor, CREDIT_CAP)

    name = _company_names(rng, industry)
    return _Plan(
        is_lead=is_lead, created=created, acquired=acquired, archetype=archetype, is_key=is_key,
        health=health, churn_day=churn_day, winback_leave=winback_leave, winback_return=winback_return,
        mean_gap=mean_gap, shape=shape, decline_from=decline_from, decline_to=decline_to,
        decline_keep=decline_keep, decline_size=decline_size, line_value=line_value, discount=discount,
        pref_category=pref_category, region=region, owner=owner, industry=industry, channel=channel,
        terms=terms, pay_profile=pay_profile, complaint_prone=complaint_prone, tier=tier,
        credit_limit=credit_limit.astype(float), name=name,
    )


def _company_names(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    """Unique English / Chinese company names matching each customer's industry."""
    n = len(industry)
    names = np.empty(n, dtype=object)
    todo = np.arange(n)
    for _ in range(20):  # redraw duplicates; a handful of rounds at most
        names[todo] = _draw_names(rng, industry[todo])
        todo = np.flatnonzero(pd.Series(names).duplicated().to_numpy())
        if len(todo) == 0:
            return names
    # Name pool exhausted (very large n): number the remaining copies.
    s = pd.Series(names, dtype=object)
    copy_no = s.groupby(s).cumcount().to_numpy()
    return np.where(copy_no > 0, s.to_numpy() + " " + (copy_no + 1).astype(str).astype(object), s.to_numpy())


def _draw_names(rng: np.random.Generator, industry: np.ndarray) -> np.ndarray:
    n = len(industry)
    obj = lambda values: np.asarray(values, dtype=object)  # noqa: E731 - str arrays that support "+"
    en = (obj(EN_NAME_ROOTS)[rng.integers(0, len(EN_NAME_ROOTS), n)] + " "
          + obj([i[1] for i in INDUSTRIES])[industry] + " "
          + obj(EN_LEGAL_FORMS)[rng.integers(0, len(EN_LEGAL_FORMS), n)])
    zh = (obj(ZH_CITIES)[rng.integers(0, len(ZH_CITIES), n)]
          + obj(ZH_NAME_ROOTS)[rng.integers(0, len(ZH_NAME_ROOTS), n)]
          + obj([i[2] for i in INDUSTRIES])[industry]
          + obj(ZH_LEGAL_FORMS)[rng.integers(0, len(ZH_LEGAL_FORMS), n)])
    return np.where(rng.random(n) < ZH_NAME_SHARE, zh, en)


def _decline_fraction(plan: _Plan, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Strength of the decline for each (customer, time): 0 (none) … 1 (at its end)."""
    d0, d1 = plan.decline_from[cust], plan.decline_to[cust]
    frac = np.clip((t - d0) / np.maximum(d1 - d0, 1.0), 0.0, 1.0) ** DECLINE_EXPONENT
    return np.where(np.isnan(d0), 0.0, frac)


# --------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------


@dataclass
class _Orders:
    cust: np.ndarray
    day: np.ndarray
    size: np.ndarray  # multiplier of the order's line values (decline)
    number: np.ndarray  # 1-based, chronological -> "SO-000001"


def _renewal_times(rng, s0, s1, mean_gap, shape, single):
    """Event times of a gamma renewal process per segment [s0, s1).

    The first event is at s0; then gaps ~ Gamma(shape, mean_gap/shape) until s1.
    All segments are drawn at once: enough gaps for each segment are laid out
    end to end, cumulated, and cut at s1. ``single`` segments get one event.
    Returns (segment index, time) of every event.
    """
    expected = (s1 - s0) / mean_gap
    draws = np.ceil(expected + 6.0 * np.sqrt(expected) + 6.0).astype(np.int64)
    draws[single] = 1
    seg = np.repeat(np.arange(len(s0)), draws)
    gaps = rng.gamma(shape[seg], (mean_gap / shape)[seg])
    before = np.cumsum(gaps) - gaps  # sum of all earlier gaps (over all segments)
    first = np.cumsum(draws) - draws  # position of each segment's first draw
    t = s0[seg] + (before - before[first][seg])
    keep = t < s1[seg]
    return seg[keep], t[keep]


def _orders(rng: np.random.Generator, plan: _Plan, span: int) -> _Orders:
    buyers = np.flatnonzero(~plan.is_lead)
    arch = plan.archetype[buyers]
    # Activity segments [s0, s1): every buyer has one from its first order;
    # win-backs a second one from their return to `end`. Churners' segment ends
    # the day before their (separately placed) last order.
    first_end = np.select(
        [arch == ONE_OFF, arch == CHURNER, arch == WINBACK],
        [plan.acquired[buyers] + 1, np.maximum(plan.churn_day[buyers], plan.acquired[buyers] + 1),
         plan.winback_leave[buyers]],
        span + 1,
    )
    wb = buyers[arch == WINBACK]
    seg_cust = np.concatenate([buyers, wb])
    s0 = np.concatenate([plan.acquired[buyers], plan.winback_return[wb]]).astype(float)
    s1 = np.concatenate([first_end, np.full(len(wb), span + 1)]).astype(float)
    single = np.concatenate([arch == ONE_OFF, np.zeros(len(wb), bool)])
    seg, t = _renewal_times(rng, s0, s1, plan.mean_gap[seg_cust], plan.shape[seg_cust], single)
    cust = seg_cust[seg]
    fixed = t == s0[seg]  # a segment's first order
    # Churners place a (small) last order on their churn day, then stop.
    last = buyers[(arch == CHURNER) & (plan.churn_day[buyers] > plan.acquired[buyers])]
    cust = np.concatenate([cust, last])
    t = np.concatenate([t, plan.churn_day[last].astype(float)])
    fixed = np.concatenate([fixed, np.ones(len(last), bool)])

    # Thin out and shrink orders during a decline (never the first or last one).
    frac = _decline_fraction(plan, cust, t)
    keep_p = 1.0 - (1.0 - plan.decline_keep[cust]) * frac
    keep = fixed | (rng.random(len(t)) < keep_p)
    cust, t, frac = cust[keep], t[keep], frac[keep]
    size = 1.0 - (1.0 - plan.decline_size[cust]) * frac
    day = np.floor(t).astype(np.int64)

    # Some orders get a second, separate order on the same day.
    extra = np.flatnonzero(rng.random(len(day)) < SAME_DAY_ORDER_SHARE)
    cust, day, size = (np.concatenate([a, a[extra]]) for a in (cust, day, size))

    order = np.lexsort((rng.random(len(day)), cust, day))  # chronological numbering
    return _Orders(cust=cust[order], day=day[order], size=size[order], number=np.arange(1, len(day) + 1))


# --------------------------------------------------------------------------
# Order lines, returns, adjustments
# --------------------------------------------------------------------------

PRODUCT_NAMES = tuple(p[0] for p in CATALOG)
PRODUCT_CATEGORY = np.array([CATEGORIES.index(p[1]) for p in CATALOG])
PRODUCT_PRICE = np.array([p[2] for p in CATALOG])
PRODUCT_POPULARITY = np.array([p[3] for p in CATALOG])
CATEGORY_MARGIN_ARRAY = np.array([CATEGORY_MARGIN[c] for c in CATEGORIES])

# Row kinds in the transactions table and their order_id prefixes.
SALE, RETURN, ADJUSTMENT = range(3)
ID_PREFIX = ("SO-", "RT-", "AJ-")


def _order_lines(rng: np.random.Generator, plan: _Plan, orders: _Orders, span: int) -> dict:
    n_orders = len(orders.day)
    cust = orders.cust
    n_lines = rng.choice(4, size=n_orders, p=LINES_PER_ORDER_WEIGHTS) + 1

    # Distinct products per order, weighted by popularity and the customer's
    # preferred category: Gumbel-top-k = weighted sampling without replacement.
    log_w = np.log(PRODUCT_POPULARITY)[None, :] + np.log(PREFERRED_CATEGORY_BOOST) * (
        PRODUCT_CATEGORY[None, :] == plan.pref_category[cust][:, None])
    ranked = np.argsort(-(log_w + rng.gumbel(size=log_w.shape)), axis=1)[:, :4]
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_pos = np.arange(len(line_order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    product = ranked[line_order, line_pos]
    lc = cust[line_order]
    day = orders.day[line_order]

    # Quantity from the customer's typical line value (shrinking in a decline);
    # the price net of the customer's discount, with inflation and a little noise.
    unit_price = (PRODUCT_PRICE[product] * (1.0 + PRICE_INFLATION * day / 365.0)
                  * (1.0 - plan.discount[lc]) * rng.uniform(0.97, 1.03, len(product)))
    target = plan.line_value[lc] * orders.size[line_order] * rng.lognormal(0.0, LINE_VALUE_SIGMA, len(product))
    quantity = np.maximum(1, np.round(target / unit_price)).astype(np.int64)
    amount = np.round(quantity * unit_price, 2)
    margin = np.clip(CATEGORY_MARGIN_ARRAY[PRODUCT_CATEGORY[product]] + rng.normal(0, MARGIN_NOISE, len(product)),
                     0.03, 0.75)
    loss = rng.random(len(product)) < LOSS_LINE_SHARE
    margin = np.where(loss, -rng.uniform(0.03, 0.25, len(product)), margin)
    cost = np.round(amount * (1.0 - margin), 2)

    # Channel per order: mostly the customer's usual one.
    usual = rng.random(n_orders) < MAIN_CHANNEL_SHARE
    channel = np.where(usual, plan.channel[cust], rng.integers(0, len(CHANNELS), n_orders))

    # Payment per order (one invoice): most pay by the due date, late payers
    # often after it, very late payers months after it or never.
    terms = plan.terms[cust]
    profile = plan.pay_profile[cust]
    u = rng.random(n_orders)
    on_time = np.round(terms * rng.uniform(0.2, 1.0, n_orders))
    slip = 1 + np.floor(rng.exponential(7.0, n_orders))
    late = 1 + np.floor(rng.exponential(25.0, n_orders))
    very_late = 61 + np.floor(rng.exponential(60.0, n_orders))
    delay = np.select(
        [(profile == 0) & (u < PROMPT_LATE_SHARE), (profile == 1) & (u < LATE_SHARE),
         (profile == 2) & (u < VERY_LATE_SHARE)],
        [terms + slip, terms + late, terms + very_late], on_time)
    never = (profile == 2) & (rng.random(n_orders) < NEVER_PAID_SHARE)
    paid = orders.day + delay.astype(np.int64)
    paid = np.where(never | (paid > span), -1, paid)  # -1 = unpaid (NaT)

    return {
        "kind": np.full(len(product), SALE), "number": orders.number[line_order], "line": line_pos,
        "cust": lc, "day": day, "amount": amount, "quantity": quantity, "product": product, "cost": cost,
        "channel": channel[line_order], "due": day + terms[line_order], "paid": paid[line_order],
    }


def _with_returns_and_adjustments(rng: np.random.Generator, sales: dict, span: int) -> dict:
    """Append return rows (negative amount and cost) and zero-amount adjustments."""
    n = len(sales["day"])
    terms = sales["due"] - sales["day"]

    # Returns, on a later date than the sale, of all or part of the line.
    lag = 2 + rng.geometric(1.0 / RETURN_LAG_MEAN_DAYS, n)
    ret = np.flatnonzero((rng.random(n) < RETURN_SHARE / (1 - RETURN_SHARE)) & (sales["day"] + lag <= span))
    q = sales["quantity"][ret]
    q_ret = np.where(rng.random(len(ret)) < FULL_RETURN_SHARE, q, _uniform_int(rng, np.ones(len(ret), np.int64), q))
    share = q_ret / q
    r_day = sales["day"][ret] + lag[ret]
    refund = r_day + rng.integers(0, 22, len(ret))
    returns = {
        "kind": np.full(len(ret), RETURN), "line": np.zeros(len(ret), np.int64), "cust": sales["cust"][ret],
        "day": r_day, "amount": -np.round(sales["amount"][ret] * share, 2), "quantity": -q_ret,
        "product": sales["product"][ret], "cost": -np.round(sales["cost"][ret] * share, 2),
        "channel": sales["channel"][ret], "due": r_day + terms[ret], "paid": np.where(refund > span, -1, refund),
    }

    # Zero-amount adjustments (price corrections, goodwill notes), settled at once.
    adj_lag = rng.integers(1, 31, n)
    adj = np.flatnonzero((rng.random(n) < ADJUSTMENT_SHARE) & (sales["day"] + adj_lag <= span))
    a_day = sales["day"][adj] + adj_lag[adj]
    adjustments = {
        "kind": np.full(len(adj), ADJUSTMENT), "line": np.zeros(len(adj), np.int64), "cust": sales["cust"][adj],
        "day": a_day, "amount": np.zeros(len(adj)), "quantity": np.zeros(len(adj), np.int64),
        "product": sales["product"][adj], "cost": np.zeros(len(adj)), "channel": sales["channel"][adj],
        "due": a_day + terms[adj], "paid": a_day,
    }
    # Returns and adjustments are numbered chronologically, each series on its own.
    for extra in (returns, adjustments):
        extra["number"] = np.empty(len(extra["day"]), np.int64)
        extra["number"][np.lexsort((extra["cust"], extra["day"]))] = np.arange(1, len(extra["day"]) + 1)
    return {k: np.concatenate([sales[k], returns[k], adjustments[k]]) for k in sales}


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


def _customer_ids(plan: _Plan) -> np.ndarray:
    """customer_id per working index: numbered in order of first contact."""
    n = len(plan.created)
    rank = np.empty(n, np.int64)
    rank[np.argsort(plan.created, kind="stable")] = np.arange(1, n + 1)
    return _ids("C", rank, max(5, len(str(n))))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width))


def _dates(start64: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Day offsets -> datetime64[ns]; negative offsets mean "no date" (NaT)."""
    days = np.asarray(days, dtype=np.int64)
    out = (start64 + days.astype("timedelta64[D]")).astype("datetime64[ns]")
    out[days < 0] = np.datetime64("NaT")
    return out


def _transactions_frame(plan: _Plan, rows: dict, start64: np.datetime64) -> pd.DataFrame:
    order = np.lexsort((rows["line"], rows["number"], rows["kind"], rows["day"]))
    r = {k: v[order] for k, v in rows.items()}
    width = max(6, len(str(int(r["number"].max(initial=0)))))
    prefix = np.asarray(ID_PREFIX)[r["kind"]]
    cust_ids = _customer_ids(plan)
    c = r["cust"]
    return pd.DataFrame({
        "order_id": np.char.add(prefix, np.char.zfill(r["number"].astype(str), width)),
        "customer_id": cust_ids[c],
        "order_date": _dates(start64, r["day"]),
        "amount": r["amount"].astype(float),
        "quantity": r["quantity"].astype(np.int64),
        "product": np.asarray(PRODUCT_NAMES)[r["product"]],
        "category": np.asarray(CATEGORIES)[PRODUCT_CATEGORY[r["product"]]],
        "cost": r["cost"].astype(float),
        "channel": np.asarray(CHANNELS)[r["channel"]],
        "region": np.asarray(REGIONS)[plan.region[c]],
        "owner": np.asarray(OWNERS)[plan.owner[c]],
        "due_date": _dates(start64, r["due"]),
        "paid_date": _dates(start64, r["paid"]),
        "status": np.where(r["kind"] == RETURN, "returned", "completed"),
    })


def _customers_frame(plan: _Plan, start64: np.datetime64) -> pd.DataFrame:
    df = pd.DataFrame({
        "customer_id": _customer_ids(plan),
        "name": plan.name.astype(str),
        "created_at": _dates(start64, plan.created),
        "region": np.asarray(REGIONS)[plan.region],
        "industry": np.asarray([i[0] for i in INDUSTRIES])[plan.industry],
        "owner": np.asarray(OWNERS)[plan.owner],
        "tier": plan.tier,
        "is_key_account": plan.is_key.astype(bool),
        "credit_limit": plan.credit_limit.astype(float),
    })
    return df.sort_values("customer_id", ignore_index=True)


def _interactions_frame(rng: np.random.Generator, plan: _Plan, orders: _Orders, span: int,
                        start64: np.datetime64) -> pd.DataFrame:
    n = len(plan.created)
    last_order = np.full(n, -1, np.int64)
    np.maximum.at(last_order, orders.cust, orders.day)
    buyer = ~plan.is_lead

    # Contact window: leads are worked for a few months; buyers from first
    # contact to `end`, or to a while after the last order if they stopped.
    stopped = np.isin(plan.archetype, (ONE_OFF, CHURNER))
    life_end = np.where(plan.is_lead, plan.created + LEAD_CONTACT_DAYS,
                        np.where(stopped, last_order + AFTER_LAST_ORDER_CONTACT_DAYS, span))
    life_end = np.minimum(life_end, span)
    tier_factor = np.select([plan.tier == "A", plan.tier == "B"],
                            [TIER_CONTACT_FACTOR["A"], TIER_CONTACT_FACTOR["B"]], TIER_CONTACT_FACTOR["C"])
    rate = np.where(plan.is_lead, LEAD_CONTACT_RATE,
                    np.where(plan.is_key, KEY_ACCOUNT_CONTACT_RATE, CONTACT_RATE * tier_factor))
    count = rng.poisson(rate * (life_end - plan.created + 1))

    # Routine contacts, uniform over the window, thinned during a decline;
    # plus the first contact on the created_at day.
    cust = np.repeat(np.arange(n), count)
    day = _uniform_int(rng, plan.created[cust], life_end[cust])
    frac = _decline_fraction(plan, cust, day.astype(float))
    contact_end = np.where(plan.is_key[cust], KEY_ACCOUNT_DECLINE_CONTACT_END, DECLINE_CONTACT_END)
    keep = rng.random(len(day)) < 1.0 - (1.0 - contact_end) * frac
    cust, day, frac = cust[keep], day[keep], frac[keep]
    first = np.zeros(len(day) + n, bool)
    first[len(day):] = True
    cust = np.concatenate([cust, np.arange(n)])
    day = np.concatenate([day, plan.created])
    frac = np.concatenate([frac, np.zeros(n)])

    # Complaints only once a customer has bought; more for complaint-prone
    # customers and for key accounts on their way out, and those stay unresolved.
    kind = np.select([plan.is_key, plan.complaint_prone], [2, 1], 0)[cust]
    decline_kind = np.select([plan.health == LOST, plan.health == DECLINING], [2, 1], 0)[cust]
    p_complaint = np.asarray(COMPLAINT_P)[kind] + np.asarray(DECLINE_COMPLAINT_P)[decline_kind] * frac
    p_unresolved = np.asarray(UNRESOLVED_P)[kind]
    p_unresolved = p_unresolved + (np.asarray(DECLINE_UNRESOLVED_P)[decline_kind] - p_unresolved) * frac
    can_complain = buyer[cust] & (day >= plan.acquired[cust]) & ~first
    complaint = can_complain & (rng.random(len(day)) < p_complaint)
    unresolved = complaint & (rng.random(len(day)) < p_unresolved)

    u = rng.random(len(day))
    mix = np.where(plan.is_key[cust][:, None], KEY_ACCOUNT_CONTACT_MIX, CONTACT_MIX)
    mix = np.where(first[:, None], FIRST_CONTACT_MIX, mix)
    # Inverse CDF: the number of cumulative weights below u is the type index.
    routine = np.minimum((u[:, None] > np.cumsum(mix, axis=1)).sum(axis=1), MEETING)
    itype = np.where(complaint, COMPLAINT, routine)

    # Satisfaction: low for complaints (lowest when unresolved); else sometimes
    # surveyed around the customer's usual level, lower in a decline.
    base_sat = rng.uniform(3.3, 4.8, n)
    routine_sat = np.clip(np.round(base_sat[cust] + rng.normal(0, 0.7, len(day)) - 1.5 * frac), 1, 5)
    complaint_sat = np.where(unresolved, rng.integers(1, 3, len(day)), rng.integers(2, 4, len(day)))
    surveyed = rng.random(len(day)) < SATISFACTION_SURVEYED_SHARE
    satisfaction = np.where(complaint, complaint_sat, np.where(surveyed, routine_sat, np.nan)).astype(float)

    # Notes: one of the type's templates.
    note_lists = [NOTES[t] for t in INTERACTION_TYPES] + [FIRST_CONTACT_NOTES]
    note_count = np.array([len(x) for x in note_lists])
    note_offset = np.cumsum(note_count) - note_count
    list_no = np.where(first, len(INTERACTION_TYPES), itype)
    all_notes = np.asarray([note for notes in note_lists for note in notes])
    note = all_notes[note_offset[list_no] + np.floor(rng.random(len(day)) * note_count[list_no]).astype(np.int64)]

    cust_ids = _customer_ids(plan)
    order = np.lexsort((itype, cust_ids[cust], day))
    resolved = pd.arrays.BooleanArray(~unresolved[order], itype[order] != COMPLAINT)
    return pd.DataFrame({
        "customer_id": cust_ids[cust][order],
        "date": _dates(start64, day[order]),
        "type": np.asarray(INTERACTION_TYPES)[itype[order]],
        "resolved": resolved,
        "satisfaction": satisfaction[order],
        "note": note[order],
    })


# --------------------------------------------------------------------------
# Servqual survey (crmflow.servqual): its own random stream, so adding it left
# every other demo number as it was.
# --------------------------------------------------------------------------
SURVEY_STREAM = 3  # the second word of the survey's seed: default_rng([seed, SURVEY_STREAM])
SURVEY_SHARE = 0.25  # of the customers who bought, one response each
#: the 22 standard items' dimensions (Parasuraman, Zeithaml & Berry 1988)
SURVEY_DIMENSIONS = ("tangibles",) * 4 + ("reliability",) * 5 + ("responsiveness",) * 4 + ("assurance",) * 4 \
    + ("empathy",) * 5
#: mean perception − expectation per dimension for customers who stay
SURVEY_GAP = {"tangibles": -0.2, "reliability": -0.7, "responsiveness": -0.5, "assurance": -0.3, "empathy": -0.4}
#: extra gap for customers who later stop buying (churners, and one-off buyers a little)
SURVEY_CHURNER_GAP = {"reliability": -0.6, "responsiveness": -0.3}
SURVEY_ONE_OFF_FACTOR = 0.5
SURVEY_SCALE = 7


def _surveys_frame(rng: np.random.Generator, plan: _Plan, orders: _Orders, span: int,
                   start64: np.datetime64) -> pd.DataFrame:
    """One Servqual response (22 items, expectation and perception on 1-7) from
    a quarter of the buyers, dated between their first and last order (and
    within a month after it for one-off buyers); customers who later stop
    buying see larger reliability and responsiveness gaps."""
    n = len(plan.created)
    last_order = np.full(n, -1, np.int64)
    np.maximum.at(last_order, orders.cust, orders.day)
    buyers = np.flatnonzero(last_order >= 0)
    surveyed = np.sort(rng.choice(buyers, size=int(round(SURVEY_SHARE * len(buyers))), replace=False))
    first = plan.acquired[surveyed]
    last = np.where(plan.archetype[surveyed] == ONE_OFF, np.minimum(last_order[surveyed] + 30, span),
                    np.where(plan.archetype[surveyed] == CHURNER, last_order[surveyed], span))
    day = _uniform_int(rng, first, np.maximum(first, last))
    factor = np.select([plan.archetype[surveyed] == CHURNER, plan.archetype[surveyed] == ONE_OFF],
                       [1.0, SURVEY_ONE_OFF_FACTOR], 0.0)
    k = len(SURVEY_DIMENSIONS)
    expectation = np.clip(np.rint(rng.normal(5.9, 0.8, (len(surveyed), k))), 1, SURVEY_SCALE)
    mean_gap = np.array([SURVEY_GAP[d] for d in SURVEY_DIMENSIONS])
    extra = np.array([SURVEY_CHURNER_GAP.get(d, 0.0) for d in SURVEY_DIMENSIONS])
    perception = expectation + mean_gap + np.outer(factor, extra) + rng.normal(0.0, 0.9, (len(surveyed), k))
    perception = np.clip(np.rint(perception), 1, SURVEY_SCALE)
    ids = _customer_ids(plan)[surveyed]
    order = np.argsort(day, kind="stable")
    frame = pd.DataFrame({
        "response_id": np.repeat([f"R{i + 1:05d}" for i in range(len(surveyed))], k),
        "customer_id": np.repeat(ids[order], k),
        "date": np.repeat(_dates(start64, day[order]), k),
        "item": np.tile([f"Q{i + 1}" for i in range(k)], len(surveyed)),
        "dimension": np.tile(SURVEY_DIMENSIONS, len(surveyed)),
        "expectation": expectation[order].ravel().astype(int),
        "perception": perception[order].ravel().astype(int),
    })
    return frame
