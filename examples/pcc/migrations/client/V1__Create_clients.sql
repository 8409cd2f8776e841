-- pcc-client-api: portfolio companies, their hierarchy and contacts.

CREATE TABLE clients (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code             text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{2,20}$'),
    name             text NOT NULL,
    -- hierarchy: a holding company is the parent of its subsidiaries
    parent_client_id uuid REFERENCES clients (id) ON DELETE RESTRICT,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('prospect', 'active', 'exited')),
    acquired_on      date,
    exited_on        date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_client_id IS DISTINCT FROM id),
    CHECK (exited_on IS NULL OR exited_on >= acquired_on)
);

CREATE INDEX idx_clients_parent ON clients (parent_client_id);

CREATE TABLE client_contacts (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id  uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    full_name  text NOT NULL,
    title      text,
    email      text,
    phone      text,
    is_primary boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX uq_client_contacts_primary ON client_contacts (client_id) WHERE is_primary;
