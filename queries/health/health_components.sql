-- name: health_components
-- purpose: The measures and the eight component scores (0-100) of the health
--   score of each requested customer at D, and its relationship life-cycle
--   phase (SPEC §2). k = days from a date back to D; windows: 12 months =
--   0 <= k < 365, recent half = 0 <= k < 180, previous half = 180 <= k < 360,
--   contact window = 0 <= k < 90. An order is an order_key with a line of amount
--   > 0 on or before D, dated by its first such day (as everywhere). Revenue =
--   sum of amount of all lines (returns netted). A component is NULL (missing,
--   dropped from the score) when the coverage says the dataset cannot
--   support it, or when the account has no data for it (noted below); every
--   component is NULL for a customer with no order on or before D (no health yet).
--   recency = 100 * (recency_zero_ratio - r) / (recency_zero_ratio - 1) clamped
--     to 0..100, r = overdue_ratio = days since the last order / median gap
--     between buying days (order_rhythm); with the default 3: r <= 1 -> 100,
--     r = 2 -> 50, r >= 3 -> 0; NULL with fewer than two buying days.
--   order_trend = orders recent vs previous half: previous > 0 ->
--     min(100, 100 * recent / previous); previous = 0 -> 100 if recent > 0 else 0.
--   revenue_trend = the same on revenue: previous > 0 -> 100 * recent / previous
--     clamped to 0..100; previous <= 0 -> 100 if recent > 0 else 0.
--   margin = 100 * margin_12m / dataset_margin clamped to 0..100, margin_12m =
--     (sum of amount - cost) / (sum of amount) over the account's 12-month lines
--     that have a cost; NULL when those lines' amount sums to <= 0.
--   payment = 100 * on time / (on time + late) over the account's invoices dated
--     in the 12 months. Invoice = an order's lines of amount > 0 with a due date;
--     its date is its first line's, its due date the latest line's, its paid
--     date the latest line's when every line has one (else unpaid). On time:
--     paid on or before D and on or before the due date. Late: paid on or before
--     D after the due date, or unpaid at D (paid date NULL or after D) with the
--     due date before D. Unpaid and not yet due: ignored. NULL without invoices
--     that count.
--   contact = min(100, 100 * contacts_90d / contact_target), contacts_90d =
--     interactions other than complaints in the contact window (default target
--     3, one a month: 0 -> 0, 1 -> 33.3, 2 -> 66.7, >= 3 -> 100).
--   complaints = max(0, 100 - complaint_penalty * unresolved_complaints),
--     unresolved = complaints dated in the 12 months whose resolved is not true
--     (default penalty 25: 0 -> 100, 1 -> 75, 4 or more -> 0). `resolved` is the
--     state recorded in the data (there is no resolution date).
--   breadth = 100 * categories_12m / max_categories (distinct categories of the
--     account's 12-month lines of amount > 0 vs the broadest customer's).
--   phase, first rule that applies (band = phase_band):
--   1. no order on or before D: cultivation (培育期);
--   2. days since the last order > lost_after_days: termination (终止期);
--   3. days from the first order to D < cultivation_days, or orders <
--      cultivation_orders: cultivation (培育期);
--   4. revenue clearly down (previous > 0 and recent < previous * (1 - band)),
--      or orders clearly down (previous > 0 and recent < previous * (1 - band)),
--      or overdue (overdue_ratio > overdue_limit): retention (挽留期);
--   5. revenue clearly up (previous > 0 and recent > previous * (1 + band), or
--      previous <= 0 and recent > 0): growth (成长期);
--   6. otherwise (mature and stable): return (回报期).
--   The coverage (has_cost ... has_complaints, dataset_margin, max_categories)
--   is health_coverage's row for the whole (filtered) dataset at D, passed in:
--   crmflow.health runs this query on a scope narrowed to the requested
--   customers (Scope.narrowed), so that the rhythm and the sums are computed
--   for them only, while the coverage still describes every customer.
-- grain: one row per requested customer_id (customer_ids), with or without orders
-- params: as_of, customer_ids, lost_after_days, recency_zero_ratio, contact_target,
--   complaint_penalty, cultivation_days, cultivation_orders, phase_band, overdue_limit,
--   has_cost, dataset_margin, has_due_dates, has_categories, max_categories, has_interactions,
--   has_complaints
-- uses: order_rhythm
-- columns: customer_id, has_order, orders, first_order_date, last_order_date,
--   days_since_last_order, median_gap_days, overdue_ratio, orders_recent,
--   orders_previous, revenue_12m, revenue_recent, revenue_previous, margin_12m,
--   invoices_on_time, invoices_late, contacts_90d, unresolved_complaints,
--   categories_12m, recency, order_trend, revenue_trend, margin, payment,
--   contact, complaints, breadth, phase
WITH requested AS (
    SELECT DISTINCT CAST(c AS VARCHAR) AS customer_id
    FROM UNNEST($customer_ids) AS ids(c)
),
coverage AS (
    SELECT
        CAST($has_cost AS BOOLEAN) AS has_cost,
        CAST($dataset_margin AS DOUBLE) AS dataset_margin,
        CAST($has_due_dates AS BOOLEAN) AS has_due_dates,
        CAST($has_categories AS BOOLEAN) AS has_categories,
        CAST($max_categories AS BIGINT) AS max_categories,
        CAST($has_interactions AS BOOLEAN) AS has_interactions,
        CAST($has_complaints AS BOOLEAN) AS has_complaints
),
orders_at AS (
    SELECT o.customer_id, o.order_id, o.order_date
    FROM stg_orders AS o
    JOIN requested AS r ON r.customer_id = o.customer_id
    WHERE o.order_date <= CAST($as_of AS DATE)
),
order_windows AS (
    SELECT
        customer_id,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) < 180 THEN 1 ELSE 0 END) AS orders_recent,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) >= 180
                  AND date_diff('day', order_date, CAST($as_of AS DATE)) < 360 THEN 1 ELSE 0 END) AS orders_previous
    FROM orders_at
    GROUP BY customer_id
),
lines AS (
    SELECT
        t.customer_id,
        COALESCE('id:' || t.order_id, 'day:' || CAST(t.order_date AS VARCHAR)) AS order_key,
        t.order_date,
        date_diff('day', t.order_date, CAST($as_of AS DATE)) AS k,
        t.amount,
        t.cost,
        t.category,
        t.due_date,
        t.paid_date
    FROM stg_transactions AS t
    JOIN requested AS r ON r.customer_id = t.customer_id
    WHERE t.order_date <= CAST($as_of AS DATE)
),
line_measures AS (
    SELECT
        customer_id,
        CAST(SUM(CASE WHEN k < 365 THEN amount ELSE 0 END) AS DOUBLE) AS revenue_12m,
        CAST(SUM(CASE WHEN k < 180 THEN amount ELSE 0 END) AS DOUBLE) AS revenue_recent,
        CAST(SUM(CASE WHEN k >= 180 AND k < 360 THEN amount ELSE 0 END) AS DOUBLE) AS revenue_previous,
        CAST(SUM(CASE WHEN k < 365 AND cost IS NOT NULL THEN amount - cost END) AS DOUBLE) AS profit_with_cost,
        CAST(SUM(CASE WHEN k < 365 AND cost IS NOT NULL THEN amount END) AS DOUBLE) AS revenue_with_cost,
        COUNT(DISTINCT CASE WHEN k < 365 AND amount > 0 THEN category END) AS categories_12m
    FROM lines
    GROUP BY customer_id
),
invoices AS (
    SELECT
        customer_id,
        order_key,
        MIN(order_date) AS invoice_date,
        MAX(due_date) AS due_date,
        CASE WHEN COUNT(paid_date) = COUNT(*) THEN MAX(paid_date) END AS paid_date
    FROM lines
    WHERE amount > 0 AND due_date IS NOT NULL
    GROUP BY customer_id, order_key
),
payment_counts AS (
    SELECT
        customer_id,
        SUM(CASE WHEN paid_date <= CAST($as_of AS DATE) AND paid_date <= due_date THEN 1 ELSE 0 END)
            AS invoices_on_time,
        SUM(CASE WHEN paid_date <= CAST($as_of AS DATE) AND paid_date > due_date THEN 1
                 WHEN (paid_date IS NULL OR paid_date > CAST($as_of AS DATE))
                      AND due_date < CAST($as_of AS DATE) THEN 1
                 ELSE 0 END) AS invoices_late
    FROM invoices
    WHERE date_diff('day', invoice_date, CAST($as_of AS DATE)) < 365
    GROUP BY customer_id
),
contact_counts AS (
    SELECT
        i.customer_id,
        SUM(CASE WHEN i.type <> 'complaint' AND date_diff('day', i.date, CAST($as_of AS DATE)) < 90
                 THEN 1 ELSE 0 END) AS contacts_90d,
        SUM(CASE WHEN i.type = 'complaint' AND COALESCE(i.resolved, FALSE) = FALSE
                  AND date_diff('day', i.date, CAST($as_of AS DATE)) < 365
                 THEN 1 ELSE 0 END) AS unresolved_complaints
    FROM stg_interactions AS i
    JOIN requested AS r ON r.customer_id = i.customer_id
    WHERE i.date <= CAST($as_of AS DATE)
    GROUP BY i.customer_id
),
measures AS (
    SELECT
        r.customer_id,
        h.customer_id IS NOT NULL AS has_order,
        h.orders,
        h.first_order_date,
        h.last_order_date,
        h.days_since_last_order,
        h.median_gap_days,
        h.overdue_ratio,
        COALESCE(w.orders_recent, 0) AS orders_recent,
        COALESCE(w.orders_previous, 0) AS orders_previous,
        COALESCE(m.revenue_12m, 0) AS revenue_12m,
        COALESCE(m.revenue_recent, 0) AS revenue_recent,
        COALESCE(m.revenue_previous, 0) AS revenue_previous,
        CASE WHEN cov.has_cost AND m.revenue_with_cost > 0
             THEN m.profit_with_cost / m.revenue_with_cost END AS margin_12m,
        CASE WHEN cov.has_due_dates THEN COALESCE(p.invoices_on_time, 0) END AS invoices_on_time,
        CASE WHEN cov.has_due_dates THEN COALESCE(p.invoices_late, 0) END AS invoices_late,
        CASE WHEN cov.has_interactions THEN COALESCE(c.contacts_90d, 0) END AS contacts_90d,
        CASE WHEN cov.has_complaints THEN COALESCE(c.unresolved_complaints, 0) END AS unresolved_complaints,
        CASE WHEN cov.has_categories THEN COALESCE(m.categories_12m, 0) END AS categories_12m,
        cov.dataset_margin,
        cov.max_categories
    FROM requested AS r
    CROSS JOIN coverage AS cov
    LEFT JOIN order_rhythm AS h ON h.customer_id = r.customer_id
    LEFT JOIN order_windows AS w ON w.customer_id = r.customer_id
    LEFT JOIN line_measures AS m ON m.customer_id = r.customer_id
    LEFT JOIN payment_counts AS p ON p.customer_id = r.customer_id
    LEFT JOIN contact_counts AS c ON c.customer_id = r.customer_id
),
scored AS (
    SELECT
        *,
        CASE WHEN has_order AND overdue_ratio IS NOT NULL THEN
            GREATEST(0.0, LEAST(100.0, 100.0 * ($recency_zero_ratio - overdue_ratio) / ($recency_zero_ratio - 1)))
        END AS recency,
        CASE WHEN NOT has_order THEN NULL
             WHEN orders_previous > 0 THEN LEAST(100.0, 100.0 * orders_recent / orders_previous)
             WHEN orders_recent > 0 THEN 100.0
             ELSE 0.0 END AS order_trend,
        CASE WHEN NOT has_order THEN NULL
             WHEN revenue_previous > 0 THEN GREATEST(0.0, LEAST(100.0, 100.0 * revenue_recent / revenue_previous))
             WHEN revenue_recent > 0 THEN 100.0
             ELSE 0.0 END AS revenue_trend,
        CASE WHEN dataset_margin > 0 AND margin_12m IS NOT NULL THEN
            GREATEST(0.0, LEAST(100.0, 100.0 * margin_12m / dataset_margin))
        END AS margin,
        CASE WHEN invoices_on_time + invoices_late > 0 THEN
            100.0 * invoices_on_time / (invoices_on_time + invoices_late)
        END AS payment,
        CASE WHEN contacts_90d IS NOT NULL THEN
            LEAST(100.0, 100.0 * contacts_90d / $contact_target)
        END AS contact,
        CASE WHEN unresolved_complaints IS NOT NULL THEN
            GREATEST(0.0, 100.0 - $complaint_penalty * unresolved_complaints)
        END AS complaints,
        CASE WHEN max_categories > 0 THEN 100.0 * categories_12m / max_categories END AS breadth,
        CASE
            WHEN NOT has_order THEN 'cultivation'
            WHEN days_since_last_order > $lost_after_days THEN 'termination'
            WHEN date_diff('day', first_order_date, CAST($as_of AS DATE)) < $cultivation_days
                 OR orders < $cultivation_orders THEN 'cultivation'
            WHEN (revenue_previous > 0 AND revenue_recent < revenue_previous * (1 - $phase_band))
                 OR (orders_previous > 0 AND orders_recent < orders_previous * (1 - $phase_band))
                 OR overdue_ratio > $overdue_limit THEN 'retention'
            WHEN (revenue_previous > 0 AND revenue_recent > revenue_previous * (1 + $phase_band))
                 OR (revenue_previous <= 0 AND revenue_recent > 0) THEN 'growth'
            ELSE 'return'
        END AS phase
    FROM measures
),
final AS (
    SELECT
        customer_id, has_order, orders, first_order_date, last_order_date,
        days_since_last_order, median_gap_days, overdue_ratio, orders_recent,
        orders_previous, revenue_12m, revenue_recent, revenue_previous, margin_12m,
        invoices_on_time, invoices_late, contacts_90d, unresolved_complaints,
        categories_12m, recency, order_trend, revenue_trend,
        CASE WHEN has_order THEN margin END AS margin,
        CASE WHEN has_order THEN payment END AS payment,
        CASE WHEN has_order THEN contact END AS contact,
        CASE WHEN has_order THEN complaints END AS complaints,
        CASE WHEN has_order THEN breadth END AS breadth,
        phase
    FROM scored
)
SELECT * FROM final
ORDER BY customer_id
