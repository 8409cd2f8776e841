-- Auth service: initial setup.
-- Extensions (citext, pgcrypto) are created by the admin before migrations run.

CREATE TABLE service_config (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL DEFAULT '{}'::jsonb,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Shared trigger function: keeps updated_at current on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_service_config_updated_at
    BEFORE UPDATE ON service_config
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO service_config (key, value, description) VALUES
    ('schema', '{"service": "auth", "initialized": true}', 'Schema bootstrap marker'),
    ('session_ttl_seconds', '86400', 'Default session lifetime'),
    ('refresh_token_ttl_seconds', '2592000', 'Default refresh token lifetime (30 days)');
