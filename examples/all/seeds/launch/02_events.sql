INSERT INTO events (tenant_id, at, kind)
SELECT t.id, timestamptz '2026-01-01 00:00+00' + n * interval '1 hour', 'login'
FROM tenants t, generate_series(0, 3) AS n;
INSERT INTO audit_log (at, tenant_id, action)
SELECT now(), id, 'seeded' FROM tenants;
