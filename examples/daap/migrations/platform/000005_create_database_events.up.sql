-- Status transitions of each managed database (reconciliation loop history).
CREATE TABLE IF NOT EXISTS database_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_id UUID NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    from_status VARCHAR(20),
    to_status VARCHAR(20) NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    actor VARCHAR(255) NOT NULL DEFAULT 'reconciler',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX IF NOT EXISTS idx_database_events_database_time ON database_events (database_id, created_at DESC);
