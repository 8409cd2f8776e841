-- Workflows: ordered sequences of task definitions.
CREATE TABLE workflow_definitions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workflow_steps (
    workflow_id        uuid NOT NULL REFERENCES workflow_definitions (id) ON DELETE CASCADE,
    step_no            smallint NOT NULL CHECK (step_no > 0),
    task_definition_id uuid NOT NULL REFERENCES task_definitions (id),
    depends_on_step    smallint,
    offset_days        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (workflow_id, step_no),
    FOREIGN KEY (workflow_id, depends_on_step) REFERENCES workflow_steps (workflow_id, step_no),
    CHECK (depends_on_step < step_no)
);
