-- certwiz store, schema 11: renewals.
-- The last renewal attempt of each usage of a host: what it came to
-- (renewed, pending at the CA, failed), the certificate it renewed and the
-- one it got, and when a failed one is tried again.
CREATE TABLE renewals (
	host TEXT NOT NULL,
	usage TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('renewed', 'pending', 'failed')),
	from_cert_id INTEGER REFERENCES certificates(id),
	cert_id INTEGER REFERENCES certificates(id),
	request_id INTEGER REFERENCES requests(id),
	attempts INTEGER NOT NULL DEFAULT 0,
	problem TEXT,
	attempted_at INTEGER NOT NULL,
	next_attempt INTEGER,
	PRIMARY KEY (host, usage)
);
