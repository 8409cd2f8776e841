ALTER TABLE databases ADD COLUMN IF NOT EXISTS error_message TEXT;
-- Full requested CNPG Cluster spec, kept for audit.
ALTER TABLE databases ADD COLUMN IF NOT EXISTS spec JSONB NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE databases ADD CONSTRAINT chk_databases_status
    CHECK (status IN ('provisioning', 'ready', 'error', 'deleting', 'deleted'));
-- A soft-deleted row must be in the deleted state, and vice versa.
ALTER TABLE databases ADD CONSTRAINT chk_databases_deleted_consistent
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL));
