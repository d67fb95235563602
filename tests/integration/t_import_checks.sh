#!/bin/bash
# Import compares the certificate with what was asked and checks its chain
# before it binds anything; a corrected certificate replaces the wrong one;
# a leaf-only response is completed by its issuer later; a certificate
# object deleted from the token is put back by importing it again.
source "$(dirname "$0")/lib.sh"
setup_env import-checks
setup_ca
cd "$WORK"

# request NAME: an offline request for OAuthTokenIssuer (oauth.contoso.test,
# serverAuth); sets KEY_ID.
request() {
	expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --offline \
		--out "$1.csr" --json
	KEY_ID=$(jq -r .cka_id <<<"$OUT")
}
# signx CSR OUT EXTFILE [openssl x509 options...]: the intermediate signs
# CSR with the extensions of EXTFILE (and those of the CSR it lacks).
signx() {
	local csr=$1 out=$2 ext=$3
	shift 3
	openssl x509 -req -in "$csr" -CA ca/int.pem -CAkey ca/int.key -CAcreateserial \
		-days 90 -copy_extensions copy -extfile "$ext" -out "$out" "$@" 2>/dev/null ||
		fail "signing $out"
}
sha_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
token_cert() { # the DER of the certificate object under CKA_ID $1, as hex
	pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
		--read-object --type cert --id "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n'
}
der_hex() { openssl x509 -in "$1" -outform DER | od -An -tx1 | tr -d ' \n'; }

request a
A_KEY=$KEY_ID
snapshot base

# 1. What was asked, and what a server certificate must be.
printf 'subjectAltName=DNS:oauth.contoso.test,DNS:evil.test\n' >extra-name.ext
signx a.csr extra-name.pem extra-name.ext
cat extra-name.pem ca/int.pem >extra-name.resp
refused 1 "carries the name evil.test that request 1 did not ask for" cw import extra-name.resp
expect_err "nothing is imported; if the CA meant it, import it with --accept-mismatch"
printf 'subjectAltName=DNS:other.contoso.test\n' >wrong-name.ext
signx a.csr wrong-name.pem wrong-name.ext
refused 1 "lacks the name oauth.contoso.test that request 1 asked for" cw import wrong-name.pem
printf 'extendedKeyUsage=codeSigning\n' >eku.ext
signx a.csr eku.pem eku.ext
cat eku.pem ca/int.pem >eku.resp
refused 1 "lacks the extended key usage serverAuth that request 1 asked for" cw import eku.resp
printf 'basicConstraints=critical,CA:TRUE\n' >ca.ext
signx a.csr ca.pem ca.ext
cat ca.pem ca/int.pem >ca.resp
refused 1 "is a CA certificate (basicConstraints CA:TRUE)" cw import ca.resp
: >none.ext
sign_csr_dated a.csr future.pem 10 90
cat future.pem ca/int.pem >future.resp
refused 1 "is not valid before" cw import future.resp
# A chain that does not verify to the trust anchors: another root.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout other-root.key -out other-root.pem -days 30 -subj "/CN=other root" \
	-addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl x509 -req -in a.csr -CA other-root.pem -CAkey other-root.key -CAcreateserial \
	-days 90 -copy_extensions copy -out stranger.pem 2>/dev/null
cat stranger.pem other-root.pem >stranger.resp
refused 1 "fails its chain check" cw import stranger.resp
# A response cut inside its second certificate.
sign_csr a.csr good-a.pem 90
cat good-a.pem ca/int.pem >good-a.resp
head -c $(($(stat -c %s good-a.resp) - 200)) good-a.resp >cut.resp
refused 1 "truncated" cw import cut.resp
[ "$(sqlite3 state/store.db 'select state from requests where id=1')" = awaiting-response ] ||
	fail "the request changed"

# 2. Accepted on purpose: recorded, audited and shown by status.
expect_rc 0 cw import extra-name.resp --accept-mismatch --json
WRONG_SHA=$(jq -r .sha256 <<<"$OUT")
[ "$(jq -r '.mismatch[0]' <<<"$OUT")" = "carries the name evil.test that request 1 did not ask for" ] ||
	fail "mismatch not reported: $OUT"
expect_err "accepted: --accept-mismatch"
[ "$(sqlite3 state/store.db "select mismatch from certificates where sha256='$WRONG_SHA'")" = \
	"carries the name evil.test that request 1 did not ask for" ] || fail "mismatch not stored"
sqlite3 state/store.db "select reason from audit where operation='certificate-imported'" |
	grep -q "accepted with --accept-mismatch: carries the name evil.test" ||
	fail "mismatch not audited"
