#!/bin/bash
# The offline path end to end for one key spec ($1): request (key on the
# token, token-signed CSR), openssl as the CA, import, and the checks on
# the CSR, the token's objects and the store.
source "$(dirname "$0")/lib.sh"
KEY=$1
setup_env "offline-${KEY//:/}"
setup_ca
cd "$WORK"

# The token is listed with its RFC 7512 URI.
expect_rc 0 cw tokens --json
[ "$(jq -r '[.slots[] | select(.label=="web-hsm")] | length' <<<"$OUT")" = 1 ] ||
	fail "web-hsm not listed once"
jq -e '.slots[] | select(.label=="web-hsm") | .uri | startswith("pkcs11:")' <<<"$OUT" >/dev/null ||
	fail "no URI for the token"

# Two usages: one certificate with the union of their names, plus extras.
expect_rc 0 cw request --usage Default --usage WebServicesInternal --offline \
	--out req.pem --key "$KEY" --name extra.contoso.test --json
REQ=$(jq -r .request_id <<<"$OUT")
ID=$(jq -r .cka_id <<<"$OUT")
[ "$(jq -r .key_alg <<<"$OUT")" = "$KEY" ] || fail "key_alg"
[ "$(jq -r .state <<<"$OUT")" = awaiting-response ] || fail "state"
[ "${#ID}" = 32 ] || fail "CKA_ID is not 16 bytes: $ID"
jq -e '.key_uri | contains("id=%")' <<<"$OUT" >/dev/null || fail "key uri"

# The CSR: self-signature, names, EKU, signature algorithm.
openssl req -in req.pem -noout -verify 2>&1 | grep -q "verify OK" || fail "openssl req -verify"
certtool --crq-info --infile req.pem >crq.txt 2>&1 || fail "certtool --crq-info"
TEXT=$(openssl req -in req.pem -noout -text)
for n in pool01.contoso.test fe01.contoso.test sip.contoso.test sip.fabrikam.test \
	meet.contoso.test dialin.fabrikam.test extra.contoso.test; do
	grep -q "DNS:$n" <<<"$TEXT" || fail "CSR lacks $n"
done
grep -q "TLS Web Server Authentication, TLS Web Client Authentication" <<<"$TEXT" ||
	fail "CSR lacks the EKUs"
grep -q "CN = pool01.contoso.test" <<<"$TEXT" || fail "subject"
csr_sigalg "$TEXT" "$KEY"
[ "$(stat -c %a req.pem)" = 644 ] || fail "CSR mode"
ls req.pem.*.tmp 2>/dev/null && fail "temporary file left"

# The key as pkcs11-tool sees it: made inside, never leaves, signs only.
OBJ=$(pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login \
	--pin "$PIN" --list-objects --type privkey 2>/dev/null)
grep -q "Access:     sensitive, always sensitive, never extractable, local" <<<"$OBJ" ||
	fail "private key access flags: $OBJ"
grep -q "Usage:      sign$" <<<"$OBJ" || fail "private key usage: $OBJ"
grep -q "ID:         $ID" <<<"$OBJ" || fail "private key id"

# The store: the request awaits a response, the key is ready.
expect_rc 0 cw list --json
[ "$(jq -r ".requests[] | select(.id==$REQ) | .state" <<<"$OUT")" = awaiting-response ] ||
	fail "request not awaiting"
[ "$(jq -r ".keys[] | select(.cka_id==\"$ID\") | .state" <<<"$OUT")" = ready ] ||
	fail "key not ready"

# The CA answers with leaf and intermediate; import binds it.
sign_csr req.pem leaf.pem 90
cat leaf.pem ca/int.pem >response.pem
expect_rc 0 cw import response.pem --json
[ "$(jq -r .request_id <<<"$OUT")" = "$REQ" ] || fail "import request id"
[ "$(jq -r .chain_length <<<"$OUT")" = 1 ] || fail "chain not stored"
[ "$(jq -r .expired <<<"$OUT")" = false ] || fail "expired flag"
SHA=$(openssl x509 -in leaf.pem -outform DER | sha256sum | cut -d' ' -f1)
[ "$(jq -r .sha256 <<<"$OUT")" = "$SHA" ] || fail "thumbprint"

# Three objects, one ID; the certificate carries subject and serial.
[ "$(token_objects | grep -c "ID: *$ID")" = 3 ] || { token_objects; fail "not three objects with ID $ID"; }
CERTOBJ=$(pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" \
	--list-objects --type cert 2>/dev/null)
grep -q "subject:    DN: O=Contoso, CN=pool01.contoso.test" <<<"$CERTOBJ" || fail "cert subject: $CERTOBJ"
SERIAL=$(openssl x509 -in leaf.pem -noout -serial | cut -d= -f2)
grep -qi "serial:     $SERIAL" <<<"$CERTOBJ" || fail "cert serial"
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --read-object \
	--type cert --id "$ID" -o cert.der 2>/dev/null
cmp cert.der <(openssl x509 -in leaf.pem -outform DER) || fail "certificate on token differs"

expect_rc 0 cw list --json
[ "$(jq -r ".requests[] | select(.id==$REQ) | .state" <<<"$OUT")" = issued ] || fail "not issued"
[ "$(jq -r '.certificates | length' <<<"$OUT")" = 1 ] || fail "certificate count"
[ "$(jq -r '.certificates[0].origin' <<<"$OUT")" = issued ] || fail "origin"
sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"

# The PIN reached no output and no store file.
grep -rl "$PIN" state out err req.pem 2>/dev/null && fail "PIN leaked"
echo "offline path $KEY: ok"
