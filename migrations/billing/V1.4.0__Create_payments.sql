CREATE TABLE payment_methods (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('card', 'sepa_debit', 'pix', 'bacs_debit', 'ach_debit')),
    brand       text,
    last4       char(4),
    -- sha256 of the provider fingerprint, to detect the same card across customers
    fingerprint bytea,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX uq_payment_methods_default ON payment_methods (customer_id) WHERE is_default;

CREATE TABLE payments (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id        uuid REFERENCES invoices (id),
    customer_id       uuid NOT NULL REFERENCES customers (id),
    payment_method_id uuid REFERENCES payment_methods (id) ON DELETE SET NULL,
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    currency_code     char(3) NOT NULL REFERENCES currencies (code),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    failure_code      text,
    idempotency_key   text NOT NULL UNIQUE DEFAULT encode(gen_random_bytes(16), 'hex'),
    provider_ref      text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    settled_at        timestamptz
);

CREATE INDEX idx_payments_invoice_id ON payments (invoice_id);
CREATE INDEX idx_payments_customer_time ON payments (customer_id, created_at DESC);

-- Revenue per currency and month (succeeded payments only).
CREATE VIEW monthly_revenue AS
SELECT date_trunc('month', p.settled_at) AS month,
       p.currency_code,
       count(*)                          AS payments,
       sum(p.amount_minor)               AS amount_minor,
       format_money(sum(p.amount_minor)::bigint, p.currency_code) AS amount_display
  FROM payments p
 WHERE p.status = 'succeeded'
 GROUP BY 1, 2;
