-- user_id values match auth.users.id; auth reads this table (read-only) for profile lookup.
INSERT INTO user_profiles (user_id, email, first_name, last_name, job_title, department, is_active, created_at)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'maria.santos@pcc.example', 'Maria', 'Santos', 'Head of Portfolio Operations', 'Operations', true,  '2025-01-06 09:00:00+00'),
    ('a1000000-0000-4000-8000-000000000002', 'james.chen@pcc.example',   'James', 'Chen',   'Financial Analyst',            'Finance',    true,  '2025-01-06 09:05:00+00'),
    ('a1000000-0000-4000-8000-000000000003', 'priya.patel@pcc.example',  'Priya', 'Patel',  'Portfolio Manager',            'Investments',true,  '2025-02-14 10:00:00+00'),
    ('a1000000-0000-4000-8000-000000000004', 'tom.okafor@pcc.example',   'Tom',   'Okafor', 'Intern',                       'Finance',    false, '2025-03-01 12:00:00+00');

INSERT INTO user_preferences (user_id, timezone, locale, theme, email_notifications, digest_frequency, dashboard_layout)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'America/Chicago',  'en-US', 'dark',  true,  'daily',  '{"widgets": ["portfolio_summary", "open_tasks", "metric_alerts"]}'),
    ('a1000000-0000-4000-8000-000000000002', 'America/New_York', 'en-US', 'light', true,  'weekly', '{"widgets": ["metric_trends"]}'),
    ('a1000000-0000-4000-8000-000000000003', 'Europe/London',    'en-GB', 'light', false, 'never',  '{}'),
    ('a1000000-0000-4000-8000-000000000004', 'America/New_York', 'en-US', 'light', true,  'weekly', '{}');

INSERT INTO roles (code, description, permissions)
VALUES
    ('admin',             'Platform administrator',            ARRAY['clients:*', 'metrics:*', 'tasks:*', 'users:*']),
    ('portfolio_manager', 'Owns a set of portfolio companies', ARRAY['clients:read', 'clients:write', 'metrics:read', 'tasks:*']),
    ('analyst',           'Enters and reviews metric values',  ARRAY['clients:read', 'metrics:read', 'metrics:write', 'tasks:read']),
    ('viewer',            'Read-only dashboards',              ARRAY['clients:read', 'metrics:read', 'tasks:read']);

INSERT INTO user_roles (user_id, role_code, client_id)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'admin',             NULL),
    ('a1000000-0000-4000-8000-000000000002', 'analyst',           NULL),
    ('a1000000-0000-4000-8000-000000000003', 'portfolio_manager', 'c1000000-0000-4000-8000-000000000001'),
    ('a1000000-0000-4000-8000-000000000003', 'portfolio_manager', 'c1000000-0000-4000-8000-000000000004'),
    ('a1000000-0000-4000-8000-000000000004', 'viewer',            NULL);

INSERT INTO user_audit_log (user_id, action, entity_type, entity_id, changes, performed_at)
VALUES
    ('a1000000-0000-4000-8000-000000000001', 'user.role_granted',   'user',   'a1000000-0000-4000-8000-000000000003', '{"role": "portfolio_manager"}', '2025-02-14 10:05:00+00'),
    ('a1000000-0000-4000-8000-000000000003', 'preferences.updated', 'user',   'a1000000-0000-4000-8000-000000000003', '{"digest_frequency": ["weekly", "never"]}', '2025-03-02 08:30:00+00'),
    ('a1000000-0000-4000-8000-000000000001', 'user.deactivated',    'user',   'a1000000-0000-4000-8000-000000000004', '{"is_active": [true, false]}', '2025-04-11 16:45:00+00'),
    ('a1000000-0000-4000-8000-000000000002', 'profile.updated',     'user',   'a1000000-0000-4000-8000-000000000002', '{"job_title": ["Analyst", "Financial Analyst"]}', now());
