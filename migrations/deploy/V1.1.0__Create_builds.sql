CREATE TYPE build_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'canceled');

CREATE TABLE builds (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number       integer NOT NULL,
    commit_sha   char(40) NOT NULL CHECK (commit_sha ~ '^[0-9a-f]{40}$'),
    branch       text NOT NULL,
    status       build_status NOT NULL DEFAULT 'queued',
    -- container registry reference of the produced image
    image_ref    text,
    image_digest text CHECK (image_digest IS NULL OR image_digest ~ '^sha256:[0-9a-f]{64}$'),
    triggered_by text NOT NULL DEFAULT 'push',
    queued_at    timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    CONSTRAINT builds_project_number_key UNIQUE (project_id, number),
    CONSTRAINT builds_succeeded_has_image CHECK (status <> 'succeeded' OR image_digest IS NOT NULL)
);

CREATE INDEX idx_builds_project_queued ON builds (project_id, queued_at DESC);
CREATE INDEX idx_builds_active ON builds (status) WHERE status IN ('queued', 'running');

CREATE TABLE build_logs (
    build_id  uuid NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    line_no   integer NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT now(),
    stream    text NOT NULL DEFAULT 'stdout' CHECK (stream IN ('stdout', 'stderr', 'system')),
    message   text NOT NULL,
    PRIMARY KEY (build_id, line_no)
);
