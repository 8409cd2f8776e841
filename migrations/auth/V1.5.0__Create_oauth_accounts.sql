CREATE TABLE oauth_accounts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id         smallint NOT NULL REFERENCES oauth_providers (id),
    provider_account_id text NOT NULL,
    provider_email      citext,
    access_token_enc    bytea,
    refresh_token_enc   bytea,
    token_expires_at    timestamptz,
    raw_profile         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth_accounts_provider_account_key UNIQUE (provider_id, provider_account_id),
    CONSTRAINT oauth_accounts_user_provider_key UNIQUE (user_id, provider_id)
);

CREATE INDEX idx_oauth_accounts_user_id ON oauth_accounts (user_id);

CREATE TRIGGER trg_oauth_accounts_updated_at
    BEFORE UPDATE ON oauth_accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
