-- JWT signing keys (published as JWKS); rotated periodically.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    algorithm    text NOT NULL DEFAULT 'ES256' CHECK (algorithm IN ('RS256', 'ES256', 'EdDSA')),
    public_jwk   jsonb NOT NULL,
    private_key_enc bytea NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('next', 'active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz
);

CREATE UNIQUE INDEX uq_signing_keys_single_active ON signing_keys (status) WHERE status = 'active';
