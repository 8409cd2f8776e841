-- Credentials move to a Kubernetes Secret; the platform keeps only its name.
ALTER TABLE databases DROP COLUMN IF EXISTS username;
ALTER TABLE databases DROP COLUMN IF EXISTS password;
ALTER TABLE databases ADD COLUMN IF NOT EXISTS secret_name VARCHAR(255);
