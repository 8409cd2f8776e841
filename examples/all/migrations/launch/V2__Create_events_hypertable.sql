-- TimescaleDB in the same database as pg_partman and pgaudit (the launch design).
CREATE TABLE events (
    tenant_id bigint NOT NULL REFERENCES tenants (id),
    at timestamptz NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'
);
SELECT create_hypertable('events', 'at', chunk_time_interval => interval '1 day');
