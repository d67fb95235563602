-- certwiz store, schema 7: the service (certwizd).
-- A request records the uid of its requester (the kernel's word, through
-- the service's socket), so that the service can bound how many requests
-- each user outside the admin group has open.
ALTER TABLE requests ADD COLUMN created_uid INTEGER;
CREATE INDEX requests_by_uid ON requests (created_uid, state);
-- The spool of earlier releases is gone: every request goes through the
-- service.
DROP TABLE spool_ingested;
