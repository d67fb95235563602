#!/bin/bash
# prune: a key whose certificate was superseded past its retention is
# destroyed on the token (key pair and certificate object) and marked
# retired, audited; what serves, what is scheduled and what is pending is
# never touched; --dry-run changes nothing; a caller outside the admin
# group is refused.
source "$(dirname "$0")/lib.sh"
setup_env prune
setup_ca
cd "$WORK"
printf '[renew]\nauto = no\nretain_expired = 0\nretain_superseded = 0\n' >>certwiz.conf
on_token() { token_objects | grep -ci "ID: *$1" || true; }
cka() { sqlite3 state/store.db "select k.cka_id from keys k join requests r on r.key_id = k.id where r.id = $1"; }
issue() { # issue NAME: request, sign, import; the certificate id in $CERT
	expect_rc 0 cw request --usage Default --offline --out $1.csr --key ec:P-256 --json
	REQ=$(jq -r .request_id <<<"$OUT")
	sign_csr $1.csr $1.pem 90
	cat $1.pem ca/int.pem >$1.resp
	expect_rc 0 cw import $1.resp --json
	CERT=$(jq -r .certificate_id <<<"$OUT")
}
issue A; RA=$REQ; CA_=$CERT
expect_rc 0 cw assign "$CA_" --usage Default
issue B; RB=$REQ; CB=$CERT
expect_rc 0 cw assign "$CB" --usage Default          # A superseded
issue D; RD=$REQ; CD=$CERT
expect_rc 0 cw assign "$CD" --usage Default --effective-at +1d   # D scheduled
expect_rc 0 cw request --usage Default --offline --out c.csr --key ec:P-256 --json
RC=$(jq -r .request_id <<<"$OUT")                    # C pending
for r in $RA $RB $RC $RD; do
	[ "$(on_token "$(cka $r)")" -ge 2 ] || fail "request $r's key is not on the token"
done
[ "$(on_token "$(cka $RA)")" = 3 ] || fail "A's certificate object is not on the token: $(token_objects)"

# --dry-run: A only, nothing changed
snapshot base
expect_rc 0 cw prune --dry-run --json
[ "$(jq -r '.keys | length' <<<"$OUT")" = 1 ] && [ "$(jq -r '.keys[0].cka_id' <<<"$OUT")" = "$(cka $RA)" ] ||
	fail "prune --dry-run: $OUT"
unchanged base
make_user OTHER
expect_rc 5 setpriv --reuid="$OTHER" --regid="$(id -g "$OTHER")" --clear-groups \
	"$CERTWIZ" --host "$HOST" prune
unchanged base

# prune: A's key pair and certificate object go; B, C and D stay
expect_rc 0 cw prune
expect_out "key $(cka $RA)"
expect_out "destroyed"
[ "$(on_token "$(cka $RA)")" = 0 ] || fail "A's objects stayed: $(token_objects)"
for r in $RB $RC $RD; do
	[ "$(on_token "$(cka $r)")" -ge 2 ] || fail "request $r's key was pruned"
done
[ "$(sqlite3 state/store.db "select state || ' ' || (retired is not null) from keys where cka_id = '$(cka $RA)'")" = "gone 1" ] ||
	fail "A's key is not marked retired"
audit_ops | grep -qx "key-retired success" || fail "the destruction is not audited"
expect_rc 0 cw prune
expect_out "nothing to prune"
expect_rc 0 cw status --usage Default
expect_rc 0 cw audit verify
echo "prune: ok"
