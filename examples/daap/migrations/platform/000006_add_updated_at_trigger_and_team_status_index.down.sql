DROP INDEX IF EXISTS idx_databases_cluster_active;
DROP INDEX IF EXISTS idx_databases_owner_team_status;
DROP TRIGGER IF EXISTS trg_databases_updated_at ON databases;
DROP FUNCTION IF EXISTS databases_set_updated_at();
