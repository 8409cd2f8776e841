CREATE TABLE mfa_devices (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('totp', 'webauthn', 'sms')),
    label        text NOT NULL DEFAULT '',
    secret_enc   bytea,
    credential_id bytea,
    public_key   bytea,
    sign_count   bigint NOT NULL DEFAULT 0,
    confirmed_at timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mfa_devices_webauthn_has_credential
        CHECK (kind <> 'webauthn' OR credential_id IS NOT NULL)
);

CREATE INDEX idx_mfa_devices_user_id ON mfa_devices (user_id);
CREATE UNIQUE INDEX uq_mfa_devices_credential_id ON mfa_devices (credential_id) WHERE credential_id IS NOT NULL;
