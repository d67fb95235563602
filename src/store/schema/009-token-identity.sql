-- certwiz store, schema 9: token identity.
-- Tokens are told apart by label too: tpm2-pkcs11 gives every token the
-- serial 0000000000000000, and two of them must not become one row (a
-- token with a real serial keeps its row when relabelled: the code looks
-- it up by serial first).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE tokens_new (
	id INTEGER PRIMARY KEY,
	serial TEXT NOT NULL,
	label TEXT NOT NULL,
	manufacturer TEXT NOT NULL,
	model TEXT NOT NULL,
	problem TEXT,
	problem_since INTEGER,
	UNIQUE (manufacturer, model, serial, label)
);
INSERT INTO tokens_new SELECT id, serial, label, manufacturer, model,
	problem, problem_since FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
