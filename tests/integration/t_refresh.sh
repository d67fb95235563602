#!/bin/bash
# refresh reconciles the store with the token by CKA_ID lookups: what was
# deleted or placed outside certwiz is reported and recorded, never
# silently dropped.
source "$(dirname "$0")/lib.sh"
setup_env refresh
setup_ca
cd "$WORK"
DB=state/store.db

expect_rc 0 cw refresh
[ "$OUT" = "store and tokens agree" ] || fail "empty refresh: $OUT"

# EXTRA_KEYS idle keys first (t_refresh_inventory.sh sets 4): with several
# keys on a SoftHSM2 token, refresh answers every lookup from one
# inventory of the token instead of a scan per key; the same checks follow.
for i in $(seq "${EXTRA_KEYS:-0}"); do
	expect_rc 0 cw request --usage OAuthTokenIssuer --offline --out extra$i.csr
done
if [ "${EXTRA_KEYS:-0}" -gt 0 ]; then
	expect_rc 0 cw -v refresh
	expect_err "one inventory"
fi

# A: imported and assigned.
expect_rc 0 cw request --usage Default --offline --out a.csr --json
A_ID=$(jq -r .cka_id <<<"$OUT")
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
expect_rc 0 cw import a.resp
expect_rc 0 cw assign 1 --usage Default
expect_rc 0 cw refresh --json
[ "$(jq '.events | length' <<<"$OUT")" = 0 ] || fail "events on a clean store: $OUT"

p11() { pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" "$@" >/dev/null 2>&1; }

# The certificate object deleted outside certwiz: flagged, assignment kept.
p11 --delete-object --type cert --id "$A_ID"
expect_rc 9 cw refresh --json
expect_err "1 problem needs attention"
[ "$(jq -r '.problems[0].kind' <<<"$OUT")" = cert-missing ] || fail "problems: $OUT"
[ "$(jq -r '.events[0].kind' <<<"$OUT")" = cert-missing ] || fail "cert-missing: $OUT"
[ "$(sqlite3 $DB 'select token_state from certificates where id=1')" = missing ] || fail "not marked"
expect_rc 0 cw status --usage Default --json
jq -e '.usages[0].problems | index("certificate missing from the token")' <<<"$OUT" >/dev/null ||
	fail "status does not flag it: $OUT"
[ "$(jq -r '.usages[0].assigned.id' <<<"$OUT")" = 1 ] || fail "assignment dropped"
# Written back: restored.
openssl x509 -in a.pem -outform DER -out a.der
p11 --write-object a.der --type cert --id "$A_ID" --label "certwiz-Default-${A_ID:0:8}"
expect_rc 0 cw refresh --json
[ "$(jq -r '.events[0].kind' <<<"$OUT")" = cert-restored ] || fail "cert-restored: $OUT"

# The key deleted outside certwiz: marked gone, flagged, not dropped.
p11 --delete-object --type privkey --id "$A_ID"
p11 --delete-object --type pubkey --id "$A_ID"
expect_rc 9 cw refresh --json
jq -e '.events[] | select(.kind=="key-missing")' <<<"$OUT" >/dev/null || fail "key-missing: $OUT"
[ "$(sqlite3 $DB "select state from keys where cka_id='$A_ID'")" = gone ] || fail "key not marked"
expect_rc 0 cw status --usage Default --json
jq -e '.usages[0].problems | index("key missing from the token")' <<<"$OUT" >/dev/null ||
	fail "status does not flag the key: $OUT"
[ "$(jq -r '.usages[0].assigned.id' <<<"$OUT")" = 1 ] || fail "assignment dropped with the key"

# B: a certificate placed on the token outside certwiz under a known key.
expect_rc 0 cw request --usage Default --offline --out b.csr --json
B_ID=$(jq -r .cka_id <<<"$OUT")
# (signed by the root itself: a certificate found on a token comes
# without its chain, and assign wants the chain to verify)
openssl x509 -req -in b.csr -CA ca/root.pem -CAkey ca/root.key -CAcreateserial \
	-copy_extensions copy -days 90 -outform DER -out b.der 2>/dev/null
p11 --write-object b.der --type cert --id "$B_ID" --label outside
# (A's key is still missing and its certificate still serves: said again)
expect_rc 9 cw refresh --json
jq -e '.problems[] | select(.kind=="key-missing") | .detail | contains("still missing")' \
	<<<"$OUT" >/dev/null || fail "standing key-missing: $OUT"
jq -e '.events[] | select(.kind=="cert-discovered") | .detail | contains("recorded")' <<<"$OUT" >/dev/null ||
	fail "cert-discovered: $OUT"
expect_rc 0 cw list --certs --json
[ "$(jq '.certificates | length' <<<"$OUT")" = 2 ] || fail "discovered certificate not recorded"
expect_rc 0 cw status --usage Default --json
[ "$(jq -r '.usages[0].available.assign' <<<"$OUT")" = true ] || fail "discovered cert not assignable"
expect_rc 0 cw assign 2 --usage Default

# An interrupted request: its key is listed; an intent without a key is
# cleared once it is old enough to belong to no running request.
CERTWIZ_CRASHPOINT=request:after-keygen expect_rc 137 cw request --usage Default --offline --out c.csr
CERTWIZ_CRASHPOINT=request:after-intent expect_rc 137 cw request --usage Default --offline --out d.csr
expect_rc 9 cw refresh --json
jq -e '.problems | length == 1' <<<"$OUT" >/dev/null || fail "problems: $OUT"
jq -e '.events[] | select(.kind=="interrupted-key")' <<<"$OUT" >/dev/null || fail "interrupted-key: $OUT"
jq -e '.events[] | select(.kind=="intent-cleared")' <<<"$OUT" >/dev/null && fail "young intent cleared"
expect_rc 9 faketime -f +11m "$CERTWIZ" --no-service --host "$HOST" --pin-file pin refresh --json
jq -e '.events[] | select(.kind=="intent-cleared")' <<<"$OUT" >/dev/null || fail "intent-cleared: $OUT"
[ "$(sqlite3 $DB "select count(*) from keys where state='generating'")" = 1 ] || fail "generating keys"

# Every object on the token belongs to a key the store lists.
for id in $(token_objects | sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' | sort -u); do
	[ "$(sqlite3 $DB "select count(*) from keys where cka_id='$id'")" = 1 ] ||
		fail "object $id untracked"
done
# A token that cannot be opened is reported, and nothing is marked.
echo wrong >wrong && chmod 600 wrong
snapshot before
expect_rc 6 "$CERTWIZ" --no-service --host "$HOST" --pin-file wrong refresh
unchanged before
sqlite3 $DB 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"
echo "refresh: ok"
