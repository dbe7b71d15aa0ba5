-- Which claim recorded phase 'submitting' (its lease owner, unique per claim). The claim
-- marks a fresh attempt 'submitting' in its own UPDATE; RETURNING shows only the values
-- after it, and this is how the claim tells the rows it marked from rows an earlier,
-- interrupted attempt left 'submitting' (whose holder must look for that prediction
-- before creating). Before, that took a second UPDATE per claimed job.
ALTER TABLE jobs ADD COLUMN submit_owner TEXT;
