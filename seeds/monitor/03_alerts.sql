INSERT INTO alert_rules (service, metric_name, comparator, threshold, for_duration, severity)
VALUES
    ('billing', 'http_p95_latency_ms', '>', 800, interval '5 minutes', 'critical'),
    ('auth',    'login_failures',      '>=', 5,  interval '10 minutes', 'warning'),
    ('deploy',  'build_queue_depth',   '>', 10,  interval '15 minutes', 'warning'),
    ('deploy',  'cpu_usage_percent',   '>', 90,  interval '10 minutes', 'info');

INSERT INTO alerts (rule_id, state, value, fired_at, acknowledged_by, resolved_at)
SELECT r.id, 'resolved', 6, now() - interval '30 hours', 'admin@capsule.local', now() - interval '29 hours'
  FROM alert_rules r WHERE r.service = 'auth' AND r.metric_name = 'login_failures';

INSERT INTO alerts (rule_id, state, value, fired_at)
SELECT r.id, 'firing', 960, now() - interval '10 minutes'
  FROM alert_rules r WHERE r.service = 'billing' AND r.metric_name = 'http_p95_latency_ms';
