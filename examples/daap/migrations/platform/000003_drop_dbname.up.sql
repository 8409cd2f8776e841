-- The database name inside the CNPG cluster is always "app"; the column is redundant.
ALTER TABLE databases DROP COLUMN IF EXISTS dbname;
