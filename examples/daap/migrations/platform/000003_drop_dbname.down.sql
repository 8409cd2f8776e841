ALTER TABLE databases ADD COLUMN IF NOT EXISTS dbname VARCHAR(255);
UPDATE databases SET dbname = 'app' WHERE status = 'ready' AND dbname IS NULL;
