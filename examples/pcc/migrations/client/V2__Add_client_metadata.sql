CREATE TABLE client_metadata (
    client_id      uuid PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    industry       text NOT NULL,
    size_band      text NOT NULL CHECK (size_band IN ('small', 'mid', 'large', 'enterprise')),
    employee_count integer CHECK (employee_count >= 0),
    annual_revenue_usd numeric(16, 2),
    risk_category  text NOT NULL DEFAULT 'medium' CHECK (risk_category IN ('low', 'medium', 'high', 'critical')),
    hq_country     char(2),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_client_metadata_risk ON client_metadata (risk_category);

-- Full hierarchy path for every client (used by reporting on the read replica).
CREATE VIEW client_hierarchy AS
WITH RECURSIVE tree AS (
    SELECT id, parent_client_id, name, 0 AS depth, ARRAY[name] AS path, id AS root_id
      FROM clients WHERE parent_client_id IS NULL
    UNION ALL
    SELECT c.id, c.parent_client_id, c.name, t.depth + 1, t.path || c.name, t.root_id
      FROM clients c JOIN tree t ON c.parent_client_id = t.id
)
SELECT id, parent_client_id, root_id, name, depth, array_to_string(path, ' > ') AS path FROM tree;
