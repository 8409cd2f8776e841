CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    email citext NOT NULL,
    total numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
