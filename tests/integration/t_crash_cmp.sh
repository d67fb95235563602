#!/bin/bash
# A CMP or CA-helper request killed at each persisted step ends, after
# 'pending process', with exactly one certificate, issued in the
# request's one transaction (CMP) or for its one cookie (helper): killed
# after the transactionID is saved and before anything is sent, after the
# CA's "waiting" is saved, after the issued certificate is saved and
# before the CA is told it is accepted, before the import, and after the
# certificate is on the token before the store commits.
source "$(dirname "$0")/lib.sh"
setup_env crash-cmp
source "$(dirname "$0")/cmp.sh"
setup_ca
cd "$WORK"
mkdir -p servers
PORT=$(free_port)
cmp_profile corp "$PORT" "roots = ca/root.pem"
start_cmpca "$PORT" --hold
HD=$WORK/helper
install -d -o "$SVC_USER" -m 700 "$HD"
cat ca/int.pem >"$HD/ca.pem"
cat ca/int.key >"$HD/ca.key"
chown -R "$SVC_USER" "$HD"
printf '[ca "officer"]\nprotocol = helper\ncommand = %s hold %s\n' \
	"$SRCDIR/tests/mock/ca_helper.sh" "$HD" >>certwiz.conf

U=OAuthTokenIssuer
txid() { sqlite3 state/store.db "select ca_ref from requests where id = $1"; }
one_cert() {
	local n=$1 what=$2 key
	[ "$(sqlite3 state/store.db "select state from requests where id = $n")" = issued ] ||
		fail "$what: request $n is not issued"
	[ "$(sqlite3 state/store.db "select count(*) from certificates where request_id = $n")" = 1 ] ||
		fail "$what: certificates of request $n in the store"
	key=$(sqlite3 state/store.db "select cka_id from keys k join requests r
		on r.key_id = k.id where r.id = $n")
	[ "$(token_objects | grep "$key" | grep -c 'Certificate Object')" = 1 ] ||
		fail "$what: certificate objects of request $n on the token"
}

N=0 ISSUED=0
# Killed while the request is sent.
for point in ca:after-submit-saved ca:after-saved; do
	N=$((N + 1))
	CERTWIZ_CRASHPOINT=$point expect_rc 137 cw request --usage $U --ca corp --wait 0
	[ "$(sqlite3 state/store.db "select state from requests where id = $N")" = submitted ] ||
		fail "$point: request not submitted"
	TX=$(txid $N)
	[ -n "$TX" ] || fail "$point: no transaction saved"
	expect_rc 3 cw pending process $N --wait 0 --json
	jq -e '.[0].reference == "'"$TX"'"' <<<"$OUT" >/dev/null ||
		fail "$point: resumed in another transaction: $OUT"
	decide approve
	expect_rc 0 cw pending process $N --wait 10
	ISSUED=$((ISSUED + 1))
	[ "$(cmpca_issued)" = $ISSUED ] || fail "$point: the CA issued $(cmpca_issued)"
	[ "$(tail -1 "$CMPCA_DIR/issued.log" | cut -d' ' -f1 | tr -d : | tr A-F a-f)" = "$TX" ] ||
		fail "$point: issued in another transaction"
	one_cert $N "$point"
done
# Killed while the issued certificate is taken.
for point in ca:after-saved ca:before-import import:after-token-write; do
	N=$((N + 1))
	expect_rc 3 cw request --usage $U --ca corp --wait 0
	decide approve
	CERTWIZ_CRASHPOINT=$point expect_rc 137 cw pending process $N --wait 10
	ISSUED=$((ISSUED + 1))
	[ "$(cmpca_issued)" = $ISSUED ] || fail "$point: the CA issued $(cmpca_issued)"
	expect_rc 0 cw pending process $N --wait 10
	[ "$(cmpca_issued)" = $ISSUED ] || fail "$point: issued again"
	one_cert $N "$point"
done

# The helper: killed after the cookie is saved, and before the import.
N=$((N + 1))
CERTWIZ_CRASHPOINT=ca:after-submit-saved expect_rc 137 cw request --usage $U --ca officer --wait 0
COOKIE=$(txid $N)
[[ $COOKIE == req-* ]] || fail "helper: no cookie saved"
echo approve >"$HD/decision"
expect_rc 0 cw pending process $N
one_cert $N "helper after-submit-saved"
N=$((N + 1))
expect_rc 3 cw request --usage $U --ca officer --wait 0
echo approve >"$HD/decision"
CERTWIZ_CRASHPOINT=ca:before-import expect_rc 137 cw pending process $N
expect_rc 0 cw pending process $N
one_cert $N "helper before-import"
[ "$(wc -l <"$HD/issued")" = 2 ] || fail "the helper issued $(wc -l <"$HD/issued")"
[ "$(grep -c '^SUBMIT' "$HD/calls")" = 2 ] || fail "a helper request was submitted twice"

refresh_after "the crashes"
cw audit verify >/dev/null || fail "audit verify"
canary_check || fail "canary"
echo "PASS"
