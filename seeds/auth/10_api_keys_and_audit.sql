INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, last_used_at)
VALUES
    ('11111111-1111-4111-8111-000000000002', 'CI pipeline', 'ck_live_3f9a', digest('ck_live_3f9a_local_dev_key', 'sha256'),
     ARRAY['deploy:write', 'deploy:read'], now() - interval '3 hours'),
    ('11111111-1111-4111-8111-000000000001', 'Grafana', 'ck_live_8b21', digest('ck_live_8b21_local_dev_key', 'sha256'),
     ARRAY['metrics:read'], now() - interval '2 minutes');

-- Exercise the login function: the counters on users are maintained by it.
SELECT record_login_attempt('admin@capsule.local', '10.0.0.10', true);
SELECT record_login_attempt('dev@capsule.local', '10.0.0.21', false);
SELECT record_login_attempt('dev@capsule.local', '10.0.0.21', true);
SELECT record_login_attempt('nobody@capsule.local', '203.0.113.7', false);
SELECT record_login_attempt('suspended@capsule.local', '203.0.113.7', false, 'suspended');

INSERT INTO audit_events (occurred_at, actor_id, action, target_type, target_id, ip_address, metadata)
VALUES
    (now() - interval '90 days', '11111111-1111-4111-8111-000000000001', 'organization.created', 'organization', 'acme',    '10.0.0.10', '{}'),
    (now() - interval '60 days', '11111111-1111-4111-8111-000000000001', 'role.granted',         'user',         'dev@capsule.local', '10.0.0.10', '{"role": "developer"}'),
    (now() - interval '20 days', '11111111-1111-4111-8111-000000000001', 'user.suspended',       'user',         'suspended@capsule.local', '10.0.0.10', '{"reason": "chargeback"}'),
    (now() - interval '3 hours', '11111111-1111-4111-8111-000000000002', 'api_key.created',      'api_key',      'ck_live_3f9a', '10.0.0.21', '{"scopes": ["deploy:write", "deploy:read"]}'),
    (now() - interval '1 hour',  NULL,                                   'login.failed',         'user',         'nobody@capsule.local', '203.0.113.7', '{"reason": "unknown_user"}');

INSERT INTO password_resets (user_id, token_hash, requested_ip)
VALUES ('11111111-1111-4111-8111-000000000004', digest('reset-viewer-1', 'sha256'), '192.168.1.40');
