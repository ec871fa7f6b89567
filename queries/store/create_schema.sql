-- name: create_schema
-- kind: script
-- purpose: The crmflow store: datasets and their three canonical tables, one
--   set of tables for all datasets, keyed by dataset_id. Idempotent.
--   dataset_counter holds the last dataset id handed out, so ids are never
--   reused after a delete or replace (caches key on them); a database file made
--   before the counter existed gets one starting at its highest id.
-- grain: n/a (DDL)
-- params: none
-- columns: none
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id      INTEGER PRIMARY KEY,
    name            VARCHAR NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    source          VARCHAR,
    n_transactions  BIGINT NOT NULL,
    n_customers     BIGINT NOT NULL,
    n_interactions  BIGINT NOT NULL,
    n_rejected      BIGINT NOT NULL,
    has_order_id    BOOLEAN NOT NULL,
    report          VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    dataset_id  INTEGER NOT NULL,
    row_number  BIGINT NOT NULL,
    customer_id VARCHAR NOT NULL,
    order_id    VARCHAR,
    order_date  DATE NOT NULL,
    amount      DECIMAL(18, 4) NOT NULL,
    quantity    DOUBLE,
    product     VARCHAR,
    category    VARCHAR,
    cost        DECIMAL(18, 4),
    channel     VARCHAR,
    region      VARCHAR,
    owner       VARCHAR,
    due_date    DATE,
    paid_date   DATE,
    status      VARCHAR
);
-- One row per order (SPEC §2: a distinct order_id, else a distinct customer
-- day, of the lines with amount > 0), dated by its first day; written with the
-- transactions (queries/store/insert_orders.sql) so that no query has to
-- regroup the lines into orders. A database made before this table (or the
-- next) existed gets it filled on open (crmflow.db.Database).
CREATE TABLE IF NOT EXISTS orders (
    dataset_id  INTEGER NOT NULL,
    customer_id VARCHAR NOT NULL,
    order_id    VARCHAR,
    order_date  DATE NOT NULL,
    amount      DECIMAL(18, 4) NOT NULL,
    lines       INTEGER NOT NULL
);
-- Every customer id that has a transaction line in a dataset (any amount),
-- written with the transactions (queries/store/insert_transaction_customers.sql)
-- so that the customer universe does not scan every line for distinct ids.
-- The discount and list price of the transaction lines that carry one (price
-- sensitivity, crmflow/loyalty.py), keyed by the line's row_number: a table of
-- its own, so that a database made before it existed still opens read-only
-- (only the price measure is then missing).
CREATE TABLE IF NOT EXISTS transaction_prices (
    dataset_id  INTEGER NOT NULL,
    row_number  BIGINT NOT NULL,
    discount    DECIMAL(18, 4),
    list_price  DECIMAL(18, 4)
);
CREATE TABLE IF NOT EXISTS transaction_customers (
    dataset_id  INTEGER NOT NULL,
    customer_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    dataset_id     INTEGER NOT NULL,
    row_number     BIGINT NOT NULL,
    customer_id    VARCHAR NOT NULL,
    name           VARCHAR,
    created_at     DATE,
    region         VARCHAR,
    industry       VARCHAR,
    owner          VARCHAR,
    tier           VARCHAR,
    is_key_account BOOLEAN,
    credit_limit   DECIMAL(18, 4)
);
CREATE TABLE IF NOT EXISTS interactions (
    dataset_id   INTEGER NOT NULL,
    row_number   BIGINT NOT NULL,
    customer_id  VARCHAR NOT NULL,
    date         DATE NOT NULL,
    type         VARCHAR NOT NULL,
    resolved     BOOLEAN,
    satisfaction DOUBLE,
    note         VARCHAR
);
CREATE TABLE IF NOT EXISTS surveys (
    dataset_id   INTEGER NOT NULL,
    row_number   BIGINT NOT NULL,
    response_id  VARCHAR,
    customer_id  VARCHAR,
    date         DATE NOT NULL,
    item         VARCHAR NOT NULL,
    dimension    VARCHAR NOT NULL,
    expectation  DOUBLE NOT NULL,
    perception   DOUBLE NOT NULL,
    scale_max    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_rows (
    dataset_id  INTEGER NOT NULL,
    source      VARCHAR NOT NULL,
    row_number  BIGINT NOT NULL,
    reason      VARCHAR NOT NULL,
    raw         VARCHAR
);
-- Results stored per dataset (crmflow.results): the rows a named query returns
-- for one dataset and one definitions key (its parameters other than the
-- dates, as JSON), written by the writing process after an ingest; result_runs
-- lists what is stored (an empty result is still a stored one).
CREATE TABLE IF NOT EXISTS result_stage_snapshots (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    stage       VARCHAR,
    customers   BIGINT
);
CREATE TABLE IF NOT EXISTS result_ntd_monthly (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    active_customers BIGINT,
    mean_relationship_days DOUBLE,
    revenue     DECIMAL(38,4),
    revenue_per_active DOUBLE,
    categories_per_active DOUBLE
);
CREATE TABLE IF NOT EXISTS result_won_back_lost_monthly (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    month       DATE,
    won_back    BIGINT,
    lost        BIGINT
);
CREATE TABLE IF NOT EXISTS result_stage_summary (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    stage       VARCHAR,
    customers   BIGINT,
    buyers      HUGEINT,
    repeat_buyers HUGEINT
);
CREATE TABLE IF NOT EXISTS result_revenue_to_date (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    revenue     DECIMAL(38,4)
);
CREATE TABLE IF NOT EXISTS result_won_back_lost_to_date (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    won_back    HUGEINT,
    lost        HUGEINT
);
CREATE TABLE IF NOT EXISTS result_churn_signals (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    customer_id VARCHAR,
    stage       VARCHAR,
    orders      BIGINT,
    order_days  BIGINT,
    days_since_last_order BIGINT,
    median_gap_days DOUBLE,
    overdue_ratio DOUBLE,
    orders_recent BIGINT,
    orders_previous BIGINT,
    revenue_recent DOUBLE,
    revenue_previous DOUBLE,
    has_interactions BOOLEAN,
    complaints  BIGINT,
    unresolved_complaints BIGINT,
    last_unresolved_date DATE,
    contacts_recent BIGINT,
    contacts_previous BIGINT,
    has_payment_terms BOOLEAN,
    invoices_due BIGINT,
    invoices_late BIGINT,
    invoices_unpaid BIGINT,
    mean_days_late DOUBLE,
    max_days_late BIGINT,
    owner       VARCHAR
);
CREATE TABLE IF NOT EXISTS result_account_directory (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    customer_id VARCHAR,
    name        VARCHAR,
    region      VARCHAR,
    industry    VARCHAR,
    owner       VARCHAR,
    tier        VARCHAR,
    is_key_account BOOLEAN,
    created_at  DATE,
    first_order_date DATE,
    last_order_date DATE,
    orders      BIGINT,
    revenue     DECIMAL(38, 4),
    last_contact_date DATE
);
CREATE TABLE IF NOT EXISTS result_loyalty_customers (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    customer_id VARCHAR,
    orders BIGINT,
    orders_in_window HUGEINT,
    buying_days BIGINT,
    interval_cv DOUBLE,
    categories_bought BIGINT,
    categories_total BIGINT,
    complaint_date DATE,
    orders_after_complaint BIGINT
);
CREATE TABLE IF NOT EXISTS result_loyalty_prices (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    customer_id VARCHAR,
    priced_orders BIGINT,
    discounted_orders BIGINT
);
CREATE TABLE IF NOT EXISTS result_loyalty_trend (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    snapshot_date DATE,
    customers BIGINT,
    window_buyers BIGINT,
    repeat_buyers BIGINT,
    repeat_rate DOUBLE,
    breadth DOUBLE,
    measured_regularity BIGINT,
    interval_cv DOUBLE,
    complainers BIGINT,
    complainers_reordered BIGINT,
    reorder_share DOUBLE,
    orders_after_complaint BIGINT,
    priced_orders BIGINT,
    discounted_orders BIGINT,
    price_sensitivity DOUBLE
);
CREATE TABLE IF NOT EXISTS result_key_accounts (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    customer_id VARCHAR,
    name VARCHAR,
    owner VARCHAR,
    selected_by VARCHAR,
    revenue_12m DOUBLE,
    revenue_rank BIGINT,
    revenue_share DOUBLE,
    cumulative_share DOUBLE
);
CREATE TABLE IF NOT EXISTS result_health_coverage (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    has_cost BOOLEAN,
    dataset_margin DOUBLE,
    has_due_dates BOOLEAN,
    has_categories BOOLEAN,
    max_categories BIGINT,
    has_interactions BOOLEAN,
    has_complaints BOOLEAN
);
CREATE TABLE IF NOT EXISTS result_clv_summary (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    customer_id VARCHAR,
    frequency   BIGINT,
    recency_weeks DOUBLE,
    t_weeks     DOUBLE,
    monetary    DOUBLE,
    mean_purchase_value DOUBLE,
    first_purchase_date DATE,
    last_purchase_date DATE
);
CREATE TABLE IF NOT EXISTS result_holdout_purchases (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    customer_id VARCHAR,
    actual_purchases BIGINT
);
CREATE TABLE IF NOT EXISTS result_stage_counts (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    stage       VARCHAR,
    customers   BIGINT
);
CREATE TABLE IF NOT EXISTS result_pareto (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    rank        BIGINT,
    customer_id VARCHAR,
    value       DECIMAL(38,4),
    cumulative_value DECIMAL(38,4),
    customer_share DOUBLE,
    cumulative_share DOUBLE,
    customers   BIGINT,
    total       DECIMAL(38,4)
);
-- The CLV model's 90% intervals at D, stored with the fits: one row per customer.
CREATE TABLE IF NOT EXISTS result_clv_intervals (
    dataset_id  INTEGER NOT NULL,
    defs_key    VARCHAR NOT NULL,
    pos BIGINT,
    customer_id VARCHAR,
    expected_orders_low DOUBLE,
    expected_orders_high DOUBLE,
    expected_value_low DOUBLE,
    expected_value_high DOUBLE
);
-- The fits stored as their parameters (crmflow.results.compute_fits): one JSON
-- payload per (dataset, kind of fit, definitions key).
CREATE TABLE IF NOT EXISTS result_params (
    dataset_id  INTEGER NOT NULL,
    kind        VARCHAR NOT NULL,
    defs_key    VARCHAR NOT NULL,
    payload     VARCHAR NOT NULL
);
-- The per-customer tables of the pages at D built in Python from the fits
-- (crmflow.results.FRAME_FITS), stored with them: one Parquet file per
-- (dataset, kind, definitions key).
CREATE TABLE IF NOT EXISTS result_frames (
    dataset_id  INTEGER NOT NULL,
    kind        VARCHAR NOT NULL,
    defs_key    VARCHAR NOT NULL,
    data        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS result_runs (
    dataset_id  INTEGER NOT NULL,
    query       VARCHAR NOT NULL,
    defs_key    VARCHAR NOT NULL,
    dates       DATE[],
    computed_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_counter (
    last_id INTEGER NOT NULL
);
INSERT INTO dataset_counter
SELECT highest FROM (SELECT COALESCE(MAX(dataset_id), 0) AS highest FROM datasets) AS current_ids
WHERE NOT EXISTS (SELECT 1 FROM dataset_counter);
