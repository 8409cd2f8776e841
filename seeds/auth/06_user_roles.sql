INSERT INTO user_roles (user_id, role_id, granted_by)
SELECT u.id, r.id, '11111111-1111-4111-8111-000000000001'
  FROM (VALUES ('admin@capsule.local',   'superadmin'),
               ('dev@capsule.local',     'developer'),
               ('billing@capsule.local', 'billing_manager'),
               ('viewer@capsule.local',  'viewer'),
               ('dev@capsule.local',     'viewer')) AS g(email, role)
  JOIN users u ON u.email = g.email::citext      -- citext: case-insensitive match
  JOIN roles r ON r.name = g.role;
