-- Which claim recorded phase 'submitting': see ../migrations/0006_submit_owner.sql.
ALTER TABLE jobs ADD COLUMN submit_owner TEXT;
