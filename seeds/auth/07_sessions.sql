INSERT INTO sessions (id, user_id, token_hash, ip_address, user_agent, created_at, last_seen_at, expires_at, revoked_at)
VALUES
    ('22222222-2222-4222-8222-000000000001', '11111111-1111-4111-8111-000000000001',
     digest('session-admin-1', 'sha256'), '10.0.0.10', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
     now() - interval '2 hours', now() - interval '5 minutes', now() + interval '22 hours', NULL),
    ('22222222-2222-4222-8222-000000000002', '11111111-1111-4111-8111-000000000002',
     digest('session-dev-1', 'sha256'), '10.0.0.21', 'capsule-cli/1.4.2',
     now() - interval '30 minutes', now() - interval '1 minute', now() + interval '23 hours', NULL),
    ('22222222-2222-4222-8222-000000000003', '11111111-1111-4111-8111-000000000002',
     digest('session-dev-old', 'sha256'), '10.0.0.21', 'Mozilla/5.0 (Macintosh) Safari/17.5',
     now() - interval '3 days', now() - interval '2 days', now() - interval '2 days', NULL),
    ('22222222-2222-4222-8222-000000000004', '11111111-1111-4111-8111-000000000004',
     digest('session-viewer-revoked', 'sha256'), '192.168.1.40', 'Mozilla/5.0 (Windows NT 10.0) Chrome/126.0',
     now() - interval '1 day', now() - interval '20 hours', now() + interval '1 hour', now() - interval '20 hours');

INSERT INTO refresh_tokens (id, session_id, user_id, token_hash, parent_id, issued_at, expires_at, used_at)
VALUES
    ('33333333-3333-4333-8333-000000000001', '22222222-2222-4222-8222-000000000001', '11111111-1111-4111-8111-000000000001',
     digest('refresh-admin-1', 'sha256'), NULL, now() - interval '2 hours', now() + interval '30 days', now() - interval '1 hour'),
    ('33333333-3333-4333-8333-000000000002', '22222222-2222-4222-8222-000000000001', '11111111-1111-4111-8111-000000000001',
     digest('refresh-admin-2', 'sha256'), '33333333-3333-4333-8333-000000000001', now() - interval '1 hour', now() + interval '30 days', NULL),
    ('33333333-3333-4333-8333-000000000003', '22222222-2222-4222-8222-000000000002', '11111111-1111-4111-8111-000000000002',
     digest('refresh-dev-1', 'sha256'), NULL, now() - interval '30 minutes', now() + interval '30 days', NULL);

INSERT INTO signing_keys (kid, algorithm, public_jwk, private_key_enc, status, activated_at)
VALUES ('dev-2024-01', 'ES256',
        '{"kty": "EC", "crv": "P-256", "kid": "dev-2024-01", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}',
        pgp_sym_encrypt('not-a-real-private-key', 'dev-encryption-key'), 'active', now() - interval '90 days');
