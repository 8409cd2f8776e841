-- Monthly values Jul 2024 .. Jun 2025 for four clients (client ids from client.clients,
-- metric codes from metric_builder.metric_definitions). Rows land in the 2024 and 2025 partitions.
WITH months AS (
    SELECT m::date AS period_start, row_number() OVER (ORDER BY m) AS i
      FROM generate_series('2024-07-01'::date, '2025-06-01'::date, interval '1 month') AS m
), clients (client_id, base_revenue, margin, headcount) AS (
    VALUES ('c1000000-0000-4000-8000-000000000002'::uuid, 45000000, 0.14, 2600),
           ('c1000000-0000-4000-8000-000000000003'::uuid, 30500000, 0.09, 1600),
           ('c1000000-0000-4000-8000-000000000004'::uuid,  4000000, 0.21,  310),
           ('c1000000-0000-4000-8000-000000000001'::uuid, 75500000, 0.12, 4200)
), base AS (
    SELECT c.client_id, m.period_start, m.i,
           round(c.base_revenue * (1 + 0.01 * m.i) * (1 + 0.03 * sin(m.i)))::numeric AS revenue,
           c.margin - CASE WHEN c.client_id = 'c1000000-0000-4000-8000-000000000003' THEN 0.004 * m.i ELSE 0 END AS margin,
           c.headcount + 5 * m.i AS headcount
      FROM clients c CROSS JOIN months m
)
INSERT INTO metric_values (client_id, metric_code, period_start, value, source, reported_by, recorded_at)
SELECT client_id, v.code, period_start, v.value,
       CASE WHEN v.code = 'ebitda_margin' THEN 'calculated' ELSE 'import' END,
       'a1000000-0000-4000-8000-000000000002',
       (period_start + interval '1 month 10 days')::timestamptz
  FROM base
 CROSS JOIN LATERAL (VALUES
        ('revenue',       revenue),
        ('ebitda',        round(revenue * margin)),
        ('ebitda_margin', round(margin * 100, 2)),
        ('headcount',     headcount::numeric)) AS v(code, value);

INSERT INTO metric_snapshots (client_id, snapshot_date, values)
SELECT client_id, '2025-06-30',
       jsonb_object_agg(metric_code, value)
  FROM metric_values
 WHERE period_start = '2025-06-01'
 GROUP BY client_id;

-- Northwind Retail's margin falls under the warn (12) and crit (8) thresholds.
INSERT INTO metric_alerts (client_id, metric_code, period_start, severity, value, threshold, raised_at, acknowledged_at)
SELECT client_id, metric_code, period_start,
       CASE WHEN value < 8 THEN 'critical' ELSE 'warning' END,
       value,
       CASE WHEN value < 8 THEN 8 ELSE 12 END,
       recorded_at,
       CASE WHEN period_start < '2025-04-01' THEN recorded_at + interval '2 days' END
  FROM metric_values
 WHERE metric_code = 'ebitda_margin' AND value < 12;
