#!/bin/bash
# What an operator hits with bad input: each case gets its clear message and
# exit code, and the store and the token are left as they were. (Crashes,
# hangs and silent acceptance found by trying certwiz as a new operator.)
source "$(dirname "$0")/lib.sh"
setup_env operator
setup_ca
cd "$WORK"

expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --offline --out a.csr
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
expect_rc 0 cw import a.resp
expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --offline --out b.csr
sign_csr b.csr b.pem 90
cat b.pem ca/int.pem >b.resp
expect_rc 0 cw import b.resp
snapshot base

R="request --usage OAuthTokenIssuer --key ec:P-256 --offline"

# An all-digit prefix that matches several thumbprints: the message, no
# crash. (The thumbprints are made to share a prefix in a copy of the
# store the service then uses.)
cp -p state/store.db saved.db
sqlite3 state/store.db "update certificates set sha256 = '1387' || substr(sha256, 5)"
expect_rc 1 cw assign 1387 --usage OAuthTokenIssuer
expect_err "'1387' matches several certificates"
grep -q "ended by signal" certwizd.log && fail "the worker crashed"
cp -p saved.db state/store.db
rm -f state/store.db-wal state/store.db-shm
unchanged base

# A FIFO given to import: refused at once, never waited on.
mkfifo fifo
start=$(date +%s)
refused 2 "is not a regular file" timeout 20 "$CERTWIZ" --host "$HOST" import fifo
[ $(($(date +%s) - start)) -lt 10 ] || fail "import waited on the FIFO"
# --force replaces a file, never a device node (a device of the test's own).
mknod dev c 1 3
refused 1 "not a regular file; --force replaces only a regular file" cw $R --out dev --force
[ -c dev ] || fail "the device node was replaced"
# A missing folder for the output: said as such.
refused 1 "the folder 'missing/dir' does not exist" cw $R --out missing/dir/r.csr
mkdir -p exp
expect_rc 0 cw assign 1 --usage OAuthTokenIssuer
snapshot base
refused 1 "the folder 'nowhere/x' does not exist" cw export --usage OAuthTokenIssuer --out nowhere/x
# An empty PIN file: refused before the token is asked (no login spent).
install -m 600 /dev/null empty-pin
refused 1 "the PIN for token 'web-hsm' is empty" "$CERTWIZ" --no-service --host "$HOST" \
	--pin-file empty-pin $R --out r.csr
# A date that does not exist, names that are not names, an option twice.
refused 2 "cannot read '2027-02-30'" cw assign 1 --usage OAuthTokenIssuer --effective-at 2027-02-30
for ip in 300.1.1.1 10.0.0.300; do
	refused 2 "'$ip' is not a valid IP address" cw $R --out r.csr --name "$ip"
done
refused 2 "xn--" cw $R --out r.csr --name bücher.contoso.test
refused 2 "--out is given twice" cw $R --out r.csr --out s.csr
[ ! -e r.csr ] && [ ! -e s.csr ] || fail "a CSR was written"
# Conflicting options: the reason, and the synopsis once.
refused 2 "--assign and the --eab options are for online requests" cw $R --out r.csr --assign
[ "$(grep -c '^usage:' <<<"$ERR")" = 1 ] || fail "usage printed $(grep -c '^usage:' <<<"$ERR") times"
refused 2 "as are --ca-reference, --ca-secret-file" cw $R --out r.csr --template WebServer
refused 2 "as are --ca-reference, --ca-secret-file" cw $R --out r.csr --ca-reference ra-1
refused 2 "--offline and --ca exclude each other" cw $R --out r.csr --ca corp

# A topology that gives no names, or an empty one: refused by name.
jq '.usages.OAuthTokenIssuer.names = []' topology.json >no-names.json
refused 1 "usages.OAuthTokenIssuer.names" cw topology check no-names.json
: >empty.json
refused 1 "empty.json: the topology document is empty" cw topology check empty.json

# The configuration: an admin group that does not exist.
sed 's/^\[service\]/[policy]\nadmin_group = no-such-group\n&/' certwiz.conf >bad-group.conf
refused 1 "admin_group 'no-such-group'" "$CERTWIZ" --no-service -c bad-group.conf \
	--host "$HOST" --pin-file pin status

# A global option after the verb is honoured: the PIN file of a one-shot run.
stop_service
cp certwiz.conf with-pin.conf
sed -i '/^pin_file/d' certwiz.conf
CW_MODE=oneshot
expect_rc 0 "$CERTWIZ" --host "$HOST" status --pin-file pin
expect_rc 0 "$CERTWIZ" --host "$HOST" $R --out c.csr --pin-file pin
[ -s c.csr ] || fail "no CSR with --pin-file after the verb"
# and a secret with no terminal names the options that give it
expect_rc 2 "$CERTWIZ" --host "$HOST" $R --out d.csr </dev/null
expect_err "give it with --pin-file F or --pin-fd N"
cp with-pin.conf certwiz.conf
start_service
CW_MODE=service

# A user outside the admin group makes an offline request: no word of a
# refusal on the way.
make_user REQUESTER
OUTDIR=$(mktemp -d)
chown "$REQUESTER" "$OUTDIR"
expect_rc 0 runuser -u "$REQUESTER" -- "$CERTWIZ" request --usage Default --offline \
	--out "$OUTDIR/u.csr"
case "$ERR" in *"ermission denied"*) fail "a refusal printed before a success: $ERR" ;; esac
rm -rf "$OUTDIR"
echo "operator: ok"
