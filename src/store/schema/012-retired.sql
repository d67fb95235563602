-- certwiz store, schema 12: retired keys.
-- When prune destroyed a key (and its certificates' objects) on its token;
-- the rows stay for the history and the audit trail.
ALTER TABLE keys ADD COLUMN retired INTEGER;
