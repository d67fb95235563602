-- certwiz store, schema 2: what assign, status and refresh need.
-- Names, EKUs and key algorithm of each certificate, so that status and
-- assign answer without parsing DER (NULL in rows from schema 1: read
-- from the DER instead).
ALTER TABLE certificates ADD COLUMN names TEXT;      -- JSON array
ALTER TABLE certificates ADD COLUMN eku TEXT;        -- JSON array, NULL: any
ALTER TABLE certificates ADD COLUMN key_alg TEXT;
-- Whether the certificate object is on the token: present, missing
-- (deleted outside certwiz, found by refresh) or none (never written).
ALTER TABLE certificates ADD COLUMN token_state TEXT NOT NULL
	DEFAULT 'present' CHECK (token_state IN ('present', 'missing', 'none'));
CREATE INDEX certificates_by_validity ON certificates (not_after);
CREATE INDEX assignments_by_cert ON assignments (cert_id);
