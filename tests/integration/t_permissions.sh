#!/bin/bash
# Permissions enforced by the operating system: the store belongs to root
# and the admin group; anyone may make an offline request (it waits in the
# spool); everything else is for administrators, and a refusal exits 5,
# names the group and is audited. Needs root (to create the test users).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || exit 77
command -v useradd >/dev/null && command -v runuser >/dev/null || exit 77
setup_env permissions
setup_ca
cd "$WORK"
GROUP=certwiz-admins
getent group $GROUP >/dev/null || groupadd $GROUP
id cwtest-user >/dev/null 2>&1 || useradd -M -N -s /bin/sh cwtest-user
id cwtest-admin >/dev/null 2>&1 || useradd -M -N -G $GROUP -s /bin/sh cwtest-admin
id -nG cwtest-user | grep -qw $GROUP && fail "cwtest-user is an admin"

# The layout an installer makes: the store's folder belongs to root and the
# admin group. (Test only: the throwaway token is opened to the test users.)
chmod 755 "$WORK"
chgrp $GROUP state && chmod 2771 state
open_token() { chmod -R a+rwX "$WORK/tokens"; }
expect_rc 0 cw request --usage Default --offline --out root.csr
[ "$(stat -c '%U:%G %a' state/store.db)" = "root:$GROUP 660" ] || fail "store mode: $(stat -c '%U:%G %a' state/store.db)"
[ "$(stat -c '%U:%G %a' state/spool)" = "root:$GROUP 3773" ] || fail "spool mode: $(stat -c '%U:%G %a' state/spool)"

as() { # as USER ARGS...: certwiz as USER, with USER's own PIN file
	local who=$1
	shift
	open_token
	runuser -u "$who" -- env SOFTHSM2_CONF="$SOFTHSM2_CONF" CERTWIZ_CONF="$CERTWIZ_CONF" \
		"$CERTWIZ" --host "$HOST" --pin-file "$WORK/home-$who/pin" "$@"
}
for who in cwtest-user cwtest-admin; do
	mkdir -p "home-$who"
	cp pin "home-$who/pin"
	chown -R "$who" "home-$who"
	chmod 700 "home-$who" && chmod 600 "home-$who/pin"
done

# A user outside the group: an offline request works, through the spool.
expect_rc 0 as cwtest-user request --usage Default --offline --out "$WORK/home-cwtest-user/req.pem" --json
[ "$(jq -r .request_id <<<"$OUT")" = null ] || fail "a non-admin wrote the store"
SPOOLED=$(jq -r .spooled <<<"$OUT")
[ -f "state/spool/$SPOOLED" ] || fail "nothing in the spool"
[ "$(stat -c %U "state/spool/$SPOOLED")" = cwtest-user ] || fail "spool file owner"
openssl req -in home-cwtest-user/req.pem -noout -verify 2>&1 | grep -q "verify OK" || fail "user's CSR"

# Every administrators' verb: exit 5, the group named. USER in the
# environment changes nothing: identity comes from the kernel.
printf '[ca "corp"]\nprotocol = acme\ndirectory = https://127.0.0.1:9/dir\n' >>certwiz.conf
for verb in "assign 1 --usage Default" "remove --usage Default" "import root.csr" \
	"refresh" "audit checkpoint" "request --usage Default --ca corp" \
	"pending process"; do
	expect_rc 5 as cwtest-user $verb
	expect_err "needs membership in group '$GROUP'"
done
open_token
expect_rc 5 runuser -u cwtest-user -- env USER=root LOGNAME=root SOFTHSM2_CONF="$SOFTHSM2_CONF" \
	CERTWIZ_CONF="$CERTWIZ_CONF" "$CERTWIZ" --host "$HOST" assign 1 --usage Default
# The files say no as well: neither certwiz nor the sqlite3 shell gets in.
expect_rc 5 as cwtest-user status
expect_err "permission denied"
if runuser -u cwtest-user -- sqlite3 "$WORK/state/store.db" "DELETE FROM assignments" 2>sql.err; then
	fail "the user altered the store"
fi
grep -Eqi "unable to open|readonly|permission" sql.err || fail "sqlite3: $(cat sql.err)"

# An administrator's next command takes the spool in: the request, with the
# requester from the file's owner, and each refusal, audited as denied.
expect_rc 0 cw refresh
expect_rc 0 cw list --requests --json
[ "$(jq -r '[.requests[] | select(.created_by=="cwtest-user")] | length' <<<"$OUT")" = 1 ] ||
	fail "spooled request not taken in: $OUT"
[ ! -e "state/spool/$SPOOLED" ] || fail "spool file left"
[ "$(sqlite3 state/store.db "select count(*) from audit where user='cwtest-user' and operation='permission-denied' and outcome='denied'")" = 8 ] ||
	fail "denials: $(sqlite3 state/store.db "select user, operation, outcome from audit")"
[ "$(sqlite3 state/store.db "select count(*) from audit where user='cwtest-user' and uid=$(id -u cwtest-user) and operation='request-created'")" = 1 ] ||
	fail "request not audited as the user's"
expect_rc 0 cw refresh
[ "$(sqlite3 state/store.db "select count(*) from requests")" = 2 ] || fail "taken in twice"

# The CA answers the user's CSR; an administrator imports it.
sign_csr home-cwtest-user/req.pem user.pem 90
cat user.pem ca/int.pem >user.resp
expect_rc 0 cw import user.resp --json
CERT=$(jq -r .certificate_id <<<"$OUT")
[ "$(jq -r .request_id <<<"$OUT")" != null ] || fail "not matched to the user's request"
# A member of the admin group (not root) may assign.
expect_rc 0 as cwtest-admin assign "$CERT" --usage Default
[ "$(sqlite3 state/store.db "select user from audit where operation='assignment-made' order by seq desc limit 1")" = cwtest-admin ] ||
	fail "assignment not audited as cwtest-admin"
expect_rc 0 cw audit verify
echo "permissions: ok"
