#!/bin/bash
# Every bad response gets a clear error and changes nothing: no certificate
# object on the token, no row in the store, the request still awaiting.
source "$(dirname "$0")/lib.sh"
setup_env import-refusals
setup_ca
cd "$WORK"

expect_rc 0 cw request --usage Default --offline --out req.pem --json
ID=$(jq -r .cka_id <<<"$OUT")
sign_csr req.pem leaf.pem 90
snapshot base

echo "hello, not a certificate" >garbage.txt
refused 1 "neither a certificate nor PKCS#7" cw import garbage.txt
openssl x509 -in leaf.pem -outform DER | head -c 300 >truncated.der
refused 1 "neither a certificate nor PKCS#7" cw import truncated.der
openssl crl2pkcs7 -nocrl -out empty.p7b
refused 1 "contains no certificate" cw import empty.p7b
refused 1 "certificate request, not a CA response" cw import req.pem
: >empty.pem
refused 1 "empty" cw import empty.pem
refused 1 "cannot open" cw import does-not-exist.pem
head -c 2000000 /dev/zero >huge.bin
refused 1 "larger than" cw import huge.bin
# Two unrelated leaves in one file.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout other.key -out other.pem -days 30 -subj /CN=other \
	-addext basicConstraints=critical,CA:FALSE 2>/dev/null
cat leaf.pem other.pem >two-leaves.pem
refused 1 "several end-entity" cw import two-leaves.pem
# A certificate whose key certwiz never generated.
refused 1 "no key on token 'web-hsm' or in the store matches" cw import other.pem
# Usage errors.
refused 2 "usage:" cw import
refused 2 "usage:" cw import a b

# The token write happens, then the store refuses: the object goes again.
CERTWIZ_FAILPOINT=import:commit refused 1 "failing at 'import:commit'" cw import leaf.pem

# The right response goes in once; the second time it is refused.
expect_rc 0 cw import leaf.pem
snapshot imported
expect_rc 1 cw import leaf.pem
expect_err "already imported"
unchanged imported

# A key deleted from the token outside certwiz: its certificate is refused.
expect_rc 0 cw request --usage Default --offline --out req2.pem --json
ID2=$(jq -r .cka_id <<<"$OUT")
sign_csr req2.pem leaf2.pem 90
for t in privkey pubkey; do
	pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login \
		--pin "$PIN" --delete-object --type "$t" --id "$ID2" >/dev/null 2>&1
done
snapshot gone
expect_rc 1 cw import leaf2.pem
expect_err "is not on token"
unchanged gone

# An expired certificate is refused; with --accept-mismatch it is imported,
# and flagged.
expect_rc 0 cw request --usage Default --offline --out req3.pem
sign_csr_dated req3.pem expired.pem -400 30
snapshot before-expired
expect_rc 1 cw import expired.pem
expect_err "expired on"
unchanged before-expired
expect_rc 0 cw import expired.pem --json --accept-mismatch
expect_err "has expired"
[ "$(jq -r .expired <<<"$OUT")" = true ] || fail "expired not flagged"
expect_rc 0 cw list --certs --json
[ "$(jq '[.certificates[] | select(.expired)] | length' <<<"$OUT")" = 1 ] || fail "list expired"
echo "import refusals: ok"
