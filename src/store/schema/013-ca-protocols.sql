-- certwiz store, schema 13: CAs reached over CMP and through certmonger
-- CA helpers. A request's protocol may now be cmp or helper, and what the
-- protocol needs to resume a request in a later run (CMP: transaction,
-- the CA's last answers; helper: the cookie) is kept in ca_state. SQLite
-- cannot change a CHECK constraint in place: the table is rebuilt, with
-- foreign keys checked after the copy.
CREATE TABLE requests_new (
	id INTEGER PRIMARY KEY,
	host TEXT NOT NULL,
	usages TEXT NOT NULL,
	key_id INTEGER NOT NULL REFERENCES keys(id),
	csr BLOB NOT NULL,
	protocol TEXT NOT NULL CHECK (protocol IN ('offline', 'acme', 'cmp',
		'helper')),
	ca TEXT,
	ca_ref TEXT,
	state TEXT NOT NULL CHECK (state IN ('created', 'awaiting-response',
		'submitted', 'pending', 'issued', 'rejected', 'failed')),
	next_attempt INTEGER,
	problem TEXT,
	created_by TEXT NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	out_path TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	created_uid INTEGER,
	ca_state BLOB
);
INSERT INTO requests_new (id, host, usages, key_id, csr, protocol, ca,
	ca_ref, state, next_attempt, problem, created_by, created, updated,
	out_path, attempts, created_uid)
	SELECT id, host, usages, key_id, csr, protocol, ca, ca_ref, state,
	next_attempt, problem, created_by, created, updated, out_path,
	attempts, created_uid FROM requests;
DROP TABLE requests;
ALTER TABLE requests_new RENAME TO requests;
CREATE INDEX requests_by_key ON requests (key_id, state);
CREATE INDEX requests_open ON requests (state)
	WHERE state IN ('created', 'submitted', 'pending');
CREATE INDEX requests_by_uid ON requests (created_uid, state);
