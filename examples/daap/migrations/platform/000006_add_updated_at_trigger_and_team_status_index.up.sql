CREATE OR REPLACE FUNCTION databases_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := NOW();
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_databases_updated_at
    BEFORE UPDATE ON databases
    FOR EACH ROW EXECUTE FUNCTION databases_set_updated_at();

-- Team dashboards list a team's active databases by status.
CREATE INDEX IF NOT EXISTS idx_databases_owner_team_status ON databases (owner_team, status) WHERE deleted_at IS NULL;

-- A CNPG Cluster name is used by at most one active database per namespace.
CREATE UNIQUE INDEX IF NOT EXISTS idx_databases_cluster_active ON databases (namespace, cluster_name) WHERE deleted_at IS NULL;
