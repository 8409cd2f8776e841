-- The CSV seeds set explicit ids: move the identity sequences past them.
SELECT setval(pg_get_serial_sequence('roles', 'id'), (SELECT max(id) FROM roles));
SELECT setval(pg_get_serial_sequence('permissions', 'id'), (SELECT max(id) FROM permissions));

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
  FROM roles r
  JOIN permissions p ON
       r.name = 'superadmin'
    OR (r.name = 'admin'           AND p.code NOT IN ('billing:write'))
    OR (r.name = 'developer'       AND p.code IN ('deploy:read', 'deploy:write', 'metrics:read', 'api_keys:write'))
    OR (r.name = 'billing_manager' AND p.code IN ('billing:read', 'billing:write'))
    OR (r.name = 'viewer'          AND p.code LIKE '%:read' AND p.code <> 'audit:read');
