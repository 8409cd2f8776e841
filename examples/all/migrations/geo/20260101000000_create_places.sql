-- migrate:up
CREATE TABLE places (
    id serial PRIMARY KEY,
    name text NOT NULL,
    location geography(Point, 4326) NOT NULL,
    embedding vector(3) NOT NULL
);

-- migrate:down
DROP TABLE places;
