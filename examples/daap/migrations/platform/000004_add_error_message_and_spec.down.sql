ALTER TABLE databases DROP CONSTRAINT IF EXISTS chk_databases_deleted_consistent;
ALTER TABLE databases DROP CONSTRAINT IF EXISTS chk_databases_status;
ALTER TABLE databases DROP COLUMN IF EXISTS spec;
ALTER TABLE databases DROP COLUMN IF EXISTS error_message;
