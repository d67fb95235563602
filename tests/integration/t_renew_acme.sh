#!/bin/bash
# Renewal over ACME (pebble issuing one-minute certificates): not due at
# first; --dry-run changes nothing; a renewal makes a fresh key on the
# token, a new certificate assigned at once, the old one kept; with the CA
# unreachable the failure is recorded, shown and retried later, and the
# saved request is resumed, never made again; a usage the host does not
# serve and a caller outside the admin group are refused; with a [renew]
# section certwizd renews by itself when the certificate falls due, the
# takeover after the overlap; each event reaches the notify command; a
# certificate two usages share is renewed once for both.
source "$(dirname "$0")/lib.sh"
setup_env renew-acme
setup_ca
source "$(dirname "$0")/pebble.sh"
PEBBLE_CERT_VALIDITY=60 setup_pebble
cd "$WORK"
# OAuthTokenIssuer comes from pebble
jq '.usages.OAuthTokenIssuer.ca = "pebble" | .usages.OAuthTokenIssuer.key = "ec:P-256"' \
	topology.json >t.json && cat t.json >topology.json
U=OAuthTokenIssuer
# the notifier: root's, logs each event where the service may write, and
# fails (a failing notifier never fails the renewal)
cat >notify.sh <<NOTIFY
#!/bin/sh
echo "\$CERTWIZ_EVENT \$CERTWIZ_SEVERITY \$2 \$4" >>$SVC_DIR/notify.log
exit 1
NOTIFY
chmod 755 notify.sh
printf '[renew]\nauto = no\nspread = 0\nretry = 5\nwait = 30\noverlap = 0\nnotify = %s\n' \
	"$WORK/notify.sh" >>certwiz.conf
events() { cat "$SVC_DIR/notify.log" 2>/dev/null; }
serving() { cw status --usage $U --json | jq -r '.usages[0].assigned.id'; }
requests() { sqlite3 state/store.db 'select count(*) from requests'; }

expect_rc 0 cw request --usage $U --ca pebble --assign --json
C1=$(jq -r .certificate_id <<<"$OUT")
[ "$(serving)" = "$C1" ] || fail "the first certificate is not assigned"

# 1. Not due yet (a third of a minute left comes later); the other usages
# have nothing assigned.
expect_rc 0 cw renew --json
jq -e --arg u $U '.usages[] | select(.usage == $u) | .action == "not-due" and .due != null' <<<"$OUT" >/dev/null ||
	fail "renew right after issuance: $OUT"
jq -e '[.usages[] | select(.usage == "Default")][0].action == "nothing-assigned"' <<<"$OUT" >/dev/null ||
	fail "renew: Default: $OUT"
due=$(cw status --usage $U --json | jq -r '.usages[0].renewal.due')
[ "$due" != null ] || fail "status shows no renewal time"

# 2. --dry-run says what it would do and changes nothing.
snapshot base
expect_rc 0 cw renew --usage $U --dry-run --force
expect_out "usage $U: would-renew"
unchanged base

# 3. Bad input changes nothing.
refused 1 "has no usage 'NoSuchUsage'" cw renew --usage NoSuchUsage --force
make_user OTHER
expect_rc 5 setpriv --reuid="$OTHER" --regid="$(id -g "$OTHER")" --clear-groups \
	"$CERTWIZ" --host "$HOST" renew --force
unchanged base

# 4. A renewal: a fresh key on the token, a new certificate serving, the
# old one kept.
keys_before=$(cw list --keys --json | jq ".keys | length")
expect_rc 0 cw renew --usage $U --force --json
C2=$(jq -r '.usages[0].new_certificate_id' <<<"$OUT")
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = renewed ] || fail "renew --force: $OUT"
[ "$(serving)" = "$C2" ] && [ "$C2" != "$C1" ] || fail "the renewed certificate does not serve"
[ "$(cw list --keys --json | jq ".keys | length")" = $((keys_before + 1)) ] || fail "no fresh key"
K1=$(cw list --certs --json | jq -r --argjson c "$C1" '.certificates[] | select(.id == $c) | .key_id')
K2=$(cw list --certs --json | jq -r --argjson c "$C2" '.certificates[] | select(.id == $c) | .key_id')
[ -n "$K1" ] && [ "$K1" != "$K2" ] || fail "the renewal reused the key ($K1, $K2)"
audit_ops | grep -qx "renewal success" || fail "the renewal is not audited"
events | grep -qx "renewed info $U 0" || fail "no notification of the renewal: $(events)"
expect_err "the notify command '$WORK/notify.sh' failed (exit 1)"

