-- Until when the output of a job's succeeded prediction can still be fetched from
-- Replicate (which deletes it an hour after the prediction ends), set when the output
-- could not be stored at once (a full disk): the job waits in the queue and tries again
-- until then, and a run again of the generation before then fetches that output again
-- instead of creating (and paying for) a new prediction. Unix ms; NULL when unknown.
ALTER TABLE generations ADD COLUMN output_until INTEGER;
