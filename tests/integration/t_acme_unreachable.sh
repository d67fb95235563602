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

start_pebble
expect_rc 0 cw pending process --json
jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "not completed: $OUT"
expect_err "does not know the account any more"
[ "$(sqlite3 state/store.db "select k.cka_id from certificates c join keys k
	on k.id = c.key_id where c.request_id = 2")" = "$KEY" ] ||
	fail "issued for another key"
[ "$(pebble_orders)" = 2 ] || fail "orders: $(pebble_orders)"

# A TLS certificate that does not verify with the profile's trust bundle.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout other.key -out other-root.pem -days 2 -subj /CN=other 2>/dev/null
sed -n '/^\[ca "pebble"\]/,$p' certwiz.conf |
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
