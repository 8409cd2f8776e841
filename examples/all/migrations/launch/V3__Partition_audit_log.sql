-- pg_partman, called as the service's own role (its schema `partman` is the role's).
CREATE TABLE audit_log (
    at timestamptz NOT NULL,
    tenant_id bigint NOT NULL,
    action text NOT NULL
) PARTITION BY RANGE (at);
SELECT partman.create_parent('public.audit_log', 'at', '1 month');
