-- certwiz store, schema 14: ACME requests keep their state like the others.
-- They sit behind the same submit/poll interface as CMP and CA helpers:
-- the state a later run resumes from is the order's URL, which the
-- reference already holds.
UPDATE requests SET ca_state = CAST(ca_ref AS BLOB)
	WHERE protocol = 'acme' AND ca_ref IS NOT NULL AND ca_state IS NULL;
