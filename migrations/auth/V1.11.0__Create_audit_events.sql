CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    target_type text,
    target_id   text,
    ip_address  inet,
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX idx_audit_events_actor_time ON audit_events (actor_id, occurred_at DESC);
CREATE INDEX idx_audit_events_action ON audit_events (action);
CREATE INDEX idx_audit_events_occurred_at ON audit_events USING brin (occurred_at);
