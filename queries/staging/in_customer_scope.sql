-- name: in_customer_scope
-- kind: macro
-- arguments: cid
-- purpose: Whether a customer id is kept by the customer filters of the
--   current cursor (crmflow.db.Scope): filter_set names a set of customers in
--   crm_scratch.filter_sets (region, owner and segment filters), and
--   filter_customers lists the ids a single call is narrowed to. An unset
--   variable is NULL and keeps everyone; DuckDB expands the macro into each
--   staging view and folds the variables into constants when planning.
-- grain: one boolean per customer id
-- params: none
-- columns: none
(getvariable('filter_set') IS NULL
 OR cid IN (SELECT kept.customer_id FROM crm_scratch.filter_sets AS kept
            WHERE kept.set_id = getvariable('filter_set')))
AND (getvariable('filter_customers') IS NULL
     OR cid IN (SELECT UNNEST(getvariable('filter_customers'))))
