#!/bin/bash
# An online request killed between its persisted steps (after the order is
# created, after finalize, after download before import, after the
# certificate is on the token before the store commits) is completed by
# 'pending process' on its saved order: one order, one certificate, one
# certificate object, the original key. A renewal killed at the same steps
# or before its takeover is completed by the next renew, the same way.
source "$(dirname "$0")/lib.sh"
setup_env acme-crash
source "$(dirname "$0")/pebble.sh"
setup_pebble
cd "$WORK"

N=0
for point in acme:after-order acme:after-finalize acme:before-import \
	import:after-token-write; do
	N=$((N + 1))
	CERTWIZ_CRASHPOINT=$point expect_rc 137 cw request --usage OAuthTokenIssuer \
		--key ec:P-256 --ca pebble
	state=$(sqlite3 state/store.db "select state || ' ' || (ca_ref is not null)
		from requests where id = $N")
	[ "$state" = "submitted 1" ] || fail "$point: request is '$state'"
	[ "$(pebble_orders)" = "$N" ] || fail "$point: $(pebble_orders) orders"
	expect_rc 0 cw pending process "$N" --json
	jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "$point: $OUT"
	[ "$(pebble_orders)" = "$N" ] || fail "$point: a new order was made"
	[ "$(pebble_issued)" = "$N" ] || fail "$point: pebble issued $(pebble_issued)"
	[ "$(sqlite3 state/store.db "select count(*) from certificates
		where request_id = $N")" = 1 ] || fail "$point: certificates in the store"
	key=$(sqlite3 state/store.db "select cka_id from keys k join requests r
		on r.key_id = k.id where r.id = $N")
	[ "$(token_objects | grep "$key" | grep -c 'Certificate Object')" = 1 ] ||
		fail "$point: certificate objects on the token"
	[ "$(token_objects | grep -c "$key")" = 3 ] || fail "$point: objects of the key"
done

# Killed after the key was recorded but before the request was: refresh
# lists the key for cleanup, and nothing reached the CA.
CERTWIZ_CRASHPOINT=request:before-commit expect_rc 137 cw request \
	--usage OAuthTokenIssuer --key ec:P-256 --ca pebble
[ "$(pebble_orders)" = "$N" ] || fail "an order for an unrecorded request"
expect_rc 9 cw refresh --json
jq -e '[.events[] | select(.kind == "interrupted-key")] | length == 1' \
	<<<"$OUT" >/dev/null || fail "interrupted key not listed: $OUT"

# A renewal killed at each of those steps, and after the import before
# the takeover: the next renew completes it on the same order, or takes
# the imported certificate over: exactly one new certificate, one order.
jq '.usages.OAuthTokenIssuer.ca = "pebble" | .usages.OAuthTokenIssuer.key = "ec:P-256"' \
	topology.json >t.json && cat t.json >topology.json
expect_rc 0 cw assign "$N" --usage OAuthTokenIssuer
serving() { cw status --usage OAuthTokenIssuer --json | jq -r '.usages[0].assigned.id'; }
certs() { sqlite3 state/store.db 'select count(*) from certificates'; }
R=0
for point in acme:after-order acme:after-finalize acme:before-import \
	import:after-token-write renew:before-takeover; do
	R=$((R + 1))
	was=$(serving) c=$(certs) o=$(pebble_orders)
	CERTWIZ_CRASHPOINT=$point expect_rc 137 cw renew --usage OAuthTokenIssuer --force
	expect_rc 0 cw renew --usage OAuthTokenIssuer --force --json
	jq -e '.usages[0].action | IN("resumed", "renewed")' <<<"$OUT" >/dev/null ||
		fail "renewal after $point: $OUT"
	[ "$(certs)" = $((c + 1)) ] || fail "renewal after $point: $(($(certs) - c)) new certificates"
	[ "$(pebble_orders)" = $((o + 1)) ] || fail "renewal after $point: $(($(pebble_orders) - o)) orders"
	now=$(serving)
	[ "$now" != "$was" ] && [ "$now" = "$(jq -r '.usages[0].new_certificate_id' <<<"$OUT")" ] ||
		fail "renewal after $point: serving $now (was $was): $OUT"
done

sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail integrity
expect_rc 0 cw audit verify
echo "acme crash: $N crash points, each completed on its order; $R for a renewal"
