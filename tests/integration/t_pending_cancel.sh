#!/bin/bash
# pending cancel: an open request, offline or online (its CA unreachable),
# is closed and its key pair destroyed on the token; audited; its response
# can no longer be imported. Bad input (not an open request, no such
# request, not a number, a caller outside the admin group) changes
# nothing.
source "$(dirname "$0")/lib.sh"
setup_env pending-cancel
setup_ca
cd "$WORK"
DOWN=$(free_port)
cat >>certwiz.conf <<CONF
[ca "down"]
protocol = acme
directory = https://127.0.0.1:$DOWN/dir
CONF
keys() { token_objects | grep -c "Private Key Object" || true; }
# on_token REQUEST: whether the request's key is on the token
on_token() {
	local id
	id=$(sqlite3 state/store.db "select k.cka_id from keys k join requests r on r.key_id = k.id where r.id = $1")
	token_objects | grep -qi "ID: *$id"
}
state() { sqlite3 state/store.db "select state || ' ' || coalesce(problem, '') from requests where id = $1"; }

# Offline: the CSR was written, the CA has it; the operator clears it.
expect_rc 0 cw request --usage Default --offline --out a.csr --key ec:P-256 --json
A=$(jq -r .request_id <<<"$OUT")
sign_csr a.csr a.pem 90
[ "$(keys)" = 1 ] && on_token "$A" || fail "no key after the request"
expect_rc 0 cw pending cancel "$A" --json
jq -e '.key_destroyed == true' <<<"$OUT" >/dev/null || fail "cancel --json: $OUT"
[ "$(keys)" = 0 ] || fail "the key stayed on the token: $(token_objects)"
state "$A" | grep -q "^failed cancelled by root" || fail "request after cancel: $(state "$A")"
audit_ops | grep -qx "request-cancelled success" || fail "cancel not audited"
cat a.pem ca/int.pem >a.resp
expect_rc 1 cw import a.resp
[ "$(sqlite3 state/store.db 'select count(*) from certificates')" = 0 ] || fail "the cancelled request's response was imported"

# Online, the CA unreachable: saved, then cancelled.
expect_rc 8 cw request --usage OAuthTokenIssuer --ca down --key ec:P-256 --json
B=$(jq -r .request_id <<<"$OUT")
on_token "$B" || fail "no key after the online request: $(token_objects)"
expect_rc 0 cw pending list --json
[ "$(jq length <<<"$OUT")" = 1 ] || fail "pending list: $OUT"
expect_rc 0 cw pending cancel "$B"
expect_out "request $B cancelled; its key destroyed on the token"
! on_token "$B" || fail "the online request's key stayed"
expect_rc 0 cw pending list --json
[ "$(jq length <<<"$OUT")" = 0 ] || fail "a cancelled request is still listed: $OUT"

# Bad input: nothing changes.
expect_rc 0 cw request --usage Default --offline --out c.csr --key ec:P-256 --json
C=$(jq -r .request_id <<<"$OUT")
snapshot base
refused 4 "request $A is failed, not open" cw pending cancel "$A"
refused 4 "there is no request 999" cw pending cancel 999
refused 2 "'x1' is not a request id" cw pending cancel x1
refused 2 "usage:" cw pending cancel
make_user OTHER
expect_rc 5 setpriv --reuid="$OTHER" --regid="$(id -g "$OTHER")" --clear-groups \
	"$CERTWIZ" --host "$HOST" pending cancel "$C"
expect_err "needs membership"
unchanged base
echo "pending cancel: ok"
