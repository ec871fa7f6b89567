-- name: loyalty_trend
-- purpose: The loyalty measures of all customers with an order on or before
--   each snapshot date D, one row per date (crmflow/loyalty.py: summarise,
--   the Overview's loyalty trend and the report's): the per-customer rows of
--   loyalty_customers and loyalty_prices, summed up in the engine instead of
--   sent to Python. customers = customers with an order <= D; window_buyers /
--   repeat_buyers = those with >= 1 / >= 2 orders in the window, repeat_rate
--   their ratio (NULL without window buyers); breadth = the mean of
--   categories_bought / categories_total (NULL without categories);
--   interval_cv = the median of the customers' interval CVs (NULL when none
--   has one), measured_regularity how many have one; complainers, those who
--   ordered after the complaint (complainers_reordered, reorder_share) and
--   those orders' total; priced and discounted orders summed over the
--   customers, price_sensitivity their ratio (NULL without priced orders).
--   A date with no customer has no row.
-- grain: one row per snapshot_date that has a customer with an order on or before it
-- params: dates, loyal_window_days, complaint_pattern
-- uses: loyalty_customers, loyalty_prices
-- columns: snapshot_date, customers, window_buyers, repeat_buyers, repeat_rate, breadth,
--   measured_regularity, interval_cv, complainers, complainers_reordered, reorder_share,
--   orders_after_complaint, priced_orders, discounted_orders, price_sensitivity
WITH measured AS (
    SELECT
        c.snapshot_date,
        c.orders_in_window,
        c.interval_cv,
        CASE WHEN c.categories_total > 0
             THEN CAST(c.categories_bought AS DOUBLE) / CAST(c.categories_total AS DOUBLE) END AS breadth,
        c.complaint_date,
        COALESCE(c.orders_after_complaint, 0) AS orders_after_complaint,
        COALESCE(p.priced_orders, 0) AS priced_orders,
        COALESCE(p.discounted_orders, 0) AS discounted_orders
    FROM loyalty_customers AS c
    LEFT JOIN loyalty_prices AS p ON p.snapshot_date = c.snapshot_date AND p.customer_id = c.customer_id
),
summed AS (
    SELECT
        snapshot_date,
        COUNT(*) AS customers,
        COUNT(*) FILTER (WHERE orders_in_window >= 1) AS window_buyers,
        COUNT(*) FILTER (WHERE orders_in_window >= 2) AS repeat_buyers,
        AVG(breadth) AS breadth,
        COUNT(interval_cv) AS measured_regularity,
        MEDIAN(interval_cv) AS interval_cv,
        COUNT(complaint_date) AS complainers,
        COUNT(*) FILTER (WHERE complaint_date IS NOT NULL AND orders_after_complaint > 0) AS complainers_reordered,
        CAST(COALESCE(SUM(orders_after_complaint) FILTER (WHERE complaint_date IS NOT NULL), 0) AS BIGINT)
            AS orders_after_complaint,
        CAST(SUM(priced_orders) AS BIGINT) AS priced_orders,
        CAST(SUM(discounted_orders) AS BIGINT) AS discounted_orders
    FROM measured
    GROUP BY snapshot_date
)
SELECT
    snapshot_date,
    customers,
    window_buyers,
    repeat_buyers,
    CASE WHEN window_buyers > 0 THEN CAST(repeat_buyers AS DOUBLE) / CAST(window_buyers AS DOUBLE) END AS repeat_rate,
    breadth,
    measured_regularity,
    interval_cv,
    complainers,
    complainers_reordered,
    CASE WHEN complainers > 0 THEN CAST(complainers_reordered AS DOUBLE) / CAST(complainers AS DOUBLE) END
        AS reorder_share,
    orders_after_complaint,
    priced_orders,
    discounted_orders,
    CASE WHEN priced_orders > 0 THEN CAST(discounted_orders AS DOUBLE) / CAST(priced_orders AS DOUBLE) END
        AS price_sensitivity
FROM summed
ORDER BY snapshot_date
