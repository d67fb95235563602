-- certwiz store, schema 4: the audit trail.
-- Events form a hash chain (hash = SHA-256(prev_hash || canonical JSON));
-- checkpoints are signed by an audit key on the token. The triggers stop
-- accidental changes; tampering is detected by `certwiz audit verify`.
CREATE TABLE audit (
	seq INTEGER PRIMARY KEY,
	time TEXT NOT NULL,
	uid INTEGER NOT NULL,
	user TEXT NOT NULL,
	host TEXT NOT NULL,
	operation TEXT NOT NULL,
	target TEXT NOT NULL,
	outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
	reason TEXT,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE audit_checkpoints (
	id INTEGER PRIMARY KEY,
	seq INTEGER NOT NULL,            -- the last event it covers
	hash TEXT NOT NULL,              -- that event's hash
	time TEXT NOT NULL,
	token_serial TEXT NOT NULL,
	cka_id TEXT NOT NULL,
	public_key BLOB NOT NULL,        -- SubjectPublicKeyInfo of the audit key
	signature BLOB NOT NULL          -- ECDSA P-256 SHA-256, DER
);
CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

-- Small facts: hashes of the configuration and topology last seen, the
-- audit key.
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
