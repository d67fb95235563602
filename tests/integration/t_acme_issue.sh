#!/bin/bash
# Online requests through ACME against a real pebble, with its default 5%
# rejection of good nonces left on: EC and RSA keys on the token, the
# challenges answered by the built-in http-01 responder (pebble really
# connects to it), the chain checked and imported, --assign. Enough
# issuances run that badNonce retries happen.
source "$(dirname "$0")/lib.sh"
setup_env acme-issue
source "$(dirname "$0")/pebble.sh"
setup_pebble
cd "$WORK"

# EC P-256, assigned at once.
expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble \
	--assign --json
jq -e '.state == "issued" and .assigned == ["OAuthTokenIssuer"] and
	.key_alg == "ec:P-256" and .certificate_id == 1' <<<"$OUT" >/dev/null ||
	fail "EC issuance: $OUT"
RETRIES=$(jq .nonce_retries <<<"$OUT")
EC_ID=$(jq -r .cka_id <<<"$OUT")

# The certificate serves the usage, its chain verifies to pebble's root
# with openssl, and its key is the token's.
expect_rc 0 cw view --usage OAuthTokenIssuer --pem
printf '%s\n' "$OUT" >ec-chain.pem
openssl x509 -in ec-chain.pem -noout -issuer | grep -q Pebble ||
	fail "not issued by pebble"
awk 'n>0{print} /END CERT/{n++}' ec-chain.pem >ec-issuers.pem
openssl verify -CAfile pebble-roots.pem -untrusted ec-issuers.pem ec-chain.pem |
	grep -q ': OK' || fail "chain does not verify to pebble's root"
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login \
	--pin "$PIN" --read-object --type pubkey --id "$EC_ID" -o ec-pub.der 2>/dev/null
openssl x509 -in ec-chain.pem -pubkey -noout | openssl pkey -pubin -outform DER \
	-out cert-pub.der
cmp -s ec-pub.der cert-pub.der || fail "the certificate's key is not the token key"
# Key pair and certificate share one ID; the key never left the token.
[ "$(token_objects | grep -c "$EC_ID")" = 3 ] || {
	token_objects
	fail "key pair and certificate do not share one ID"
}
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
	--list-objects --type privkey --id "$EC_ID" 2>/dev/null >ec-priv.txt
grep -q "never extractable" ec-priv.txt && grep -q "Usage: *sign$" ec-priv.txt ||
	fail "key attributes: $(cat ec-priv.txt)"

# The account key: its own ID and label on the token, sign only, recorded,
# and reused (pebble saw one account).
ACCOUNT_ID=$(sqlite3 state/store.db "select cka_id from acme_accounts")
[ -n "$ACCOUNT_ID" ] && [ "$ACCOUNT_ID" != "$EC_ID" ] || fail "account key id"
token_objects | grep "$ACCOUNT_ID" | grep -q "certwiz-acme-pebble" ||
	fail "account key not on the token"

# RSA (the topology's key for Default), several names.
expect_rc 0 cw request --usage Default --ca pebble --assign --json
jq -e '.state == "issued" and .key_alg == "rsa:2048" and
	(.names | length) == 6' <<<"$OUT" >/dev/null || fail "RSA issuance: $OUT"
RETRIES=$((RETRIES + $(jq .nonce_retries <<<"$OUT")))
expect_rc 0 cw status --usage Default --json
jq -e '.usages[0].assigned != null and (.usages[0].problems | length) == 0' <<<"$OUT" >/dev/null ||
	fail "status after issuance: $OUT"

# More issuances (about 300 signed requests in all): at 5% rejection the
# chance that none is retried is below one in a million.
for i in $(seq 8); do
	expect_rc 0 cw request --usage WebServicesInternal --key ec:P-256 \
		--ca pebble --json
	jq -e '.state == "issued"' <<<"$OUT" >/dev/null || fail "issuance $i: $OUT"
	RETRIES=$((RETRIES + $(jq .nonce_retries <<<"$OUT")))
done
[ "$RETRIES" -gt 0 ] || fail "no badNonce was retried in 10 issuances"
# (a badNonce retry repeats a POST, so count accounts, not requests)
[ "$(grep -o 'There are now [0-9]* accounts' "$PB/pebble.log" | sort -u)" = \
	"There are now 1 accounts" ] || fail "more than one account was registered"
[ "$(pebble_issued)" = 10 ] || fail "pebble issued $(pebble_issued), not 10"
[ "$(sqlite3 state/store.db "select count(*) from certificates
	where request_id is not null")" = 10 ] || fail "store lacks certificates"
[ "$(sqlite3 state/store.db "select count(*) from requests
	where state='issued' and protocol='acme'")" = 10 ] || fail "request states"

# A profile whose account key is P-384 (ES384).
sed -n '/^\[ca "pebble"\]/,$p' certwiz.conf |
	sed 's/^\[ca "pebble"\]/[ca "pebble384"]/' >>certwiz.conf
echo "account_key = ec:P-384" >>certwiz.conf
expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble384 --json
jq -e '.state == "issued"' <<<"$OUT" >/dev/null || fail "ES384 account: $OUT"
ID384=$(sqlite3 state/store.db "select cka_id from acme_accounts where ca = 'pebble384'")
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
	--list-objects --type pubkey --id "$ID384" 2>/dev/null | grep -q "EC_POINT 384 bits" ||
	fail "the P-384 account key is not on the token"

# The trail: each request created, submitted, issued; verified.
for op in request-created request-submitted request-issued \
	acme-account-key-generated acme-account-registered; do
	audit_ops | grep -q "^$op success" || fail "no $op event"
done
expect_rc 0 cw audit verify
sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail integrity
echo "acme issue: 10 issued, $RETRIES badNonce retries"
