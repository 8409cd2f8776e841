-- Registry of known metrics (unit, kind, description).
CREATE TABLE metric_definitions (
    service     text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('gauge', 'counter', 'histogram')),
    unit        text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, name)
);
