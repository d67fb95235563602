#!/bin/bash
# certmonger's CA-helper protocol: certmonger's own local-submit (from the
# Debian package) issues a certificate that certwiz imports and binds; a
# helper that holds the request drives the whole pending path (cookie,
# delay, approval, rejection, cancel); a helper that hangs, prints
# garbage or a certificate for another key, floods its output or exits
# 3/4/6/16/17: each a clear outcome, nothing bound. Helpers run without
# the service's environment.
source "$(dirname "$0")/lib.sh"
setup_env ca-helper
setup_ca
cd "$WORK"
[ -x /usr/lib/certmonger/local-submit ] || exit 77

# certmonger's local CA, in a folder of the service's user
install -d -o "$SVC_USER" -m 700 localca
su -s /bin/sh "$SVC_USER" -c "CERTMONGER_OPERATION=FETCH-ROOTS /usr/lib/certmonger/local-submit -d $WORK/localca" >fetch.out ||
	fail "local-submit FETCH-ROOTS"
openssl x509 -in fetch.out -out localca-root.pem || fail "no local root"
# the test helper's folder: the test CA's intermediate signs
HD=$WORK/helper
install -d -o "$SVC_USER" -m 700 "$HD"
cat ca/int.pem >"$HD/ca.pem"
cat ca/int.key >"$HD/ca.key"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$HD/other.key" -out "$HD/other.csr" -subj /CN=other \
	-addext subjectAltName=DNS:fe01.contoso.test 2>/dev/null
openssl x509 -req -in "$HD/other.csr" -CA ca/int.pem -CAkey ca/int.key \
	-CAcreateserial -copy_extensions copy -days 30 -out "$HD/other.pem" 2>/dev/null
chown -R "$SVC_USER" "$HD"
H=$SRCDIR/tests/mock/ca_helper.sh
{
	printf '[ca "local"]\nprotocol = helper\ncommand = /usr/lib/certmonger/local-submit -d %s\nroots = localca-root.pem\n' "$WORK/localca"
	printf '[ca "officer"]\nprotocol = helper\ncommand = %s hold %s\ntemplate = WebServer\n' "$H" "$HD"
	for m in hang garbage otherkey flood exit-3 exit-4 exit-6 exit-16 exit-17; do
		printf '[ca "%s"]\nprotocol = helper\ncommand = %s %s %s\ntimeout = 2\n' "$m" "$H" "$m" "$HD"
	done
} >>certwiz.conf
cat ca/root.pem localca-root.pem >anchors.pem
sed -i 's|^anchors = ca/root.pem$|anchors = anchors.pem|' certwiz.conf

certs() { sqlite3 state/store.db "select count(*) from certificates"; }
last() { sqlite3 state/store.db "select max(id) from requests"; }
state() { sqlite3 state/store.db "select state from requests where id = $1"; }

# 1. local-submit issues at once: imported, bound, assignable.
expect_rc 0 cw request --usage WebServicesInternal --ca local --assign --json
jq -e '.state == "issued" and .assigned == ["WebServicesInternal"]' <<<"$OUT" \
	>/dev/null || fail "local-submit: $OUT"
expect_rc 0 cw view --usage WebServicesInternal --pem
printf '%s\n' "$OUT" >local.pem
openssl verify -CAfile localca-root.pem local.pem >/dev/null || fail "local cert"

# 2. Held by the officer: cookie, delay, approval.
expect_rc 3 cw request --usage OAuthTokenIssuer --ca officer --wait 0 --json
R=$(jq -r .request_id <<<"$OUT")
COOKIE=$(jq -r .reference <<<"$OUT")
[[ $COOKIE == req-* ]] || fail "no cookie: $OUT"
expect_rc 3 cw pending process "$R" --json
jq -e '.[0].reference == "'"$COOKIE"'"' <<<"$OUT" >/dev/null || fail "poll: $OUT"
grep -q "^POLL $COOKIE WebServer 0$" "$HD/calls" ||
	fail "the helper did not get the cookie and template, or got the service's environment: $(cat "$HD/calls")"
[ "$(cat "$HD/fds")" = "0 1 2 255 " ] ||
	fail "the helper got descriptors of the service's: $(cat "$HD/fds")"
echo approve >"$HD/decision"
expect_rc 0 cw pending process "$R" --json
jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "approved: $OUT"
[ "$(wc -l <"$HD/issued")" = 1 ] || fail "issued twice"

# Rejected by the officer: exit 7 with the words.
expect_rc 3 cw request --usage Default --ca officer --wait 0
R=$(last)
echo "reject not for this host" >"$HD/decision"
expect_rc 7 cw pending process "$R"
expect_err "not for this host"
[ "$(state "$R")" = rejected ] || fail "not rejected"

# Cancelled: the cookie dropped, the key destroyed.
expect_rc 3 cw request --usage WebServicesExternal --ca officer --wait 0
R=$(last)
key=$(sqlite3 state/store.db "select k.cka_id from keys k join requests r on r.key_id = k.id where r.id = $R")
expect_rc 0 cw pending cancel "$R" --json
jq -e '.key_destroyed' <<<"$OUT" >/dev/null || fail "cancel: $OUT"
[ "$(token_objects | grep -c "$key")" = 0 ] || fail "cancelled key on the token"

# 3. Helpers that misbehave: a clear outcome each, nothing bound, no
# request left half-done.
check_bad() {
	local ca=$1 rc=$2 text=$3 st=$4
	local before
	before=$(certs)
	expect_rc "$rc" cw request --usage WebServicesExternal --ca "$ca" --wait 0
	expect_err "$text"
	[ "$(certs)" = "$before" ] || fail "$ca: a certificate was bound"
	[ "$(state "$(last)")" = "$st" ] || fail "$ca: request is $(state "$(last)"), not $st"
}
start=$(date +%s)
check_bad hang 8 "did not finish within 2 seconds" created
[ $(($(date +%s) - start)) -lt 30 ] || fail "the hanging helper was not stopped in time"
pgrep -f "ca_helper.sh hang" >/dev/null && fail "the hanging helper is still running"
check_bad garbage 1 "printed no certificate" created
check_bad otherkey 1 "another key" failed
check_bad flood 1 "more than 256 KiB" created
check_bad exit-3 8 "helper says 3" created
check_bad exit-4 1 "not configured: helper says 4" created
check_bad exit-6 1 "does not support SUBMIT" created
check_bad exit-16 1 "needs SCEP data" created
check_bad exit-17 7 "wants a new key" rejected

# A helper others may change would run as the service's user, which
# holds the PINs: the configuration is refused.
cp "$H" loose-helper.sh
chmod 0777 loose-helper.sh
cp certwiz.conf good.conf
printf '[ca "loose"]\nprotocol = helper\ncommand = %s hold %s\n' "$WORK/loose-helper.sh" "$HD" >>certwiz.conf
before=$(sqlite3 state/store.db "select count(*) from requests")
expect_rc 1 cw request --usage Default --ca loose --wait 0
expect_err "CA helper '$WORK/loose-helper.sh'"
[ "$(sqlite3 state/store.db "select count(*) from requests")" = "$before" ] ||
	fail "a request was made with a loose helper"
cp good.conf certwiz.conf

cw audit verify >/dev/null || fail "audit verify"
canary_check || fail "canary"
echo "PASS"
