#!/bin/bash
# A CA that cannot be reached: exit 8 with the request kept as it stood
# (and its key), again while the CA stays down; once pebble is back (it
# forgot the account, its roots are new) 'pending process' registers again
# and completes the request. A CA whose TLS certificate does not verify,
# a directory that is not https, and a CA that rejects every nonce are
# refused clearly, with nothing lost.
source "$(dirname "$0")/lib.sh"
setup_env acme-unreachable
source "$(dirname "$0")/pebble.sh"
setup_pebble
cd "$WORK"

expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble
stop_pebble

expect_rc 8 cw request --usage WebServicesInternal --key ec:P-256 --ca pebble --json
expect_err "127.0.0.1:$ACME_PORT"
jq -e '.request_id == 2 and .state == "created" and .order == null and
	.next_attempt != null' <<<"$OUT" >/dev/null || fail "not kept: $OUT"
KEY=$(jq -r .cka_id <<<"$OUT")
[ "$(sqlite3 state/store.db "select state from keys where cka_id = '$KEY'")" = ready ] ||
	fail "the request's key is not kept"
expect_rc 8 cw pending process --wait 1
expect_rc 0 cw pending list --json
jq -e '.[0].id == 2 and .[0].attempts == 2 and
	(.[0].problem | test("Couldn.t connect|Connection refused|connect"))' \
	<<<"$OUT" >/dev/null || fail "pending list after two failures: $OUT"
audit_ops | grep -q "^ca-unreachable failure" || fail "not audited"

cp pebble-roots.pem old-roots.pem
start_pebble
# pebble's roots are new: with the old ones configured the chain does not
# verify; the request stays open with the reason, nothing is imported.
cp pebble-roots.pem new-roots.pem
cp old-roots.pem pebble-roots.pem
expect_rc 1 cw pending process
expect_err "does not know the account any more"
expect_err "chain does not verify"
[ "$(sqlite3 state/store.db "select state from requests where id = 2")" = submitted ] ||
	fail "stale roots closed the request"
sqlite3 state/store.db "select problem from requests where id = 2" |
	grep -q "fix the roots" || fail "the reason is not kept"
[ "$(sqlite3 state/store.db "select count(*) from certificates
	where request_id = 2")" = 0 ] || fail "imported despite the chain"
cp new-roots.pem pebble-roots.pem
expect_rc 0 cw pending process --json
jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "not completed: $OUT"
[ "$(sqlite3 state/store.db "select k.cka_id from certificates c join keys k
	on k.id = c.key_id where c.request_id = 2")" = "$KEY" ] ||
	fail "issued for another key"
[ "$(pebble_orders)" = 2 ] || fail "orders: $(pebble_orders)"

# A TLS certificate that does not verify with the profile's trust bundle.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout other.key -out other-root.pem -days 2 -subj /CN=other 2>/dev/null
# the [ca "pebble"] section of a configuration file, alone
pebble_section() { awk '/^\[/ { p = ($0 == "[ca \"pebble\"]") } p' "$1"; }
pebble_section certwiz.conf |
	sed 's/^\[ca "pebble"\]/[ca "wrongtrust"]/; s/^trust = .*/trust = other-root.pem/' \
	>>certwiz.conf
expect_rc 1 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca wrongtrust
expect_err "cannot verify the TLS certificate"
[ "$(sqlite3 state/store.db "select state from requests where id = 3")" = created ] ||
	fail "the request was not kept"
[ "$(pebble_orders)" = 2 ] || fail "an order went through an unverified connection"

# A directory that is not https is refused when the file is read.
cp certwiz.conf good.conf
sed -i 's|^directory = https://|directory = http://|' certwiz.conf
snapshot plain
expect_rc 1 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble
expect_err "directory must be the https URL"
unchanged plain
cp good.conf certwiz.conf

# A CA that answers 503 with Retry-After (delta-seconds, HTTP-date, and a
# value beyond the one-day cap): the next attempt is what it said. The
# stub is openssl s_server, which sends a file holding a whole answer.
STUB_PORT=$(free_port)
mkdir -p servers/stub
answer() { # answer RETRY-AFTER-VALUE
	printf 'HTTP/1.0 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Type: application/problem+json\r\n\r\n{"type":"urn:ietf:params:acme:error:serverInternal","detail":"down for maintenance"}' \
		"$1" >servers/stub/dir
}
answer 120
(cd servers/stub && exec openssl s_server -HTTP -accept "127.0.0.1:$STUB_PORT" \
	-cert "$PB/tls.pem" -key "$PB/tls.key" -quiet </dev/null >/dev/null 2>&1) &
BG_PIDS="$BG_PIDS $!"
wait_for bash -c "(exec 3<>/dev/tcp/127.0.0.1/$STUB_PORT)" || fail "stub"
pebble_section good.conf |
	sed "s/^\[ca \"pebble\"\]/[ca \"stub\"]/; s|^directory = .*|directory = https://127.0.0.1:$STUB_PORT/dir|" \
	>>certwiz.conf
next_in() { # seconds from now to request N's next attempt
	echo $(($(sqlite3 state/store.db "select next_attempt from requests
		where id = $1") - $(date +%s)))
}
expect_rc 8 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca stub
expect_err "down for maintenance"
STUB_REQ=$(sqlite3 state/store.db "select max(id) from requests")
d=$(next_in "$STUB_REQ")
[ "$d" -ge 115 ] && [ "$d" -le 120 ] || fail "Retry-After 120 gave $d s"
answer "$(date -u -d '+2 hours' '+%a, %d %b %Y %H:%M:%S GMT')"
expect_rc 8 cw pending process "$STUB_REQ" --wait 1
d=$(next_in "$STUB_REQ")
[ "$d" -ge 7190 ] && [ "$d" -le 7200 ] || fail "HTTP-date Retry-After gave $d s"
answer 99999999
expect_rc 8 cw pending process "$STUB_REQ" --wait 1
d=$(next_in "$STUB_REQ")
[ "$d" -ge 86390 ] && [ "$d" -le 86400 ] || fail "Retry-After not capped: $d s"

# Every nonce rejected: a bounded failure (exit 8), quickly.
stop_pebble
PEBBLE_WFE_NONCEREJECT=100 start_pebble
start=$(date +%s)
expect_rc 8 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble
expect_err "refused 6 fresh nonces"
[ $(($(date +%s) - start)) -lt 10 ] || fail "badNonce retries took too long"
sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail integrity
expect_rc 0 cw audit verify
echo "acme unreachable: ok"