expect_rc 0 cw assign "${WRONG_SHA:0:16}" --usage OAuthTokenIssuer
expect_rc 0 cw status --usage OAuthTokenIssuer --json
jq -e '.usages[0].problems[] | select(startswith("imported with --accept-mismatch: carries the name evil.test"))' \
	<<<"$OUT" >/dev/null || fail "status does not show it: $OUT"
expect_rc 1 cw check
expect_out "WARNING usage OAuthTokenIssuer: imported with --accept-mismatch"

# 3. The CA's corrected certificate for the same key takes its place on the
# token; the wrong one stays in the store, out of the token.
expect_rc 0 cw import good-a.resp --json
[ "$(jq -r .action <<<"$OUT")" = replaced ] || fail "not a replacement: $OUT"
[ "$(jq -r .replaced <<<"$OUT")" = "$WRONG_SHA" ] || fail "replaced what? $OUT"
[ "$(token_cert "$A_KEY")" = "$(der_hex good-a.pem)" ] || fail "the token holds the old certificate"
[ "$(sqlite3 state/store.db "select token_state from certificates where sha256='$WRONG_SHA'")" = none ] ||
	fail "the old certificate is not marked off the token"
[ "$(sqlite3 state/store.db "select count(*) from certificates")" = 2 ] || fail "history lost"
[ "$(sqlite3 state/store.db "select request_id from certificates where sha256='$(sha_of good-a.pem)'")" = 1 ] ||
	fail "the corrected certificate is not the request's"
audit_ops | grep -qx "certificate-replaced success" || fail "replacement not audited"
expect_rc 0 cw assign "$(sha_of good-a.pem | cut -c1-16)" --usage OAuthTokenIssuer

# 4. A leaf alone (DER, as many CAs send it): imported, chain incomplete;
# assign refuses it until the intermediate, imported alone, completes it;
# export then ships the whole chain.
request b
B_KEY=$KEY_ID
sign_csr b.csr b.pem 90
openssl x509 -in b.pem -outform DER -out b.der
expect_rc 0 cw import b.der --json
B_CERT=$(jq -r .certificate_id <<<"$OUT")
[ "$(jq -r .chain <<<"$OUT")" = incomplete ] || fail "chain state: $OUT"
expect_err "lacks an issuer"
snapshot leaf-only
expect_rc 1 cw assign "$B_CERT" --usage OAuthTokenIssuer
expect_err "is incomplete, the issuer 'CN=certwiz test intermediate'"
unchanged leaf-only
expect_rc 0 cw import ca/int.pem --json
[ "$(jq -r .action <<<"$OUT")" = chain-completed ] || fail "not completed: $OUT"
[ "$(jq -r '.completed[0].certificate_id' <<<"$OUT")" = "$B_CERT" ] || fail "completed what? $OUT"
[ "$(sqlite3 state/store.db "select chain_complete from certificates where id=$B_CERT")" = 1 ] ||
	fail "not recorded complete"
expect_rc 0 cw assign "$B_CERT" --usage OAuthTokenIssuer
mkdir -p exp
expect_rc 0 cw export --usage OAuthTokenIssuer --out exp
[ "$(grep -c 'BEGIN CERTIFICATE' exp/OAuthTokenIssuer.chain.pem)" = 2 ] ||
	fail "export lacks the intermediate"
# Issuers nobody needs: refused, nothing changed.
snapshot base
refused 1 "no stored certificate's chain needs them" cw import ca/int.pem
refused 1 "no stored certificate's chain needs them" cw import other-root.pem

# 5. A known leaf again, with its issuer: completes its chain.
request c
sign_csr c.csr c.pem 90
expect_rc 0 cw import c.pem
cat c.pem ca/int.pem >c.resp
expect_rc 0 cw import c.resp --json
[ "$(jq -r .action <<<"$OUT")" = restored ] && [ "$(jq -r .chain <<<"$OUT")" = complete ] ||
	fail "chain not completed by the leaf and its issuer: $OUT"
# ... and a third time there is nothing left to do.
snapshot base
refused 1 "is already imported" cw import c.resp

# 6. The certificate object deleted from the token outside certwiz: the
# same import puts it back.
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
	--delete-object --type cert --id "$B_KEY" >/dev/null 2>&1
[ -z "$(token_cert "$B_KEY")" ] || fail "not deleted"
expect_rc 0 cw import b.der --json
[ "$(jq -r .action <<<"$OUT")" = restored ] || fail "not restored: $OUT"
[ "$(token_cert "$B_KEY")" = "$(der_hex b.pem)" ] || fail "not back on the token"
audit_ops | grep -qx "certificate-restored success" || fail "restore not audited"
echo "import checks: ok"
