CREATE SEQUENCE invoice_number_seq START 1001;

CREATE TABLE invoices (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number          text NOT NULL UNIQUE DEFAULT 'INV-' || lpad(nextval('invoice_number_seq')::text, 6, '0'),
    customer_id     uuid NOT NULL REFERENCES customers (id),
    subscription_id uuid REFERENCES subscriptions (id),
    currency_code   char(3) NOT NULL REFERENCES currencies (code),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    subtotal_minor  bigint NOT NULL DEFAULT 0 CHECK (subtotal_minor >= 0),
    tax_minor       bigint NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
    total_minor     bigint GENERATED ALWAYS AS (subtotal_minor + tax_minor) STORED,
    period_start    timestamptz,
    period_end      timestamptz,
    issued_at       timestamptz,
    due_at          timestamptz,
    paid_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

ALTER SEQUENCE invoice_number_seq OWNED BY invoices.number;

CREATE TABLE invoice_line_items (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id        uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    description       text NOT NULL,
    quantity          integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_amount_minor bigint NOT NULL,
    amount_minor      bigint GENERATED ALWAYS AS (quantity * unit_amount_minor) STORED
);

CREATE INDEX idx_invoices_customer_id ON invoices (customer_id, created_at DESC);
CREATE INDEX idx_invoices_open_due ON invoices (due_at) WHERE status = 'open';
CREATE INDEX idx_invoice_line_items_invoice_id ON invoice_line_items (invoice_id);
