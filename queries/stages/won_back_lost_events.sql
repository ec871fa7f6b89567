-- name: won_back_lost_events
-- purpose: Every won-back (挽回) and lost event up to D, one row per event.
--   A customer is lost at a date when more than lost_after_days have passed
--   since their last order; they become lost on day last + lost_after_days + 1.
--   Won back = an order placed after having been lost, i.e. an order whose gap
--   since the previous order day is > lost_after_days + 1 days (a gap of
--   exactly lost_after_days + 1 means the order falls on the day they would
--   have become lost, so they never were); the event is dated by that order.
--   Lost is dated by the day the customer became lost, when that day is <= D
--   and no order came on or before it. An event up to D is the same whatever
--   later D' the query runs at: a won-back order depends only on earlier
--   orders, and an order after D never undoes a loss dated <= D (it comes
--   later still).
-- grain: one row per (customer, kind, event day)
-- params: as_of, lost_after_days
-- columns: customer_id, kind, event_date
WITH order_days AS (
    SELECT DISTINCT customer_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
gaps AS (
    SELECT
        customer_id,
        order_date,
        LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS previous_date,
        LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS next_date
    FROM order_days
)
SELECT customer_id, 'won_back' AS kind, order_date AS event_date
FROM gaps
WHERE previous_date IS NOT NULL
  AND date_diff('day', previous_date, order_date) > $lost_after_days + 1
UNION ALL
SELECT customer_id, 'lost', CAST(order_date + ($lost_after_days + 1) * INTERVAL '1' DAY AS DATE)
FROM gaps
WHERE date_diff('day', order_date, CAST($as_of AS DATE)) > $lost_after_days
  AND (next_date IS NULL OR date_diff('day', order_date, next_date) > $lost_after_days + 1)
