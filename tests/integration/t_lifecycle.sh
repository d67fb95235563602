#!/bin/bash
# The assignment screen as commands: status, assign (now and scheduled),
# view, export, remove, with the history kept.
source "$(dirname "$0")/lib.sh"
setup_env lifecycle
setup_ca
cd "$WORK"
DB=state/store.db

issue() { # issue NAME ARGS...: request, CA, import; sets CERT and SHA
	local name=$1
	shift
	expect_rc 0 cw request --offline --out "$name.csr" "$@"
	sign_csr "$name.csr" "$name.pem" 90
	cat "$name.pem" ca/int.pem >"$name.resp"
	expect_rc 0 cw import "$name.resp" --json
	CERT=$(jq -r .certificate_id <<<"$OUT")
	SHA=$(jq -r .sha256 <<<"$OUT")
}

# Nothing assigned: only request and assign are available.
issue a --usage Default --usage WebServicesInternal --key rsa:2048
A=$CERT A_SHA=$SHA
expect_rc 0 cw status --json
[ "$(jq -r '.host' <<<"$OUT")" = "$HOST" ] || fail "status host"
[ "$(jq '.usages | length' <<<"$OUT")" = 4 ] || fail "four usages"
[ "$(jq -c '.usages[] | select(.usage=="Default") | .available' <<<"$OUT")" = \
	'{"request":true,"assign":true,"remove":false,"view":false,"process_pending":false}' ] ||
	fail "available before assign: $OUT"
# WebServicesExternal needs other names: nothing fits it.
[ "$(jq '.usages[] | select(.usage=="WebServicesExternal") | .available.assign' <<<"$OUT")" = false ] ||
	fail "assign offered for a certificate that does not fit"
expect_rc 4 cw view --usage Default
expect_err "no certificate is assigned to usage 'Default'"
expect_rc 4 cw remove --usage Default
expect_rc 4 cw export --usage Default --out .

# One certificate, two usages, by thumbprint prefix.
expect_rc 0 cw assign "${A_SHA:0:10}" --usage Default --usage WebServicesInternal --json
[ "$(jq -r .certificate_id <<<"$OUT")" = "$A" ] || fail "assign by prefix"
expect_rc 0 cw status --usage Default --json
U=$(jq '.usages[0]' <<<"$OUT")
[ "$(jq -r .assigned.id <<<"$U")" = "$A" ] || fail "status assigned"
[ "$(jq -r .assigned.days_left <<<"$U")" -ge 89 ] || fail "days left"
[ "$(jq -c .available <<<"$U")" = \
	'{"request":true,"assign":false,"remove":true,"view":true,"process_pending":false}' ] ||
	fail "available after assign: $U"
[ "$(jq -r '.problems | length' <<<"$U")" = 0 ] || fail "problems: $U"

# View: everything a security engineer checks.
expect_rc 0 cw view --usage WebServicesInternal --json
[ "$(jq -r .sha256 <<<"$OUT")" = "$A_SHA" ] || fail "view sha256"
[ "$(jq -r .sha1 <<<"$OUT")" = "$(openssl x509 -in a.pem -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)" ] ||
	fail "view sha1"
[ "$(jq -r .key_alg <<<"$OUT")" = rsa:2048 ] || fail "view key"
[ "$(jq -r .key.origin <<<"$OUT")" = generated ] || fail "view key origin"
jq -e '.key.uri | startswith("pkcs11:") and contains("id=%") and (contains("pin") | not)' <<<"$OUT" >/dev/null ||
	fail "view key uri"
[ "$(jq -r '.chain[0]' <<<"$OUT")" = "CN=certwiz test intermediate" ] || fail "view chain"
jq -e '.names | index("meet.fabrikam.test")' <<<"$OUT" >/dev/null || fail "view names"
expect_rc 0 cw view --usage Default
grep -q "sha256       $A_SHA" <<<"$OUT" || fail "view text"
expect_rc 0 cw view --usage Default --pem
printf '%s\n' "$OUT" >view.pem
openssl verify -CAfile ca/root.pem -untrusted view.pem view.pem | grep -q OK || fail "view --pem chain"

# Export: chain and key URI for a server.
mkdir exported
expect_rc 0 cw export --usage Default --out exported --json
cmp <(openssl x509 -in exported/Default.chain.pem -outform DER) <(openssl x509 -in a.pem -outform DER) ||
	fail "exported leaf"
[ "$(grep -c BEGIN exported/Default.chain.pem)" = 2 ] || fail "exported chain"
grep -q "^pkcs11:.*id=%" exported/Default.key.uri || fail "exported URI"
grep -qi pin exported/Default.key.uri && fail "PIN in the URI file"

# A second certificate replaces the first now; the first stays in history.
issue b --usage Default
B=$CERT
expect_rc 0 cw assign "$B" --usage Default
expect_rc 1 cw assign "$B" --usage Default
expect_err "already serves usage 'Default'"
[ "$(sqlite3 $DB "select group_concat(cert_id || ':' || state, ' ') from assignments where usage='Default' order by id")" = "$A:previous $B:current" ] ||
	fail "history: $(sqlite3 $DB 'select * from assignments')"

# Rollover: A again from an hour from now; B keeps serving until then.
expect_rc 0 cw assign "$A" --usage Default --effective-at +1h --json
[ "$(jq -r .scheduled <<<"$OUT")" = true ] || fail "not scheduled"
expect_rc 0 cw status --usage Default --json
[ "$(jq -r '.usages[0].assigned.id' <<<"$OUT")" = "$B" ] || fail "B should still serve"
[ "$(jq -r '.usages[0].scheduled.certificate.id' <<<"$OUT")" = "$A" ] || fail "A scheduled"
expect_rc 0 cw view --usage Default --json
[ "$(jq -r .certificate_id <<<"$OUT")" = "$B" ] || fail "view before the time"
# Two hours later: readers see A at once, refresh records the change.
expect_rc 0 faketime -f +2h "$CERTWIZ" --no-service --host "$HOST" view --usage Default --json
[ "$(jq -r .certificate_id <<<"$OUT")" = "$A" ] || fail "view after the time"
expect_rc 0 faketime -f +2h "$CERTWIZ" --no-service --host "$HOST" --pin-file pin refresh --json
jq -e '.events[] | select(.kind=="assignment-activated")' <<<"$OUT" >/dev/null || fail "not activated: $OUT"
[ "$(sqlite3 $DB "select group_concat(cert_id || ':' || state, ' ') from assignments where usage='Default' order by id")" = "$A:previous $B:previous $A:current" ] ||
	fail "history after rollover: $(sqlite3 $DB 'select * from assignments')"

# Remove: the usage has no certificate; certificate and key stay.
expect_rc 0 cw remove --usage Default --json
[ "$(jq -r .removed_certificate_id <<<"$OUT")" = "$A" ] || fail "removed id"
expect_rc 4 cw view --usage Default
expect_rc 4 cw remove --usage Default
expect_err "no certificate is assigned"
expect_rc 0 cw view --usage WebServicesInternal
expect_rc 0 cw list --json
[ "$(jq '.certificates | length' <<<"$OUT")" = 2 ] || fail "certificates kept"
[ "$(jq '[.keys[] | select(.state=="ready")] | length' <<<"$OUT")" = 2 ] || fail "keys kept"
[ "$(token_objects | wc -l)" = 6 ] || fail "token objects kept"
sqlite3 $DB 'PRAGMA integrity_check' | grep -qx ok || fail "integrity"
echo "lifecycle: ok"
