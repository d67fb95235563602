-- certwiz store, schema 10: deployments.
-- What was last deployed for each usage of a host that has a [deploy]
-- section: the certificate its files name (NULL: the usage had none, the
-- server was told to refuse handshakes), whether the last attempt
-- succeeded, and when a failed one is tried again.
CREATE TABLE deployments (
	host TEXT NOT NULL,
	usage TEXT NOT NULL,
	cert_id INTEGER REFERENCES certificates(id),
	state TEXT NOT NULL CHECK (state IN ('done', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	problem TEXT,
	attempted_at INTEGER NOT NULL,
	next_attempt INTEGER,
	PRIMARY KEY (host, usage)
);
