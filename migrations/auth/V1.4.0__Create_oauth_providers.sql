CREATE TABLE oauth_providers (
    id                smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug              text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9_-]+$'),
    display_name      text NOT NULL,
    authorize_url     text NOT NULL,
    token_url         text NOT NULL,
    userinfo_url      text,
    client_id         text NOT NULL,
    -- secret is stored encrypted by the application (pgp_sym_encrypt); never plaintext
    client_secret_enc bytea,
    scopes            text[] NOT NULL DEFAULT '{}',
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER trg_oauth_providers_updated_at
    BEFORE UPDATE ON oauth_providers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
