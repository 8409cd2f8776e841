INSERT INTO task_categories (id, name)
VALUES (1, 'Reporting'), (2, 'Compliance'), (3, 'Data collection');
SELECT setval(pg_get_serial_sequence('task_categories', 'id'), 3);

INSERT INTO sla_definitions (code, description, response_hours, resolution_hours, business_hours_only)
VALUES
    ('standard', 'Respond in 1 business day, resolve in 5',  8,  40, true),
    ('urgent',   'Respond in 2 hours, resolve in 1 day',     2,  24, false),
    ('quarterly','Resolve within 15 business days',         16, 120, true);

-- task_tracker refers to these by code; task_tracker reads this table (read-only).
INSERT INTO task_definitions (id, code, title, description, category_id, sla_code, default_priority, checklist, recurrence)
VALUES
    ('f1000000-0000-4000-8000-000000000001', 'kpi_data_request',        'Collect monthly KPI data',      'Request the standard monthly pack from the company', 3, 'standard', 3,
     '["Send request", "Receive file", "Validate totals"]', 'monthly'),
    ('f1000000-0000-4000-8000-000000000002', 'monthly_financials_review','Review monthly financials',    'Analyst review of P&L against budget',              1, 'standard', 2,
     '["Variance analysis", "Commentary", "Manager sign-off"]', 'monthly'),
    ('f1000000-0000-4000-8000-000000000003', 'quarterly_board_pack',    'Prepare quarterly board pack', 'Assemble KPIs and commentary for the board',        1, 'quarterly', 2,
     '["Draft", "Review with CFO", "Distribute"]', 'quarterly'),
    ('f1000000-0000-4000-8000-000000000004', 'covenant_compliance_check','Covenant compliance check',   'Check leverage and interest-cover covenants',       2, 'urgent',   1,
     '["Compute ratios", "Compare with facility agreement"]', 'quarterly'),
    ('f1000000-0000-4000-8000-000000000005', 'annual_audit_prep',       'Annual audit preparation',     'Coordinate year-end audit requests',                2, 'quarterly', 3,
     '[]', 'annual');

INSERT INTO workflow_definitions (id, code, name, description)
VALUES ('f2000000-0000-4000-8000-000000000001', 'month_end_close', 'Month-end close', 'Collect data, review, then check covenants');

INSERT INTO workflow_steps (workflow_id, step_no, task_definition_id, depends_on_step, offset_days)
VALUES
    ('f2000000-0000-4000-8000-000000000001', 1, 'f1000000-0000-4000-8000-000000000001', NULL, 0),
    ('f2000000-0000-4000-8000-000000000001', 2, 'f1000000-0000-4000-8000-000000000002', 1,    5),
    ('f2000000-0000-4000-8000-000000000001', 3, 'f1000000-0000-4000-8000-000000000004', 2,    7);
