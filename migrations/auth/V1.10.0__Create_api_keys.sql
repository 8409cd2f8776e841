-- Note: V1.10.0 sorts after V1.9.0 (Flyway compares version parts numerically).
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- first characters of the key, shown in the UI to identify it ("ck_live_3f9a...")
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);

CREATE INDEX idx_api_keys_user_id ON api_keys (user_id) WHERE revoked_at IS NULL;
