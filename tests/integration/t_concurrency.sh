#!/bin/bash
# Eight processes make 25 offline requests each (10 under the sanitizers),
# at the same time, against one store and one token: 200 requests
# recorded, 200 distinct keys (one pair each on the token), every CSR
# written and valid, no "database is
# locked" reaching a user, one unbroken audit chain.
source "$(dirname "$0")/lib.sh"
setup_env concurrency
cd "$WORK"
WORKERS=8 EACH=${CONCURRENCY_EACH:-25}

worker() {
	local w=$1 i rc
	for i in $(seq $EACH); do
		rc=0
		cw request --usage OAuthTokenIssuer --key ec:P-256 --offline \
			--out "w$w-$i.csr" >/dev/null 2>>"err.$w" || rc=$?
		[ $rc = 0 ] || echo "worker $w request $i: exit $rc" >>failures
	done
}
start=$(date +%s)
for w in $(seq $WORKERS); do worker "$w" & done
wait
elapsed=$(($(date +%s) - start))

[ ! -s failures ] || { cat failures err.* >&2; fail "requests failed"; }
if grep -il -e locked -e busy err.* >/dev/null 2>&1; then
	cat err.* >&2
	fail "a lock reached the user"
fi
N=$((WORKERS * EACH))
[ "$(sqlite3 state/store.db "select count(*) from requests")" = $N ] ||
	fail "requests: $(sqlite3 state/store.db "select count(*) from requests")"
[ "$(sqlite3 state/store.db "select count(distinct id) from requests")" = $N ] ||
	fail "request ids repeat"
[ "$(sqlite3 state/store.db "select count(distinct cka_id) from keys
	where state = 'ready'")" = $N ] || fail "keys are not distinct and ready"
[ "$(sqlite3 state/store.db "select count(distinct key_id) from requests")" = $N ] ||
	fail "two requests share a key"
# plus the audit key, made when a checkpoint fell due (every 100 events)
AUDIT=$(sqlite3 state/store.db "select count(*) from meta where key = 'audit_key_id'")
[ "$(token_objects | grep -c 'Private Key')" = $((N + AUDIT)) ] ||
	fail "private keys on the token"
[ "$(token_objects | sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' | sort -u | wc -l)" = $((N + AUDIT)) ] ||
	fail "key pairs do not share one ID each"
for f in w*.csr; do
	openssl req -in "$f" -noout -verify 2>&1 | grep -q "verify OK" || fail "$f"
done
[ "$(ls w*.csr | wc -l)" = $N ] || fail "CSR files"
sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail integrity
expect_rc 0 cw audit verify
[ "$(sqlite3 state/store.db "select count(*) from audit
	where operation = 'request-created'")" = $N ] || fail "audit events"
echo "concurrency: $N requests from $WORKERS processes in ${elapsed} s"
