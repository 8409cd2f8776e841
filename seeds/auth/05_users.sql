-- Every seeded user has the password "password" (bcrypt via pgcrypto).
INSERT INTO users (id, email, password_hash, display_name, status, email_verified_at, mfa_enabled, created_at)
VALUES
    ('11111111-1111-4111-8111-000000000001', 'admin@capsule.local',  crypt('password', gen_salt('bf', 8)), 'Ada Admin',     'active',    now() - interval '90 days', true,  now() - interval '90 days'),
    ('11111111-1111-4111-8111-000000000002', 'dev@capsule.local',    crypt('password', gen_salt('bf', 8)), 'Dev Eloper',    'active',    now() - interval '60 days', false, now() - interval '60 days'),
    ('11111111-1111-4111-8111-000000000003', 'Billing@Capsule.local', crypt('password', gen_salt('bf', 8)), 'Bill Ing',     'active',    now() - interval '30 days', false, now() - interval '30 days'),
    ('11111111-1111-4111-8111-000000000004', 'viewer@capsule.local', crypt('password', gen_salt('bf', 8)), 'Vera Viewer',   'active',    now() - interval '10 days', false, now() - interval '10 days'),
    ('11111111-1111-4111-8111-000000000005', 'pending@capsule.local', NULL,                                'Pat Pending',   'pending',   NULL,                       false, now() - interval '1 day'),
    ('11111111-1111-4111-8111-000000000006', 'suspended@capsule.local', crypt('password', gen_salt('bf', 8)), 'Sam Suspended', 'suspended', now() - interval '200 days', false, now() - interval '200 days');

INSERT INTO user_preferences (user_id, locale, timezone, theme)
SELECT id, 'en-US', 'UTC', 'system' FROM users WHERE status = 'active';

UPDATE user_preferences SET locale = 'pt-BR', timezone = 'America/Sao_Paulo', theme = 'dark'
 WHERE user_id = '11111111-1111-4111-8111-000000000002';

INSERT INTO mfa_devices (user_id, kind, label, secret_enc, confirmed_at)
VALUES ('11111111-1111-4111-8111-000000000001', 'totp', 'Authenticator app',
        pgp_sym_encrypt('JBSWY3DPEHPK3PXP', 'dev-encryption-key'), now() - interval '80 days');

INSERT INTO mfa_recovery_codes (user_id, code_hash)
SELECT '11111111-1111-4111-8111-000000000001', crypt('recovery-' || g, gen_salt('bf', 4))
  FROM generate_series(1, 8) AS g;

INSERT INTO email_verifications (user_id, email, code_hash)
VALUES ('11111111-1111-4111-8111-000000000005', 'pending@capsule.local', crypt('482913', gen_salt('bf', 4)));
