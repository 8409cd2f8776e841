-- Deploy service: projects and environments.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE projects (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- organization in the auth service; no cross-database FK
    organization_id uuid NOT NULL,
    slug           text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name           text NOT NULL,
    repo_url       text NOT NULL,
    default_branch text NOT NULL DEFAULT 'main',
    runtime        text NOT NULL DEFAULT 'container' CHECK (runtime IN ('container', 'static', 'function')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    archived_at    timestamptz,
    CONSTRAINT projects_org_slug_key UNIQUE (organization_id, slug)
);

CREATE TABLE environments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]*$'),
    kind        text NOT NULL DEFAULT 'preview' CHECK (kind IN ('production', 'staging', 'preview')),
    url         text,
    config      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- resource quota for the environment
    cpu_millicores integer NOT NULL DEFAULT 500 CHECK (cpu_millicores > 0),
    memory_mb      integer NOT NULL DEFAULT 512 CHECK (memory_mb > 0),
    replicas       smallint NOT NULL DEFAULT 1 CHECK (replicas BETWEEN 0 AND 50),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT environments_project_name_key UNIQUE (project_id, name)
);

-- one production environment per project
CREATE UNIQUE INDEX uq_environments_one_production ON environments (project_id) WHERE kind = 'production';

CREATE TRIGGER trg_projects_updated_at BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER trg_environments_updated_at BEFORE UPDATE ON environments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
