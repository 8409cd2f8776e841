-- Latest value of each (service, metric) over the last day (plain view; no continuous aggregate).
CREATE VIEW latest_metrics AS
SELECT DISTINCT ON (m.service, m.name)
       m.service,
       m.name,
       m.time,
       m.value,
       d.unit,
       m.labels
  FROM metrics m
  LEFT JOIN metric_definitions d ON d.service = m.service AND d.name = m.name
 WHERE m.time > now() - interval '1 day'
 ORDER BY m.service, m.name, m.time DESC;

-- Hourly rollup computed on read with time_bucket (a plain view, not a continuous aggregate).
CREATE VIEW metrics_hourly AS
SELECT time_bucket(interval '1 hour', time) AS bucket,
       service,
       name,
       avg(value) AS avg_value,
       min(value) AS min_value,
       max(value) AS max_value,
       count(*)   AS samples
  FROM metrics
 GROUP BY 1, 2, 3;
