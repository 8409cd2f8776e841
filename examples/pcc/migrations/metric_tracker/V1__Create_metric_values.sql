-- pcc-metric-tracker-api: reported values per client and metric.
-- metric_code / client_id refer to metric_builder.metric_definitions and client.clients
-- (other databases: no foreign keys).

CREATE TABLE metric_values (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    client_id    uuid NOT NULL,
    metric_code  text NOT NULL,
    period_start date NOT NULL,
    value        numeric NOT NULL,
    source       text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'import', 'api', 'calculated')),
    reported_by  uuid,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, period_start),
    UNIQUE (client_id, metric_code, period_start)
) PARTITION BY RANGE (period_start);

CREATE TABLE metric_values_2024 PARTITION OF metric_values FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE metric_values_2025 PARTITION OF metric_values FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE metric_values_default PARTITION OF metric_values DEFAULT;

CREATE INDEX idx_metric_values_metric_period ON metric_values (metric_code, period_start);

CREATE TABLE metric_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    uuid NOT NULL,
    snapshot_date date NOT NULL,
    values       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, snapshot_date)
);

CREATE TABLE metric_alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    uuid NOT NULL,
    metric_code  text NOT NULL,
    period_start date NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('warning', 'critical')),
    value        numeric NOT NULL,
    threshold    numeric NOT NULL,
    raised_at    timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz
);

CREATE INDEX idx_metric_alerts_open ON metric_alerts (client_id) WHERE acknowledged_at IS NULL;
