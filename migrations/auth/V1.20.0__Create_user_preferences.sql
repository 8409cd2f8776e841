CREATE TABLE user_preferences (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    locale      text NOT NULL DEFAULT 'en-US',
    timezone    text NOT NULL DEFAULT 'UTC',
    theme       text NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
    notifications jsonb NOT NULL DEFAULT '{"email": true, "security_alerts": true}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER trg_user_preferences_updated_at
    BEFORE UPDATE ON user_preferences
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
