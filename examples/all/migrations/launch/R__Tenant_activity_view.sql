CREATE OR REPLACE VIEW tenant_activity AS
SELECT t.slug, count(e.at) AS events
FROM tenants t LEFT JOIN events e ON e.tenant_id = t.id
GROUP BY t.slug;