# 5. The CA unreachable: failed (exit 8), recorded, shown, retried later;
# the saved request is resumed once the CA is back, never made again.
stop_pebble
expect_rc 8 cw renew --usage $U --force
cw status --usage $U --json | jq -e '.usages[0].renewal.last.state == "failed"' >/dev/null ||
	fail "status after a failed renewal: $(cw status --usage $U --json)"
# critical: the certificate it should replace has less than a week left
expect_rc 2 cw check
expect_out "CRITICAL usage $U: renewal failed 1 time"
events | grep -qx "failed critical $U 0" || fail "no critical notification of the failure: $(events)"
# without --force nothing is tried again before its time
n=$(requests)
expect_rc 0 cw renew --usage $U --json
jq -e '.usages[0].action | IN("retry-later", "not-due")' <<<"$OUT" >/dev/null ||
	fail "renew after a failure: $OUT"
[ "$(requests)" = "$n" ] || fail "renew tried again before its time"
start_pebble
expect_rc 0 cw renew --usage $U --force --json
[ "$(jq -r '.usages[0].action' <<<"$OUT")" = resumed ] || fail "renew with a saved request: $OUT"
C3=$(jq -r '.usages[0].new_certificate_id' <<<"$OUT")
[ "$(requests)" = "$n" ] || fail "a new request was made instead of resuming ($n, $(requests))"
[ "$(serving)" = "$C3" ] || fail "the resumed renewal does not serve"

# 6b. One certificate serving two usages is renewed once for both: one
# fresh key, one request for the union of their names, one certificate
# assigned to both; renewing the second usage in the same run does not
# make another.
jq '.usages.WebServicesInternal.ca = "pebble" | .usages.WebServicesExternal.ca = "pebble"' \
	topology.json >t.json && cat t.json >topology.json
expect_rc 0 cw request --usage WebServicesInternal --usage WebServicesExternal \
	--key ec:P-256 --ca pebble --assign --json
S1=$(jq -r .certificate_id <<<"$OUT")
shared() { cw status --json | jq -r --arg u "$1" '.usages[] | select(.usage == $u) | .assigned.id'; }
[ "$(shared WebServicesInternal)" = "$S1" ] && [ "$(shared WebServicesExternal)" = "$S1" ] ||
	fail "the shared certificate is not assigned to both usages"
n=$(requests) k=$(cw list --keys --json | jq ".keys | length")
expect_rc 0 cw renew --usage WebServicesInternal --usage WebServicesExternal --force --json
jq -e '.usages[0].action == "renewed" and .usages[1].action == "renewed" and
	.usages[0].new_certificate_id == .usages[1].new_certificate_id and
	(.usages[1].detail | test("together with WebServicesInternal"))' <<<"$OUT" >/dev/null ||
	fail "the shared certificate was not renewed once for both: $OUT"
S2=$(jq -r '.usages[0].new_certificate_id' <<<"$OUT")
[ "$(shared WebServicesInternal)" = "$S2" ] && [ "$(shared WebServicesExternal)" = "$S2" ] ||
	fail "the renewed certificate does not serve both usages"
[ "$(requests)" = $((n + 1)) ] || fail "$(( $(requests) - n )) requests for one shared certificate"
[ "$(cw list --keys --json | jq ".keys | length")" = $((k + 1)) ] || fail "more than one new key"
for u in WebServicesInternal WebServicesExternal; do
	cw status --usage $u --json | jq -e '.usages[0].renewal.last.state == "renewed"' >/dev/null ||
		fail "no renewal recorded for $u"
done

# 6. Unattended: with [renew], certwizd renews by itself when the
# certificate falls due (a minute's certificate: after 20 s at most).
# with an overlap: the new certificate takes over 3 s after issuance
sed -i 's/^auto = no/auto = yes/; s/^overlap = 0/overlap = 3/' certwiz.conf
stop_service
start_service
for _ in $(seq 1 90); do
	[ "$(serving)" != "$C3" ] && break
	sleep 0.5
done
C4=$(serving)
[ "$C4" != "$C3" ] || fail "certwizd did not renew by itself: $(cw status --usage $U --json)"
sqlite3 state/store.db "select operation from audit where operation like 'assignment-%' order by seq desc limit 2" |
	grep -qx "assignment-scheduled" || fail "the takeover was not scheduled after the overlap"
sqlite3 state/store.db "select user from audit where operation = 'renewal' and outcome = 'success' order by seq desc limit 1" |
	grep -qx "$SVC_USER" || fail "the unattended renewal is not the service's in the audit trail"
stop_service
echo "renew over ACME: ok"
