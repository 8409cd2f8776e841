-- Monitor service (TimescaleDB). The timescaledb extension is created by the admin
-- before migrations run. Only create_hypertable and plain SQL are used here (the
-- Apache-licensed build has no compression, continuous aggregates or retention policies).

CREATE TABLE metrics (
    time    timestamptz      NOT NULL,
    service text             NOT NULL,
    name    text             NOT NULL,
    value   double precision NOT NULL,
    labels  jsonb            NOT NULL DEFAULT '{}'::jsonb
);

SELECT create_hypertable('metrics', 'time', chunk_time_interval => interval '1 day');

-- create_hypertable already adds an index on (time DESC).
CREATE INDEX idx_metrics_service_name_time ON metrics (service, name, time DESC);
CREATE INDEX idx_metrics_labels ON metrics USING gin (labels jsonb_path_ops);
