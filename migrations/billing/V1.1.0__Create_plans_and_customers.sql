CREATE TABLE plans (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code          text NOT NULL,
    name          text NOT NULL,
    interval      text NOT NULL CHECK (interval IN ('month', 'year')),
    amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
    currency_code char(3) NOT NULL REFERENCES currencies (code),
    trial_days    integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    features      jsonb NOT NULL DEFAULT '{}'::jsonb,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_code_interval_currency_key UNIQUE (code, interval, currency_code)
);

CREATE TABLE customers (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- account id in the auth service (organizations.id); no cross-database FK
    account_id       uuid NOT NULL UNIQUE,
    email            text NOT NULL,
    legal_name       text NOT NULL,
    country_code     char(2) NOT NULL,
    tax_id           text,
    default_currency char(3) NOT NULL REFERENCES currencies (code),
    -- opaque token for the payment provider's customer object
    external_ref     text NOT NULL UNIQUE DEFAULT 'cus_' || encode(gen_random_bytes(12), 'hex'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_plans_currency ON plans (currency_code) WHERE active;
CREATE INDEX idx_customers_email ON customers (lower(email));

CREATE TRIGGER trg_customers_updated_at
    BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
