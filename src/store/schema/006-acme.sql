-- certwiz store, schema 6: online requests (ACME).
-- How many times a request was taken up, for the back-off between runs
-- (ca_ref, next_attempt and problem exist since schema 1).
ALTER TABLE requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX requests_open ON requests (state)
	WHERE state IN ('created', 'submitted', 'pending');

-- One ACME account per CA profile and directory; its key lives on a token
-- (sign only, like every certwiz key) and is never a certificate's key.
-- The row is written before the key is generated (state generating), so
-- that an interrupted run leaves a trace of the CKA_ID.
CREATE TABLE acme_accounts (
	id INTEGER PRIMARY KEY,
	ca TEXT NOT NULL,
	directory TEXT NOT NULL,
	token_id INTEGER NOT NULL REFERENCES tokens(id),
	cka_id TEXT NOT NULL,
	spki BLOB,
	url TEXT,                        -- the account URL once registered
	state TEXT NOT NULL CHECK (state IN ('generating', 'ready')),
	created INTEGER NOT NULL,
	UNIQUE (ca, directory),
	UNIQUE (token_id, cka_id)
);

-- Challenge responses published outside certwiz (webroot files, DNS
-- records through the hook), so that a later run removes them once the
-- CA has validated, even when the run that published them ended pending.
CREATE TABLE acme_challenges (
	id INTEGER PRIMARY KEY,
	request_id INTEGER NOT NULL REFERENCES requests(id),
	authz TEXT NOT NULL,
	type TEXT NOT NULL CHECK (type IN ('http-01', 'dns-01')),
	name TEXT NOT NULL,              -- the identifier
	token TEXT NOT NULL,
	value TEXT NOT NULL,             -- key authorization, or TXT value
	published INTEGER NOT NULL,
	removed INTEGER,
	UNIQUE (request_id, authz)
);
