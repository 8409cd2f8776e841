-- 36 hours of 30-minute samples for each defined metric: 6 metrics x 73 points = 438 rows
-- spread over 2-3 daily chunks. Values follow a daily sine wave plus deterministic noise.
INSERT INTO metrics (time, service, name, value, labels)
SELECT t,
       d.service,
       d.name,
       round((CASE d.name
           WHEN 'http_requests_per_second' THEN 120 + 80 * sin(extract(epoch FROM t) / 86400 * 2 * pi())
           WHEN 'login_failures'           THEN (abs(hashtext(t::text)) % 7)
           WHEN 'http_p95_latency_ms'      THEN 180 + 60 * sin(extract(epoch FROM t) / 86400 * 2 * pi()) + (abs(hashtext(t::text)) % 40)
           WHEN 'payments_failed'          THEN (abs(hashtext(t::text || 'p')) % 3)
           WHEN 'build_queue_depth'        THEN (abs(hashtext(t::text || 'q')) % 5)
           ELSE 35 + 25 * sin(extract(epoch FROM t) / 43200 * 2 * pi()) + (abs(hashtext(t::text || 'c')) % 10)
       END)::numeric, 2)::double precision,
       jsonb_build_object('env', 'local', 'host', d.service || '-0' || (1 + abs(hashtext(t::text)) % 2))
  FROM metric_definitions d
 CROSS JOIN generate_series(date_trunc('hour', now()) - interval '36 hours',
                            date_trunc('hour', now()),
                            interval '30 minutes') AS t;

-- A latency spike on billing in the last 20 minutes (fires the alert seeded below). Always 4
-- rows: a count that depended on the minute of seeding would make a reset look lossy.
INSERT INTO metrics (time, service, name, value, labels)
SELECT now() - make_interval(mins => 20 - g * 5), 'billing', 'http_p95_latency_ms', 950 + 10 * g,
       '{"env": "local", "host": "billing-01"}'
  FROM generate_series(1, 4) AS g;
