CREATE TABLE readings (
    device text NOT NULL,
    at timestamptz NOT NULL,
    value double precision NOT NULL
);
SELECT create_hypertable('readings', 'at');
