#!/bin/bash
# Renewal at the policy's point, with the clock moved for certwizd only
# (libfaketime): a 90-day certificate is not due 59 days on, due 61 days
# on; there, certwizd started with [renew] renews by itself (its CA is
# offline: the CSR in the outbox), and after the import the takeover
# happens without anyone running renew.
source "$(dirname "$0")/lib.sh"
LIBFAKETIME=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
[ -n "$LIBFAKETIME" ] || exit 77
setup_env renew-clock
setup_ca
cd "$WORK"
install -d -o "$SVC_USER" -m 755 "$SVC_DIR/outbox"
printf '[renew]\nauto = no\nspread = 0\noutbox = %s\n' "$SVC_DIR/outbox" >>certwiz.conf
serving() { cw status --usage Default --json | jq -r '.usages[0].assigned.id'; }
# the service again, its clock moved by $1 (libfaketime's offset syntax)
service_at() {
	stop_service
	FAKETIME="$1" LD_PRELOAD="$LIBFAKETIME" start_service
}

expect_rc 0 cw request --usage Default --offline --out a.csr --key ec:P-256
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
expect_rc 0 cw import a.resp --json
A=$(jq -r .certificate_id <<<"$OUT")
expect_rc 0 cw assign "$A" --usage Default

# 59 days on: not due (30 days before expiry comes at day 60)
service_at +59d
expect_rc 0 cw renew --usage Default --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = not-due ] || fail "day 59: $OUT"
# 61 days on: due
service_at +61d
expect_rc 0 cw renew --usage Default --dry-run --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = would-renew ] || fail "day 61: $OUT"
[ -z "$(ls "$SVC_DIR/outbox")" ] || fail "--dry-run wrote to the outbox"

# certwizd renews by itself at start: the CSR in the outbox
sed -i 's/^auto = no/auto = yes/' certwiz.conf
service_at +61d
for _ in $(seq 1 100); do
	ls "$SVC_DIR"/outbox/Default-*.csr >/dev/null 2>&1 && break
	sleep 0.1
done
CSR=$(ls "$SVC_DIR"/outbox/Default-*.csr 2>/dev/null) || fail "certwizd did not renew by itself"
cw status --usage Default --json | jq -e '.usages[0].renewal.last.state == "pending"' >/dev/null ||
	fail "status: $(cw status --usage Default --json)"
[ "$(serving)" = "$A" ] || fail "the current certificate no longer serves"

# the response imported: certwizd takes over by itself (after the command)
sign_csr "$CSR" b.pem 365
cat b.pem ca/int.pem >b.resp
expect_rc 0 cw import b.resp --json
B=$(jq -r .certificate_id <<<"$OUT")
for _ in $(seq 1 100); do
	[ "$(serving)" = "$B" ] && break
	sleep 0.1
done
[ "$(serving)" = "$B" ] || fail "certwizd did not take over after the import"
sqlite3 state/store.db "select user from audit where operation = 'renewal' order by seq desc limit 1" |
	grep -qx "$SVC_USER" || fail "the takeover is not the service's in the audit trail"
stop_service
echo "renew on the clock: ok"
