CREATE TABLE password_resets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    requested_ip inet,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '1 hour',
    used_at     timestamptz
);

-- at most one outstanding reset per user
CREATE UNIQUE INDEX uq_password_resets_user_pending ON password_resets (user_id) WHERE used_at IS NULL;
