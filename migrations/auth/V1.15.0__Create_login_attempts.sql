CREATE TABLE login_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         citext NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    ip_address    inet,
    succeeded     boolean NOT NULL,
    failure_reason text CHECK (failure_reason IN ('bad_password', 'unknown_user', 'locked', 'mfa_failed', 'suspended')),
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT login_attempts_reason_on_failure CHECK (succeeded OR failure_reason IS NOT NULL)
);

CREATE INDEX idx_login_attempts_email_time ON login_attempts (email, attempted_at DESC);
CREATE INDEX idx_login_attempts_ip_time ON login_attempts (ip_address, attempted_at DESC) WHERE NOT succeeded;
