-- Descope (and other IdP) subject -> local user mapping.
CREATE TABLE oauth_provider_mappings (
    provider        text NOT NULL CHECK (provider IN ('descope', 'google', 'microsoft')),
    external_subject text NOT NULL,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id       text,
    linked_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz,
    PRIMARY KEY (provider, external_subject),
    UNIQUE (provider, user_id)
);
