-- Audit log of user actions, partitioned by month (range on performed_at).
CREATE TABLE user_audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    user_id      uuid NOT NULL,
    action       text NOT NULL,
    entity_type  text,
    entity_id    text,
    changes      jsonb,
    performed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, performed_at)
) PARTITION BY RANGE (performed_at);

CREATE TABLE user_audit_log_2025q1 PARTITION OF user_audit_log FOR VALUES FROM ('2025-01-01') TO ('2025-04-01');
CREATE TABLE user_audit_log_2025q2 PARTITION OF user_audit_log FOR VALUES FROM ('2025-04-01') TO ('2025-07-01');
CREATE TABLE user_audit_log_default PARTITION OF user_audit_log DEFAULT;

CREATE INDEX idx_user_audit_log_user_time ON user_audit_log (user_id, performed_at DESC);
