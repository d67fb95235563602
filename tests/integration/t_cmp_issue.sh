#!/bin/bash
# CMP issuance end to end against a CA that signs what it receives and
# holds each request until its officer decides (tests/mock/cmpca, on
# libcrypto's CMP server API): the request waits (exit 3), 'pending
# process' asks again in the same transaction, and once approved imports
# and binds the certificate for the token's key; EC and RSA. A rejection
# exits 7 with the officer's words; a cancelled request is withdrawn at
# the CA and its key destroyed. One certificate per request.
source "$(dirname "$0")/lib.sh"
setup_env cmp-issue
source "$(dirname "$0")/cmp.sh"
setup_ca
cd "$WORK"
mkdir -p servers
PORT=$(free_port)
cmp_profile corp "$PORT" "roots = ca/root.pem" "template = WebServer" \
	"recipient = /CN=certwiz test intermediate"
start_cmpca "$PORT" --hold

key_of() { sqlite3 state/store.db "select k.cka_id from keys k join requests r
	on r.key_id = k.id where r.id = $1"; }

N=0
for spec in ec:P-256 rsa:2048; do
	N=$((N + 1))
	usage=$([ $N = 1 ] && echo WebServicesInternal || echo OAuthTokenIssuer)
	expect_rc 3 cw request --usage $usage --key $spec --ca corp --wait 0 --json
	jq -e '.state == "pending" and .ca == "corp"' <<<"$OUT" >/dev/null ||
		fail "$spec: not pending: $OUT"
	TX=$(jq -r .reference <<<"$OUT")
	# asked again, still held
	expect_rc 3 cw pending process $N --wait 0 --json
	jq -e '.[0].reference == "'"$TX"'"' <<<"$OUT" >/dev/null ||
		fail "$spec: another transaction: $OUT"
	decide approve
	expect_rc 0 cw pending process $N --wait 10 --json
	jq -e '.[0].state == "issued" and .[0].certificate_id > 0' <<<"$OUT" \
		>/dev/null || fail "$spec: not issued: $OUT"
	CERT=$(jq -r '.[0].certificate_id' <<<"$OUT")
	# the certificate is for the token's key, bound in the store and on the
	# token, and verifies to the test root through the CA's chain
	key=$(key_of $N)
	[ "$(sqlite3 state/store.db "select k.cka_id from certificates c join keys k
		on k.id = c.key_id where c.id = $CERT")" = "$key" ] ||
		fail "$spec: certificate not bound to the request's key"
	[ "$(token_objects | grep "$key" | grep -c 'Certificate Object')" = 1 ] ||
		fail "$spec: no certificate object on the token"
	expect_rc 0 cw assign "$CERT" --usage $usage
	expect_rc 0 cw view --usage $usage --pem
	printf '%s\n' "$OUT" >issued-$N.pem
	openssl verify -CAfile ca/root.pem -untrusted ca/int.pem issued-$N.pem >/dev/null ||
		fail "$spec: the issued certificate does not verify"
	[ "$(cmpca_issued)" = $N ] || fail "$spec: the CA issued $(cmpca_issued)"
	[ "$(grep -c accepted "$CMPCA_DIR/confirmed.log")" = $N ] ||
		fail "$spec: the CA got no certConf"
done
# the profile's template went to the CA as the certProfile
grep -qx WebServer "$CMPCA_DIR/profiles.log" || fail "no certProfile: $(cat "$CMPCA_DIR/profiles.log" 2>/dev/null)"
expect_rc 0 cw audit show --json
jq -e '[.events[] | select(.operation == "request-submitted")] | length == 2' \
	<<<"$OUT" >/dev/null || fail "each request submitted once: $OUT"

# A rejection: exit 7 with the officer's words, nothing bound.
expect_rc 3 cw request --usage Default --ca corp --wait 0
decide "reject the key is not on the approved list"
certs=$(sqlite3 state/store.db "select count(*) from certificates")
expect_rc 7 cw pending process 3 --wait 10
expect_err "the key is not on the approved list"
[ "$(sqlite3 state/store.db "select state from requests where id = 3")" = rejected ] ||
	fail "request 3 not rejected"
[ "$(sqlite3 state/store.db "select count(*) from certificates")" = "$certs" ] ||
	fail "a rejected request bound a certificate"

# Cancelled while held: the CA is told, the key is destroyed.
expect_rc 3 cw request --usage WebServicesExternal --ca corp --wait 0
key=$(key_of 4)
expect_rc 0 cw pending cancel 4 --json
jq -e '.key_destroyed' <<<"$OUT" >/dev/null || fail "cancel: $OUT"
[ "$(token_objects | grep -c "$key")" = 0 ] || fail "the cancelled key is on the token"
grep -q "request withdrawn" "$CMPCA_DIR/log" || fail "the CA was not told"
[ "$(cmpca_issued)" = 2 ] || fail "the CA issued $(cmpca_issued)"

# Renewal over CMP: the usage's CA in the topology is corp; the renewal
# waits at the CA, the next renew takes it up in the same transaction,
# and once approved the new certificate, on a new key, takes over.
jq '.usages.WebServicesInternal.ca = "corp"' topology.json >t.json && cat t.json >topology.json
old=$(cw status --usage WebServicesInternal --json | jq -r '.usages[0].assigned.id')
oldkey=$(key_of 1)
expect_rc 3 cw renew --usage WebServicesInternal --force --wait 0 --json
jq -e '.usages[0].action == "pending"' <<<"$OUT" >/dev/null || fail "renew: $OUT"
expect_rc 3 cw renew --usage WebServicesInternal --force --wait 0 --json
jq -e '.usages[0].action == "pending"' <<<"$OUT" >/dev/null || fail "renew again: $OUT"
decide approve
expect_rc 0 cw renew --usage WebServicesInternal --force --wait 10 --json
jq -e '.usages[0].action == "resumed"' <<<"$OUT" >/dev/null || fail "renew resumed: $OUT"
new=$(cw status --usage WebServicesInternal --json | jq -r '.usages[0].assigned.id')
[ "$new" != "$old" ] || fail "the renewed certificate did not take over"
R=$(sqlite3 state/store.db "select request_id from certificates where id = $new")
[ "$(key_of "$R")" != "$oldkey" ] || fail "the renewal reused the key"
[ "$(sqlite3 state/store.db "select count(distinct ca_ref) from requests where id = $R")" = 1 ] ||
	fail "renewal request without its transaction"
[ "$(cmpca_issued)" = 3 ] || fail "the CA issued $(cmpca_issued)"

# A profile without secret_file: the secret is asked for on the caller's
# terminal (echo off), never shown.
printf '[ca "asked"]\nprotocol = cmp\nserver = http://127.0.0.1:%s/pkix/\nreference = %s\nroots = ca/root.pem\n' \
	"$PORT" "$CMP_REF" >>certwiz.conf
expect_rc 2 cw request --usage Default --ca asked --wait 0 </dev/null
expect_err "no terminal to ask for the secret of CA 'asked'"
at_terminal "$CERTWIZ --host $HOST request --usage Default --ca asked --wait 0" \
	"Secret for reference '$CMP_REF' at CA 'asked'"
printf '%s\r' "$CMP_SECRET" >&3
wait "$SCRIPT_PID" || true
exec 3>&-
grep -q "waits at CA 'asked'\|pending" transcript || fail "the prompted request did not reach the CA: $(cat transcript)"
grep -qF "$CMP_SECRET" transcript && fail "the secret was echoed"
R5=$(sqlite3 state/store.db "select max(id) from requests")
[ "$(sqlite3 state/store.db "select state from requests where id = $R5")" = pending ] ||
	fail "the prompted request is not pending"
expect_rc 0 cw pending cancel "$R5"

# Over HTTPS, the CA's TLS certificate verified against the profile's
# trust; --template instead of the profile's, and the secret given on a
# descriptor for this request (alternate credentials).
TPORT=$(free_port)
cmp_profile tls "$TPORT" "server = https://127.0.0.1:$TPORT/pkix/" \
	"trust = cmp-tls-root.pem" "roots = ca/root.pem"
cmp_profile badtls "$TPORT" "server = https://127.0.0.1:$TPORT/pkix/" \
	"trust = ca/root.pem" "roots = ca/root.pem"
start_cmpca "$TPORT" --tls
expect_rc 0 cw request --usage Default --ca tls --template Partner-TLS \
	--ca-secret-fd 3 --json 3<cmp-tls.pw
jq -e '.state == "issued"' <<<"$OUT" >/dev/null || fail "https: $OUT"
grep -qx Partner-TLS "$CMPCA_DIR/profiles.log" || fail "--template not sent"
# a TLS certificate the trust does not verify: a clear error, nothing sent
certs=$(sqlite3 state/store.db "select count(*) from certificates")
expect_rc 1 cw request --usage Default --ca badtls
expect_err "cannot verify the TLS certificate of 'https://127.0.0.1:$TPORT/pkix/'"
[ "$(sqlite3 state/store.db "select count(*) from certificates")" = "$certs" ] ||
	fail "bound through an unverified TLS server"
[ "$(cmpca_issued)" = 1 ] || fail "the TLS CA issued $(cmpca_issued)"

# A CA that signs its answers with a protection certificate of its own
# (in extraCerts, issued by another root) instead of the MAC: verified to
# the profile's trust. Without trust, or with a root that does not verify
# it, a clear error and the request kept; once trust is set, 'pending
# process' completes it in the same transaction.
SPORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout servers/prot-root.key -out prot-root.pem -days 2 \
	-subj "/CN=CMP protection root" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign 2>/dev/null || fail "protection root"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout servers/prot.key -out servers/prot.csr -subj "/CN=Contoso CMP RA" \
	2>/dev/null || fail "protection key"
printf 'keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\n' >servers/prot.ext
openssl x509 -req -in servers/prot.csr -CA prot-root.pem -CAkey servers/prot-root.key \
	-days 2 -extfile servers/prot.ext -out servers/prot.pem 2>/dev/null ||
	fail "protection certificate"
cmp_profile signed "$SPORT" "trust = prot-root.pem" "roots = ca/root.pem"
cmp_profile notrust "$SPORT" "roots = ca/root.pem"
cmp_profile othertrust "$SPORT" "trust = ca/root.pem" "roots = ca/root.pem"
start_cmpca "$SPORT" --sign-cert "$WORK/servers/prot.pem" \
	--sign-key "$WORK/servers/prot.key"
expect_rc 0 cw request --usage Default --ca signed --json
jq -e '.state == "issued"' <<<"$OUT" >/dev/null || fail "signed answers: $OUT"
certs=$(sqlite3 state/store.db "select count(*) from certificates")
expect_rc 1 cw request --usage Default --ca notrust --json
expect_err "the CA's answer is signed, and the profile has no trust to verify it with"
R6=$(sqlite3 state/store.db "select max(id) from requests")
expect_rc 1 cw request --usage Default --ca othertrust
expect_err "its signature does not verify to trust '$WORK/ca/root.pem'"
R7=$(sqlite3 state/store.db "select max(id) from requests")
[ "$(sqlite3 state/store.db "select count(*) from certificates")" = "$certs" ] ||
	fail "bound from an answer that did not verify"
for r in $R6 $R7; do
	[ "$(sqlite3 state/store.db "select state from requests where id = $r")" = submitted ] ||
		fail "request $r is not kept after an answer that did not verify"
done
sed -i '/^\[ca "notrust"\]$/a trust = prot-root.pem' certwiz.conf
TX6=$(sqlite3 state/store.db "select ca_ref from requests where id = $R6")
expect_rc 0 cw pending process "$R6" --json
jq -e '.[0].state == "issued" and .[0].reference == "'"$TX6"'"' <<<"$OUT" >/dev/null ||
	fail "not completed in its transaction once trust is set: $OUT"
expect_rc 0 cw pending cancel "$R7"

cw audit verify >/dev/null || fail "audit verify"
canary_check || fail "canary"
echo "PASS"
