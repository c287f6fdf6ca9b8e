-- +goose Up
-- Support finds a customer by any part of their name: a trigram index
-- serves LIKE '%part%', which no b-tree can. pg_trgm ships with PostgreSQL
-- and is a trusted extension, so the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_name_trgm ON customers USING gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);

-- +goose Down
DROP INDEX customers_name_trgm;
