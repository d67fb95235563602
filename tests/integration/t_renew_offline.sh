#!/bin/bash
# Renewal for a usage whose CA is offline: the CSR of a fresh key goes to
# [renew] outbox (written by the service), the renewal is pending (exit 3)
# and not made twice; once the response is imported the next run makes
# the takeover. An outbox the service cannot write fails cleanly: the
# current certificate keeps serving and no key is left on the token. A
# notify command that hangs is stopped; one that is missing is refused.
source "$(dirname "$0")/lib.sh"
setup_env renew-offline
setup_ca
cd "$WORK"
install -d -o "$SVC_USER" -m 755 "$SVC_DIR/outbox"
cat >notify.sh <<NOTIFY
#!/bin/sh
echo "\$CERTWIZ_EVENT \$CERTWIZ_SEVERITY" >>$SVC_DIR/notify.log
NOTIFY
chmod 755 notify.sh
printf '[renew]\nauto = no\nspread = 0\noutbox = %s\nnotify = %s\ncritical_days = 7\n' \
	"$SVC_DIR/outbox" "$WORK/notify.sh" >>certwiz.conf
serving() { cw status --usage Default --json | jq -r '.usages[0].assigned.id'; }
requests() { sqlite3 state/store.db 'select count(*) from requests'; }
keys() { token_objects | grep -c "Private Key Object" || true; }

expect_rc 0 cw request --usage Default --offline --out a.csr --key ec:P-256
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
expect_rc 0 cw import a.resp --json
A=$(jq -r .certificate_id <<<"$OUT")
expect_rc 0 cw assign "$A" --usage Default

# not due: a 90-day certificate falls due with 30 days left
expect_rc 0 cw renew --usage Default --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = not-due ] || fail "renew: $OUT"

# the outbox cannot be written: a clean failure, nothing left behind
chmod 500 "$SVC_DIR/outbox"
k=$(keys)
expect_rc 1 cw renew --usage Default --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = failed ] || fail "renew, outbox not writable: $OUT"
[ "$(keys)" = "$k" ] || fail "a key was left on the token"
[ "$(serving)" = "$A" ] || fail "the current certificate no longer serves"
# a failure with 90 days left is a warning; critical once fewer than
# [renew] critical_days are left
tail -1 "$SVC_DIR/notify.log" | grep -qx "failed warning" || fail "notification: $(cat "$SVC_DIR/notify.log")"
sed -i 's/^critical_days = 7/critical_days = 100/' certwiz.conf
expect_rc 1 cw renew --usage Default --force
tail -1 "$SVC_DIR/notify.log" | grep -qx "failed critical" || fail "notification: $(cat "$SVC_DIR/notify.log")"
expect_rc 2 cw check
expect_out "CRITICAL usage Default: renewal failed 2 times"
sed -i 's/^critical_days = 100/critical_days = 7/' certwiz.conf
chmod 755 "$SVC_DIR/outbox"

# a notify command that hangs is stopped at [renew] notify_timeout, with
# its children, and the renewal goes on; one that does not exist refuses
# the configuration
cat >hang.sh <<NOTIFY
#!/bin/sh
sleep 600 &
echo \$! >$SVC_DIR/hang.pid
wait
NOTIFY
chmod 755 hang.sh
cp certwiz.conf good.conf
sed -i "s|^notify = .*|notify = $WORK/hang.sh\nnotify_timeout = 2|" certwiz.conf
chmod 500 "$SVC_DIR/outbox"
start=$(date +%s)
expect_rc 1 cw renew --usage Default --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = failed ] || fail "renew with a hanging notifier: $OUT"
expect_err "the notify command '$WORK/hang.sh' did not finish within 2 seconds and was stopped"
[ $(($(date +%s) - start)) -lt 20 ] || fail "the hanging notifier held the renewal"
# killed with its process group (a zombie until it is reaped is dead)
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
for _ in $(seq 20); do alive "$(cat "$SVC_DIR/hang.pid")" || break; sleep 0.1; done
! alive "$(cat "$SVC_DIR/hang.pid")" || fail "the notifier's child survived"
[ "$(serving)" = "$A" ] || fail "the current certificate no longer serves"
sed -i "s|^notify = .*|notify = $WORK/missing.sh|" certwiz.conf
expect_rc 1 cw renew --usage Default --force
expect_err "[renew] notify command '$WORK/missing.sh'"
cp good.conf certwiz.conf
chmod 755 "$SVC_DIR/outbox"

# the topology gives Default one more name since A: the renewal says so
# and the new CSR carries it
jq '.usages.Default.names += ["extra.contoso.test"]' topology.json >t.json && cat t.json >topology.json
expect_rc 0 cw renew --usage Default --dry-run --force --json
jq -e '.usages[0].detail | test("names changed.*added: extra.contoso.test")' <<<"$OUT" >/dev/null ||
	fail "renew --dry-run after a topology change: $OUT"

# forced: the CSR in the outbox, pending (exit 3), not made twice
expect_rc 3 cw renew --usage Default --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = awaiting-response ] || fail "renew --force: $OUT"
CSR=$(ls "$SVC_DIR"/outbox/Default-*.csr)
[ "$(stat -c %U "$CSR")" = "$SVC_USER" ] || fail "the outbox CSR is not the service's"
openssl req -in "$CSR" -noout -verify 2>/dev/null || fail "the outbox CSR does not verify"
openssl req -in "$CSR" -noout -text | grep -q "DNS:extra.contoso.test" || fail "the new CSR lacks the topology's new name"
n=$(requests)
expect_rc 3 cw renew --usage Default --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = awaiting-response ] || fail "renew again: $OUT"
[ "$(requests)" = "$n" ] || fail "a second request was made"
[ "$(serving)" = "$A" ] || fail "the current certificate no longer serves"

# the response imported: the next run takes over with the new key
sign_csr "$CSR" b.pem 90
cat b.pem ca/int.pem >b.resp
expect_rc 0 cw import b.resp --json
B=$(jq -r .certificate_id <<<"$OUT")
expect_rc 0 cw renew --usage Default --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = renewed ] && [ "$(jq -r '.usages[0].new_certificate_id' <<<"$OUT")" = "$B" ] ||
	fail "renew after the import: $OUT"
[ "$(serving)" = "$B" ] || fail "the renewed certificate does not serve"
[ "$(openssl x509 -in a.pem -noout -pubkey)" != "$(openssl x509 -in b.pem -noout -pubkey)" ] ||
	fail "the renewal reused the key"
expect_rc 0 cw audit verify
echo "renew offline: ok"
