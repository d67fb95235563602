-- certwiz store, schema 5: spool files already taken in. Offline requests
-- of users outside the admin group, and their refused attempts, wait in
-- the spool directory until an administrator's command records them; a
-- non-root administrator cannot delete other users' files there (sticky
-- directory), so the names taken in are remembered.
CREATE TABLE spool_ingested (
	name TEXT PRIMARY KEY,
	sha256 TEXT NOT NULL,
	owner_uid INTEGER NOT NULL,
	time INTEGER NOT NULL
);
