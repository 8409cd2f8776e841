-- Reusable sets of metrics applied to many clients.
CREATE TABLE metric_templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE metric_template_items (
    template_id          uuid NOT NULL REFERENCES metric_templates (id) ON DELETE CASCADE,
    metric_definition_id uuid NOT NULL REFERENCES metric_definitions (id) ON DELETE RESTRICT,
    position             smallint NOT NULL,
    PRIMARY KEY (template_id, metric_definition_id),
    UNIQUE (template_id, position)
);
