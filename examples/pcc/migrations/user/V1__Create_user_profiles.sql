-- pcc-user-api: profiles, preferences, roles. pcc-auth-api reads user_profiles (read-only)
-- for profile lookup; user_id equals auth's users.id.

CREATE TABLE user_profiles (
    user_id      uuid PRIMARY KEY,
    email        text NOT NULL UNIQUE,
    first_name   text NOT NULL,
    last_name    text NOT NULL,
    display_name text GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
    job_title    text,
    department   text,
    avatar_url   text,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_preferences (
    user_id            uuid PRIMARY KEY REFERENCES user_profiles (user_id) ON DELETE CASCADE,
    timezone           text NOT NULL DEFAULT 'America/New_York',
    locale             text NOT NULL DEFAULT 'en-US',
    theme              text NOT NULL DEFAULT 'light' CHECK (theme IN ('light', 'dark')),
    email_notifications boolean NOT NULL DEFAULT true,
    digest_frequency   text NOT NULL DEFAULT 'weekly' CHECK (digest_frequency IN ('never', 'daily', 'weekly')),
    dashboard_layout   jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE roles (
    code        text PRIMARY KEY,
    description text NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE user_roles (
    user_id    uuid NOT NULL REFERENCES user_profiles (user_id) ON DELETE CASCADE,
    role_code  text NOT NULL REFERENCES roles (code),
    -- optional scope: role applies to one client only
    client_id  uuid,
    granted_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX uq_user_roles_scope ON user_roles (user_id, role_code, coalesce(client_id, '00000000-0000-0000-0000-000000000000'::uuid));
