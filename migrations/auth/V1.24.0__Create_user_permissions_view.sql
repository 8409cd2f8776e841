-- Effective permissions per user (through non-expired role grants).
CREATE VIEW user_effective_permissions AS
SELECT DISTINCT ur.user_id,
       p.code AS permission
  FROM user_roles ur
  JOIN role_permissions rp ON rp.role_id = ur.role_id
  JOIN permissions p       ON p.id = rp.permission_id
 WHERE ur.expires_at IS NULL OR ur.expires_at > now();
