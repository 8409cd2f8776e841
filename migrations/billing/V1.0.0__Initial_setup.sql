-- Billing service: currencies and common helpers.
-- Money is stored as bigint minor units (cents) + ISO 4217 currency code.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE currencies (
    code        char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    name        text NOT NULL,
    symbol      text NOT NULL,
    minor_units smallint NOT NULL DEFAULT 2 CHECK (minor_units BETWEEN 0 AND 4),
    active      boolean NOT NULL DEFAULT true
);

-- Format an amount in minor units for display, e.g. format_money(129900, 'BRL') -> 'R$ 1299.00'
CREATE FUNCTION format_money(amount_minor bigint, currency char(3)) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.symbol || ' ' ||
           to_char(amount_minor / power(10, c.minor_units)::numeric, 'FM999999999990' ||
                   CASE WHEN c.minor_units > 0 THEN '.' || repeat('0', c.minor_units) ELSE '' END)
      FROM currencies c WHERE c.code = currency;
$$;
