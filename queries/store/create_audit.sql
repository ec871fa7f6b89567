-- name: create_audit
-- kind: script
-- purpose: The audit trail of the store: one row per upload, replace, rename
--   or delete of a dataset -- who (the signed-in user, or the operating-system
--   user of the command line), through what (dashboard / command line), when.
--   Written in the same transaction as the change, by the process that
--   writes (crmflow.store). Rows are never changed or removed. Idempotent.
-- grain: n/a (DDL)
-- params: none
-- columns: none
CREATE TABLE IF NOT EXISTS audit (
    changed_at  TIMESTAMP NOT NULL,
    actor       VARCHAR NOT NULL,
    via         VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,
    dataset_id  INTEGER,
    dataset     VARCHAR NOT NULL,
    detail      VARCHAR
);
