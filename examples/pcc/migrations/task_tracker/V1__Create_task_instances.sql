-- pcc-task-tracker-api: task instances created from task_builder definitions
-- (task_definition_code), for a client (client.clients.id), assigned to users (auth users.id).

CREATE TABLE task_instances (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_definition_code text NOT NULL,
    client_id            uuid NOT NULL,
    title                text NOT NULL,
    status               text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'in_progress', 'blocked', 'done', 'canceled')),
    priority             smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    due_at               timestamptz,
    created_by           uuid NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    CHECK ((status = 'done') = (completed_at IS NOT NULL))
);

CREATE INDEX idx_task_instances_client_status ON task_instances (client_id, status);
CREATE INDEX idx_task_instances_due_open ON task_instances (due_at) WHERE status IN ('open', 'in_progress', 'blocked');

CREATE TABLE task_assignments (
    task_id     uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL,
    role        text NOT NULL DEFAULT 'assignee' CHECK (role IN ('assignee', 'reviewer', 'watcher')),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, user_id, role)
);

CREATE INDEX idx_task_assignments_user ON task_assignments (user_id);

CREATE TABLE task_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    changed_by  uuid,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_task_status_history_task ON task_status_history (task_id, changed_at);

-- History is written by trigger whenever a task is created or its status changes.
CREATE FUNCTION log_task_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_status_history (task_id, from_status, to_status, changed_by, changed_at)
        VALUES (NEW.id, NULL, NEW.status, NEW.created_by, NEW.created_at);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.updated_at := now();
        INSERT INTO task_status_history (task_id, from_status, to_status)
        VALUES (NEW.id, OLD.status, NEW.status);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_task_instances_status_insert AFTER INSERT ON task_instances
    FOR EACH ROW EXECUTE FUNCTION log_task_status_change();
CREATE TRIGGER trg_task_instances_status_update BEFORE UPDATE OF status ON task_instances
    FOR EACH ROW EXECUTE FUNCTION log_task_status_change();

CREATE TABLE task_comments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    author_id  uuid NOT NULL,
    body       text NOT NULL CHECK (length(body) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at  timestamptz
);

CREATE TABLE task_attachments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id      uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    file_name    text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    storage_uri  text NOT NULL,
    uploaded_by  uuid NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);
