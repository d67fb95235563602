#!/bin/bash
# Process pending request: an authorization that cannot be validated yet
# (the http-01 port is taken, so certwiz cannot answer the challenge)
# leaves the request pending with its order; 'pending process' and, once
# the next attempt time has come, 'refresh' complete it on the same order
# with the original key: one order and one certificate per request.
source "$(dirname "$0")/lib.sh"
setup_env acme-pending
source "$(dirname "$0")/pebble.sh"
setup_pebble
cd "$WORK"

# Greyed out while nothing is pending.
expect_rc 4 cw pending process
expect_err "no pending request"
expect_rc 0 cw pending list --json
[ "$OUT" = "[]" ] || fail "pending list not empty: $OUT"

# Something else holds the http-01 port.
openssl s_server -accept "127.0.0.1:$HTTP01_PORT" -cert "$PB/tls.pem" \
	-key "$PB/tls.key" -quiet </dev/null >/dev/null 2>&1 &
BLOCKER=$!
BG_PIDS="$BG_PIDS $BLOCKER"
wait_for bash -c "(exec 3<>/dev/tcp/127.0.0.1/$HTTP01_PORT)" || fail "no blocker"

for usage in OAuthTokenIssuer WebServicesInternal; do
	expect_rc 3 cw request --usage $usage --key ec:P-256 --ca pebble \
		--wait 1 --json
	jq -e '.state == "pending" and (.order | startswith("https://")) and
		(.problem | test("cannot publish the http-01 response")) and
		.next_attempt != null' <<<"$OUT" >/dev/null ||
		fail "not pending as expected: $OUT"
	echo "$OUT" >"pending-$usage.json"
done
KEY_A=$(jq -r .cka_id pending-OAuthTokenIssuer.json)
KEY_B=$(jq -r .cka_id pending-WebServicesInternal.json)
ORDER_A=$(jq -r .order pending-OAuthTokenIssuer.json)

expect_rc 0 cw pending list --json
jq -e 'length == 2 and .[0].id == 1 and .[0].state == "pending" and
	.[0].order != null and (.[0].problem | length) > 0' <<<"$OUT" >/dev/null ||
	fail "pending list: $OUT"
expect_rc 0 cw status --usage OAuthTokenIssuer --json
jq -e '.usages[0].available.process_pending and
	(.usages[0].pending_requests | length) == 1' <<<"$OUT" >/dev/null ||
	fail "status does not offer process-pending: $OUT"

# Still blocked: still pending, no new order.
expect_rc 3 cw pending process 1 --wait 1
[ "$(pebble_orders)" = 2 ] || fail "a retry created an order"

kill "$BLOCKER"
wait "$BLOCKER" 2>/dev/null || true
wait_for bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$HTTP01_PORT)" || fail "port still taken"

# Request 1 as a store of schema 13 holds it (before ACME saved its order
# as the state to resume from): the upgrade carries the order over.
sqlite3 state/store.db "update requests set ca_state = null where id = 1;
	pragma user_version = 13"

# Request 1 by 'pending process': issued on its order, with its key.
expect_rc 0 cw pending process 1 --json
jq -e '.[0].state == "issued" and .[0].order == "'"$ORDER_A"'" and
	.[0].certificate_id == 1' <<<"$OUT" >/dev/null || fail "process: $OUT"
[ "$(sqlite3 state/store.db "select k.cka_id from certificates c join keys k
	on k.id = c.key_id where c.request_id = 1")" = "$KEY_A" ] ||
	fail "request 1 was issued for another key"
[ "$(sqlite3 state/store.db "pragma user_version")" -gt 13 ] ||
	fail "the store was not upgraded"

# Request 2 is not due yet: refresh leaves it; when its time has come,
# refresh takes it up.
expect_rc 0 cw refresh --json
jq -e '[.events[] | select(.kind | startswith("request-"))] | length == 0' \
	<<<"$OUT" >/dev/null || fail "refresh took up a request before its time: $OUT"
expect_rc 0 faketime -f +2h "$CERTWIZ" --no-service --host "$HOST" --pin-file pin refresh --json
jq -e '[.events[] | select(.kind == "request-issued")] | length == 1' \
	<<<"$OUT" >/dev/null || fail "refresh did not complete request 2: $OUT"
[ "$(sqlite3 state/store.db "select k.cka_id from certificates c join keys k
	on k.id = c.key_id where c.request_id = 2")" = "$KEY_B" ] ||
	fail "request 2 was issued for another key"

# One order and one certificate per request; no key beyond the two
# requests' and the account's.
[ "$(pebble_orders)" = 2 ] || fail "pebble saw $(pebble_orders) orders"
[ "$(pebble_issued)" = 2 ] || fail "pebble issued $(pebble_issued)"
[ "$(sqlite3 state/store.db "select count(*) from keys")" = 2 ] ||
	fail "extra keys were made"
[ "$(token_objects | grep -c 'Private Key')" = 3 ] || fail "extra keys on the token"
expect_rc 4 cw pending process
expect_rc 0 cw audit verify
audit_ops | grep -q "^request-pending success" || fail "no request-pending event"
echo "acme pending: ok"
