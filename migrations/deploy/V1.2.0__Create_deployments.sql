CREATE TYPE deployment_status AS ENUM ('pending', 'in_progress', 'live', 'failed', 'rolled_back', 'superseded');

CREATE TABLE deployments (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    build_id       uuid NOT NULL REFERENCES builds (id),
    status         deployment_status NOT NULL DEFAULT 'pending',
    strategy       text NOT NULL DEFAULT 'rolling' CHECK (strategy IN ('rolling', 'blue_green', 'recreate')),
    rollback_of    uuid REFERENCES deployments (id),
    requested_by   text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    error_message  text
);

CREATE INDEX idx_deployments_environment_time ON deployments (environment_id, created_at DESC);
CREATE INDEX idx_deployments_build_id ON deployments (build_id);
-- at most one live deployment per environment
CREATE UNIQUE INDEX uq_deployments_live ON deployments (environment_id) WHERE status = 'live';
