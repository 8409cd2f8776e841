-- Local fallback accounts. Passwords are placeholder bcrypt strings (no pgcrypto here);
-- ids are shared with user.user_profiles.user_id.
INSERT INTO users (id, email, password_hash, is_active, created_at, last_login_at)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'maria.santos@pcc.example', '$2b$12$C6UzMDM.H6dfI/f/IKcEeO3BAmjHjkXtHZnrVSCdAFeKdVmEHFpGe', true,  '2025-01-06 09:00:00+00', '2025-06-30 08:12:00+00'),
    ('a1000000-0000-4000-8000-000000000002', 'james.chen@pcc.example',   '$2b$12$Qm5b7S2Z0kVf8S9r0nEw8eV3s3l1o0l8f2T0d5b9cF6yJ7gH1pQ2a', true,  '2025-01-06 09:05:00+00', '2025-06-29 17:40:00+00'),
    ('a1000000-0000-4000-8000-000000000003', 'priya.patel@pcc.example',  NULL,                                                             true,  '2025-02-14 10:00:00+00', '2025-06-30 07:55:00+00'),
    ('a1000000-0000-4000-8000-000000000004', 'tom.okafor@pcc.example',   NULL,                                                             false, '2025-03-01 12:00:00+00', '2025-04-11 16:20:00+00');

INSERT INTO oauth_provider_mappings (provider, external_subject, user_id, tenant_id, linked_at, last_seen_at)
VALUES
    ('descope', 'U2fNd8kP1xQ7mZ3a', 'a1000000-0000-4000-8000-000000000001', 'T2pcc', '2025-01-06 09:01:00+00', '2025-06-30 08:12:00+00'),
    ('descope', 'U2gH6tYb4Ls9wE1c', 'a1000000-0000-4000-8000-000000000002', 'T2pcc', '2025-01-06 09:06:00+00', '2025-06-29 17:40:00+00'),
    ('descope', 'U2kR3vNq8Jd5pX0z', 'a1000000-0000-4000-8000-000000000003', 'T2pcc', '2025-02-14 10:01:00+00', '2025-06-30 07:55:00+00'),
    ('descope', 'U2mW7cFa2Hs6tB4n', 'a1000000-0000-4000-8000-000000000004', 'T2pcc', '2025-03-01 12:01:00+00', '2025-04-11 16:20:00+00');

INSERT INTO sessions (jti, user_id, issued_at, expires_at, client_ip, user_agent, revoked_at)
VALUES
    ('5e550000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', now() - interval '20 minutes', now() + interval '40 minutes', '10.28.16.21', 'Mozilla/5.0 (Windows NT 10.0) Edge/126.0', NULL),
    ('5e550000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000003', now() - interval '50 minutes', now() + interval '10 minutes', '10.28.16.34', 'Mozilla/5.0 (Macintosh) Safari/17.5', NULL),
    ('5e550000-0000-4000-8000-000000000003', 'a1000000-0000-4000-8000-000000000004', '2025-04-11 16:20:00+00', '2025-04-11 17:20:00+00', '10.28.16.50', 'Mozilla/5.0 (Windows NT 10.0) Chrome/124.0', '2025-04-11 16:45:00+00');

INSERT INTO refresh_tokens (user_id, session_jti, token_hash, issued_at, expires_at)
VALUES
    ('a1000000-0000-4000-8000-000000000001', '5e550000-0000-4000-8000-000000000001', md5('rt-maria-1'), now() - interval '20 minutes', now() + interval '14 days'),
    ('a1000000-0000-4000-8000-000000000003', '5e550000-0000-4000-8000-000000000002', md5('rt-priya-1'), now() - interval '50 minutes', now() + interval '14 days');
