INSERT INTO metric_categories (id, name, description)
VALUES
    (1, 'Financial',   'P&L and balance sheet KPIs'),
    (2, 'Operational', 'Efficiency and people metrics'),
    (3, 'Customer',    'Retention and growth');
SELECT setval(pg_get_serial_sequence('metric_categories', 'id'), 3);

-- metric_tracker refers to these by code; metric_tracker reads this table (read-only).
INSERT INTO metric_definitions (id, code, name, category_id, unit, frequency, formula, higher_is_better, warn_threshold, crit_threshold)
VALUES
    ('d1000000-0000-4000-8000-000000000001', 'revenue',             'Revenue',               1, 'usd',     'monthly',   NULL,                    true,  NULL,  NULL),
    ('d1000000-0000-4000-8000-000000000002', 'ebitda',              'EBITDA',                1, 'usd',     'monthly',   NULL,                    true,  NULL,  NULL),
    ('d1000000-0000-4000-8000-000000000003', 'ebitda_margin',       'EBITDA margin',         1, 'percent', 'monthly',   'ebitda / revenue * 100', true, 12,    8),
    ('d1000000-0000-4000-8000-000000000004', 'cash_runway_days',    'Cash runway',           1, 'days',    'monthly',   NULL,                    true,  180,   90),
    ('d1000000-0000-4000-8000-000000000005', 'headcount',           'Headcount',             2, 'count',   'monthly',   NULL,                    true,  NULL,  NULL),
    ('d1000000-0000-4000-8000-000000000006', 'days_sales_outstanding', 'Days sales outstanding', 2, 'days', 'monthly', NULL,                    false, 45,    60),
    ('d1000000-0000-4000-8000-000000000007', 'customer_churn_rate', 'Customer churn rate',   3, 'percent', 'monthly',   NULL,                    false, 3,     5),
    ('d1000000-0000-4000-8000-000000000008', 'net_revenue_retention', 'Net revenue retention', 3, 'percent', 'quarterly', NULL,                  true,  100,   90);

INSERT INTO metric_templates (id, name, description)
VALUES
    ('e1000000-0000-4000-8000-000000000001', 'Standard monthly pack', 'Core financial KPIs requested from every portfolio company'),
    ('e1000000-0000-4000-8000-000000000002', 'SaaS pack',             'Standard pack plus retention metrics for software companies');

INSERT INTO metric_template_items (template_id, metric_definition_id, position)
SELECT 'e1000000-0000-4000-8000-000000000001'::uuid, id, row_number() OVER (ORDER BY code)
  FROM metric_definitions WHERE code IN ('revenue', 'ebitda', 'ebitda_margin', 'cash_runway_days', 'headcount')
UNION ALL
SELECT 'e1000000-0000-4000-8000-000000000002'::uuid, id, row_number() OVER (ORDER BY code)
  FROM metric_definitions WHERE code IN ('revenue', 'ebitda', 'ebitda_margin', 'customer_churn_rate', 'net_revenue_retention');
