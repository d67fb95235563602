#!/bin/bash
# Certificates made outside the wizard: one whose key is already on the
# token (generated there by another tool), and PKCS#12 with its key.
source "$(dirname "$0")/lib.sh"
setup_env import-outside
setup_ca
cd "$WORK"
p11() { pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" "$@" 2>/dev/null; }

# A CSR with Default's names from a throwaway key; the CA puts the
# token key's public key into the certificate (-force_pubkey).
default_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.throwaway" -out "$1.csr" -subj "/O=Contoso/CN=pool01.contoso.test" \
		-addext "subjectAltName=DNS:pool01.contoso.test,DNS:fe01.contoso.test,DNS:sip.contoso.test,DNS:sip.fabrikam.test,DNS:lyncdiscoverinternal.contoso.test,DNS:lyncdiscoverinternal.fabrikam.test" \
		-addext "extendedKeyUsage=serverAuth,clientAuth" 2>/dev/null
}

# 1. A key pair made by pkcs11-tool; its certificate imported and assigned.
p11 --keypairgen --key-type EC:prime256v1 --id 0a0b0c0d --label by-hand >/dev/null
p11 --read-object --type pubkey --id 0a0b0c0d -o hand.pub.der >/dev/null
openssl pkey -pubin -inform DER -in hand.pub.der -out hand.pub.pem
default_csr hand
openssl x509 -req -in hand.csr -force_pubkey hand.pub.pem -CA ca/int.pem \
	-CAkey ca/int.key -CAcreateserial -copy_extensions copy -days 90 -out hand.pem 2>/dev/null
cat hand.pem ca/int.pem >hand.resp
expect_rc 0 cw import hand.resp --usage Default --json
[ "$(jq -r .cka_id <<<"$OUT")" = 0a0b0c0d ] || fail "not bound to the token key: $OUT"
[ "$(jq -r .key_recorded <<<"$OUT")" = true ] || fail "key not recorded"
[ "$(jq -r '.assigned[0]' <<<"$OUT")" = Default ] || fail "not assigned"
[ "$(token_objects | grep -c 'ID: *0a0b0c0d')" = 3 ] || fail "three objects under 0a0b0c0d"
expect_rc 0 cw view --usage Default --json
[ "$(jq -r .key.cka_id <<<"$OUT")" = 0a0b0c0d ] || fail "view key"

# 2. PKCS#12: refused unless the configuration allows key import.
openssl req -new -newkey rsa:2048 -nodes -keyout soft.key -out soft.csr \
	-subj "/O=Contoso/CN=oauth.contoso.test" -addext "subjectAltName=DNS:oauth.contoso.test" \
	-addext "extendedKeyUsage=serverAuth" 2>/dev/null
sign_csr soft.csr soft.pem 90
(umask 077 && echo "CANARY-P12-PASSWORD" >p12.pw)
openssl pkcs12 -export -inkey soft.key -in soft.pem -certfile ca/int.pem \
	-passout file:p12.pw -out soft.p12
openssl pkcs12 -export -nokeys -in soft.pem -passout file:p12.pw -out nokey.p12
snapshot base
refused 1 "importing keys is not allowed" cw import soft.p12 --password-file p12.pw
printf '[policy]\nallow_key_import = true\n' >>certwiz.conf
(umask 077 && echo wrong >wrong.pw)
refused 1 "wrong password" cw import soft.p12 --password-file wrong.pw
refused 1 "holds no private key" cw import nokey.p12 --password-file p12.pw
cp p12.pw loose.pw && chmod 644 loose.pw
refused 1 "readable by group or others" cw import soft.p12 --password-file loose.pw
refused 2 "no terminal" cw import soft.p12 </dev/null
# --usage that the certificate cannot serve: nothing is imported.
refused 1 "cannot serve usage 'Default'" cw import soft.p12 --password-file p12.pw --usage Default

expect_rc 0 cw import soft.p12 --password-file p12.pw --usage OAuthTokenIssuer --json
[ "$(jq -r .key_origin <<<"$OUT")" = imported ] || fail "origin: $OUT"
[ "$(jq -r .chain_length <<<"$OUT")" = 1 ] || fail "chain from PKCS#12"
ID=$(jq -r .cka_id <<<"$OUT")
OBJ=$(p11 --list-objects --type privkey --id "$ID")
grep -q "Access:     sensitive" <<<"$OBJ" || fail "imported key not sensitive: $OBJ"
grep -q "extractable" <<<"$(grep Access <<<"$OBJ" | sed 's/never extractable//')" &&
	fail "imported key extractable: $OBJ"
grep -q "Usage:      sign$" <<<"$OBJ" || fail "imported key usage: $OBJ"
[ "$(token_objects | grep -c "ID: *$ID")" = 3 ] || fail "three objects for the imported key"
expect_rc 0 cw view --usage OAuthTokenIssuer --json
[ "$(jq -r .key.origin <<<"$OUT")" = imported ] || fail "view does not say imported"
expect_rc 0 cw status --usage OAuthTokenIssuer --json
jq -e '.usages[0].problems[] | select(contains("imported"))' <<<"$OUT" >/dev/null ||
	fail "status does not say imported: $OUT"
# The same file again: the key is already known.
snapshot base
refused 1 "already imported" cw import soft.p12 --password-file p12.pw
# Secrets reached no output and no store file.
grep -rl -e CANARY-P12-PASSWORD -e "$PIN" state out err 2>/dev/null && fail "secret leaked"
echo "import outside: ok"
