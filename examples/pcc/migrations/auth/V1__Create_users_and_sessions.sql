-- pcc-auth-api: local users (fallback when Descope SSO is unavailable), sessions, refresh tokens.
-- users.id is the platform-wide user id; the user service keys user_profiles on it.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    password_hash text,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email));

-- JWT tracking: one row per issued access token (jti), for revocation checks.
CREATE TABLE sessions (
    jti         uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    client_ip   inet,
    user_agent  text,
    revoked_at  timestamptz,
    CHECK (expires_at > issued_at)
);

CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_live ON sessions (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_jti uuid REFERENCES sessions (jti) ON DELETE SET NULL,
    token_hash  text NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);

CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id);
