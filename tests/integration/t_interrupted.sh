#!/bin/bash
# A request or import killed between persisted steps leaves nothing on the
# token that the store does not know about, and an interrupted import
# completes when it is run again.
source "$(dirname "$0")/lib.sh"
setup_env interrupted
setup_ca
cd "$WORK"

R="request --usage Default --offline --out r.pem"

# Killed after the intent is recorded, before the key exists: a row in
# state "generating", no object on the token.
CERTWIZ_CRASHPOINT=request:after-intent expect_rc 137 cw $R
expect_rc 0 cw list --keys --json
[ "$(jq -r '.keys[0].state' <<<"$OUT")" = generating ] || fail "intent not recorded"
[ -z "$(token_objects)" ] || fail "objects without a key"

# Killed right after key generation: the pair is on the token, and the
# store lists it (state generating) under the same CKA_ID.
CERTWIZ_CRASHPOINT=request:after-keygen expect_rc 137 cw $R
expect_rc 0 cw list --keys --json
ID=$(jq -r '.keys[1].cka_id' <<<"$OUT")
[ "$(jq -r '.keys[1].state' <<<"$OUT")" = generating ] || fail "key not listed"
[ "$(token_objects | grep -c "ID: *$ID")" = 2 ] || fail "key pair not on the token"
[ ! -e r.pem ] || fail "CSR published"
# Every object on the token belongs to a key the store lists.
for id in $(token_objects | sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' | sort -u); do
	jq -e --arg id "$id" '.keys[] | select(.cka_id==$id)' <<<"$OUT" >/dev/null ||
		fail "object $id untracked"
done

# A clean request afterwards works.
expect_rc 0 cw $R --json
ID3=$(jq -r .cka_id <<<"$OUT")
sign_csr r.pem leaf.pem 90

# Import killed after the certificate object was written, before the
# store committed: the store has no certificate; running it again adopts
# the object instead of refusing it.
CERTWIZ_CRASHPOINT=import:after-token-write expect_rc 137 cw import leaf.pem
[ "$(token_objects | grep -c "ID: *$ID3")" = 3 ] || fail "certificate not written"
expect_rc 0 cw list --certs --json
[ "$(jq '.certificates | length' <<<"$OUT")" = 0 ] || fail "half an import in the store"
expect_rc 0 cw import leaf.pem
[ "$(token_objects | grep -c "ID: *$ID3")" = 3 ] || fail "duplicate certificate object"
expect_rc 0 cw list --json
[ "$(jq '.certificates | length' <<<"$OUT")" = 1 ] || fail "import not completed"
[ "$(jq -r '.requests[0].state' <<<"$OUT")" = issued ] || fail "request not issued"
sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"
echo "interrupted: ok"
