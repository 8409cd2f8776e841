ALTER TABLE users
    ADD COLUMN last_login_at   timestamptz,
    ADD COLUMN failed_login_count integer NOT NULL DEFAULT 0 CHECK (failed_login_count >= 0),
    ADD COLUMN locked_until    timestamptz,
    ADD COLUMN mfa_enabled     boolean NOT NULL DEFAULT false;

CREATE INDEX idx_users_locked_until ON users (locked_until) WHERE locked_until IS NOT NULL;

-- Record a login attempt and maintain the counters on users in one call.
CREATE FUNCTION record_login_attempt(p_email citext, p_ip inet, p_succeeded boolean, p_reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_user_id uuid;
BEGIN
    SELECT id INTO v_user_id FROM users WHERE email = p_email;

    INSERT INTO login_attempts (email, user_id, ip_address, succeeded, failure_reason)
    VALUES (p_email, v_user_id, p_ip, p_succeeded,
            CASE WHEN p_succeeded THEN NULL
                 WHEN v_user_id IS NULL THEN 'unknown_user'
                 ELSE coalesce(p_reason, 'bad_password') END);

    IF v_user_id IS NOT NULL THEN
        IF p_succeeded THEN
            UPDATE users SET last_login_at = now(), failed_login_count = 0, locked_until = NULL
             WHERE id = v_user_id;
        ELSE
            UPDATE users
               SET failed_login_count = failed_login_count + 1,
                   locked_until = CASE WHEN failed_login_count + 1 >= 5
                                       THEN now() + interval '15 minutes' ELSE locked_until END
             WHERE id = v_user_id;
        END IF;
    END IF;
END;
$$;
