-- certwiz store, schema 8: what import accepted and what refresh saw.
-- A certificate imported although it differs from what was asked or from
-- what a server certificate must be (import --accept-mismatch): the
-- differences, one per line, shown by status. NULL: none.
ALTER TABLE certificates ADD COLUMN mismatch TEXT;
-- Whether the chain reaches a trust anchor: 1 it does, 0 an issuer is
-- missing (a later import of the issuers completes it), NULL not known
-- (rows from earlier schemas, or no trust anchors when it was imported).
ALTER TABLE certificates ADD COLUMN chain_complete INTEGER;
-- The last refresh's word on each token: NULL when it could be opened,
-- else why not, and since when.
ALTER TABLE tokens ADD COLUMN problem TEXT;
ALTER TABLE tokens ADD COLUMN problem_since INTEGER;
