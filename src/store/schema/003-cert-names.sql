-- certwiz store, schema 3: the names of each certificate, indexed, so that
-- finding a certificate that can serve a usage does not read every row.
CREATE TABLE cert_names (
	cert_id INTEGER NOT NULL REFERENCES certificates(id),
	name TEXT NOT NULL,              -- lowercase; wildcards as '*.x'
	PRIMARY KEY (name, cert_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO cert_names (cert_id, name)
	SELECT c.id, lower(j.value) FROM certificates c, json_each(c.names) j
	WHERE c.names IS NOT NULL;
