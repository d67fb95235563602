-- certwiz store, schema 1: tokens, keys, requests, certificates, assignments.
CREATE TABLE tokens (
	id INTEGER PRIMARY KEY,
	serial TEXT NOT NULL,
	label TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	model TEXT NOT NULL,
	UNIQUE (manufacturer, model, serial)
);

CREATE TABLE keys (
	id INTEGER PRIMARY KEY,
	token_id INTEGER NOT NULL REFERENCES tokens(id),
	cka_id TEXT NOT NULL,
	label TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	spki BLOB,
	spki_sha256 TEXT,
	origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
	state TEXT NOT NULL CHECK (state IN ('generating', 'ready', 'gone')),
	created INTEGER NOT NULL,
	UNIQUE (token_id, cka_id)
);
CREATE INDEX keys_by_spki ON keys (spki_sha256);

CREATE TABLE requests (
	id INTEGER PRIMARY KEY,
	host TEXT NOT NULL,
	usages TEXT NOT NULL,            -- JSON array of usage names
	key_id INTEGER NOT NULL REFERENCES keys(id),
	csr BLOB NOT NULL,
	protocol TEXT NOT NULL CHECK (protocol IN ('offline', 'acme')),
	ca TEXT,
	ca_ref TEXT,                     -- order URL or CA request id
	state TEXT NOT NULL CHECK (state IN ('created', 'awaiting-response',
		'submitted', 'pending', 'issued', 'rejected', 'failed')),
	next_attempt INTEGER,
	problem TEXT,
	created_by TEXT NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	out_path TEXT
);
CREATE INDEX requests_by_key ON requests (key_id, state);

CREATE TABLE certificates (
	id INTEGER PRIMARY KEY,
	der BLOB NOT NULL,
	sha256 TEXT NOT NULL UNIQUE,
	sha1 TEXT NOT NULL,
	subject TEXT NOT NULL,
	issuer TEXT NOT NULL,
	serial TEXT NOT NULL,
	not_before INTEGER NOT NULL,
	not_after INTEGER NOT NULL,
	key_id INTEGER REFERENCES keys(id),
	request_id INTEGER REFERENCES requests(id),
	chain BLOB NOT NULL,             -- issuers, concatenated DER
	origin TEXT NOT NULL CHECK (origin IN ('issued', 'imported')),
	created INTEGER NOT NULL
);
CREATE INDEX certificates_by_key ON certificates (key_id);

CREATE TABLE assignments (
	id INTEGER PRIMARY KEY,
	host TEXT NOT NULL,
	usage TEXT NOT NULL,
	cert_id INTEGER NOT NULL REFERENCES certificates(id),
	effective_from INTEGER NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('scheduled', 'current',
		'previous', 'removed')),
	assigned_by TEXT NOT NULL,
	assigned_at INTEGER NOT NULL,
	ended_at INTEGER
);
CREATE INDEX assignments_by_usage ON assignments (host, usage, state);
CREATE UNIQUE INDEX one_current_per_usage ON assignments (host, usage)
	WHERE state = 'current';
