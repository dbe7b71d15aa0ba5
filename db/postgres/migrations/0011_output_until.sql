-- Until when a succeeded prediction's output can be fetched: see
-- ../migrations/0012_output_until.sql.
ALTER TABLE generations ADD COLUMN output_until BIGINT;
