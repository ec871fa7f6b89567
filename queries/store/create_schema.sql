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
CREATE TABLE IF NOT EXISTS rejected_rows (
    dataset_id  INTEGER NOT NULL,
    source      VARCHAR NOT NULL,
    row_number  BIGINT NOT NULL,
    reason      VARCHAR NOT NULL,
    raw         VARCHAR
);
CREATE TABLE IF NOT EXISTS dataset_counter (
    last_id INTEGER NOT NULL
);
INSERT INTO dataset_counter
SELECT highest FROM (SELECT COALESCE(MAX(dataset_id), 0) AS highest FROM datasets) AS current_ids
WHERE NOT EXISTS (SELECT 1 FROM dataset_counter);
