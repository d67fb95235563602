#!/bin/bash
# CMP against openssl's own mock server (openssl cmp -port), which checks
# the MAC, the transactionID and every nonce of each message: a request
# the CA holds waits across three certwiz processes in one transaction,
# then the CA's certificate for another key is refused with a negative
# certConf and nothing is bound; a rejection after polls exits 7 with the
# CA's text; a wrong secret is a clear error that keeps the request; an
# unreachable CA exits 8 and the request is resumed, in the same
# transaction, once the CA is back.
source "$(dirname "$0")/lib.sh"
private_network "$@"
setup_env cmp-mock
source "$(dirname "$0")/cmp.sh"
setup_ca
cd "$WORK"
mkdir -p servers

# The mock answers with one fixed certificate, for a key of its own.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout servers/other.key -out servers/other.csr -subj /CN=other 2>/dev/null
printf 'subjectAltName=DNS:fe01.contoso.test\n' >servers/other.ext
openssl x509 -req -in servers/other.csr -CA ca/int.pem -CAkey ca/int.key \
	-CAcreateserial -extfile servers/other.ext -days 30 \
	-out servers/other.pem 2>/dev/null
P1=$(free_port) P2=$(free_port) P3=$(free_port)
cmp_profile corp "$P1"
cmp_profile strict "$P2"
cmp_profile far "$P3"

requests() { sqlite3 state/store.db "select id, state, protocol from requests order by id"; }
bound() { sqlite3 state/store.db "select count(*) from certificates"; }

# 1. Waiting across three processes, then a certificate for another key.
start_mock "$P1" -rsp_cert servers/other.pem -poll_count 3 -check_after 1
expect_rc 3 cw request --usage WebServicesInternal --ca corp --wait 0 --json
jq -e '.state == "pending" and (.order | test("^[0-9a-f]{32}$")) and
	(.problem | test("waiting for approval")) and .next_attempt != null' \
	<<<"$OUT" >/dev/null || fail "first run not pending: $OUT"
TXID=$(jq -r .order <<<"$OUT")
expect_rc 0 cw pending list --json
jq -e '.[0].state == "pending" and .[0].protocol == "cmp" and
	.[0].order == "'"$TXID"'"' <<<"$OUT" >/dev/null || fail "pending list: $OUT"
expect_rc 0 cw status --usage WebServicesInternal --json
jq -e '.usages[0].pending_requests[0] | test("^1 pending cmp ca corp reference '"$TXID"' next ")' <<<"$OUT" >/dev/null ||
	fail "status lacks the pending request's CA: $OUT"
# second process: one real poll, still waiting, same transaction
expect_rc 3 cw pending process 1 --wait 0 --json
jq -e '.[0].state == "pending" and .[0].order == "'"$TXID"'"' <<<"$OUT" \
	>/dev/null || fail "second run: $OUT"
# third process: the CA issues, for a key that is not the request's
snapshot before-refusal
expect_rc 1 cw pending process 1 --wait 0
expect_err "does not match our enrollment key"
[ "$(requests)" = "1|failed|cmp" ] || fail "request after refusal: $(requests)"
[ "$(bound)" = 0 ] || fail "a refused certificate was bound"
expect_rc 4 cw pending process 1
expect_err "nothing to process"
grep -q "certificate rejected by client" servers/mock.log ||
	fail "the mock saw no negative certConf: $(tail -5 servers/mock.log)"
grep -q "recipnonce\|transactionid unmatched\|nonce" servers/mock.log &&
	fail "the mock found a nonce or transaction mismatch: $(grep -i nonce servers/mock.log)"
stop_mock

# 2. Rejection after polls: exit 7 with the CA's words.
start_mock "$P2" -rsp_cert servers/other.pem -poll_count 2 -check_after 1 \
	-pkistatus 2 -failure 2 -statusstring "denied by the RA officer"
expect_rc 3 cw request --usage OAuthTokenIssuer --ca strict --wait 0
expect_rc 7 cw pending process 2 --wait 0
expect_err "denied by the RA officer"
[ "$(sqlite3 state/store.db "select state from requests where id = 2")" = rejected ] ||
	fail "request 2 not rejected: $(requests)"
expect_rc 0 cw audit show --json
jq -e '[.events[] | select(.operation == "request-rejected")] | length == 1' <<<"$OUT" >/dev/null ||
	fail "no request-rejected event"
stop_mock

# 3. A wrong secret: a clear error, the request kept where it stood; with
# the right secret given for the run (alternate credentials), it goes on.
start_mock "$P2" -rsp_cert servers/other.pem -poll_count 3 -check_after 1
cmp_secret_file cmp-strict.pw "not-the-secret"
expect_rc 1 cw request --usage Default --ca strict --wait 0
expect_err "does not verify with the secret of reference '$CMP_REF'"
R3=$(sqlite3 state/store.db "select max(id) from requests")
[ "$(sqlite3 state/store.db "select state from requests where id = $R3")" = submitted ] ||
	fail "request after a wrong secret: $(requests)"
umask 077; printf '%s\n' "$CMP_SECRET" >right.pw; umask 022
expect_rc 3 cw pending process "$R3" --wait 0 --ca-secret-file right.pw
expect_rc 0 cw audit show --json
jq -e '[.events[] | select(.operation == "request-submitted" and
	.target.request == "'"$R3"'")] | length == 1' <<<"$OUT" >/dev/null ||
	fail "request $R3 submitted more than once: $OUT"
# a request made with alternate credentials says so in the audit
stop_mock
start_mock "$P2" -rsp_cert servers/other.pem -poll_count 3 -check_after 1
expect_rc 3 cw request --usage WebServicesExternal --ca strict --wait 0 \
	--ca-reference "$CMP_REF" --ca-secret-file right.pw
expect_rc 0 cw audit show --json
jq -e '[.events[] | select(.reason == "alternate credentials used (reference '"$CMP_REF"')")] |
	length == 1' <<<"$OUT" >/dev/null || fail "no alternate-credentials event: $OUT"
stop_mock
cmp_secret_file cmp-strict.pw "$CMP_SECRET"

# 4. The CA unreachable: exit 8, kept; back, resumed in one transaction.
expect_rc 8 cw request --usage WebServicesInternal --ca far --wait 0
expect_err "cannot be reached"
R4=$(sqlite3 state/store.db "select max(id) from requests")
TX4=$(sqlite3 state/store.db "select ca_ref from requests where id = $R4")
[ -n "$TX4" ] || fail "no transaction saved before sending"
start_mock "$P3" -rsp_cert servers/other.pem -poll_count 2 -check_after 1
expect_rc 3 cw pending process "$R4" --wait 0 --json
jq -e '.[0].order == "'"$TX4"'"' <<<"$OUT" >/dev/null ||
	fail "resumed in another transaction: $OUT"
expect_rc 1 cw pending process "$R4" --wait 5
[ "$(bound)" = 0 ] || fail "a certificate was bound"

# No key beyond the requests' own is left behind, and the secret appears
# nowhere.
cw audit verify >/dev/null || fail "audit verify"
canary_check || fail "canary"
echo "PASS"
