-- Period-over-period change of every metric per client.
CREATE VIEW metric_trends AS
SELECT client_id,
       metric_code,
       period_start,
       value,
       lag(value) OVER w AS previous_value,
       CASE WHEN lag(value) OVER w IS NULL OR lag(value) OVER w = 0 THEN NULL
            ELSE round((value - lag(value) OVER w) / abs(lag(value) OVER w) * 100, 2) END AS change_percent
  FROM metric_values
WINDOW w AS (PARTITION BY client_id, metric_code ORDER BY period_start);
