-- migrate:up
CREATE INDEX places_location_idx ON places USING gist (location);

-- migrate:down
DROP INDEX places_location_idx;
