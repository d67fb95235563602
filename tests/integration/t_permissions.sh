#!/bin/bash
# Who may do what, through the service (certwizd as its own user, on a
# socket any local user reaches): users made with useradd, the store, PIN
# file and token folder in production modes. A user outside the admin
# group makes an offline request end to end and an administrator imports
# and assigns it; that user reads nothing secret and can do nothing else:
# each refusal exits 5, changes nothing and is audited with the identity
# the kernel gives.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || exit 77
command -v useradd >/dev/null && command -v runuser >/dev/null || exit 77
setup_env permissions
setup_ca
cd "$WORK"
make_group ADMINS
make_user USER1
make_user ADMIN1 "$ADMINS"
printf '[policy]\nadmin_group = %s\n' "$ADMINS" >>certwiz.conf
sed -i 's|^\[service\]$|&\nmax_pending_per_user = 3|' certwiz.conf
mkdir -p "home-$USER1" "home-$ADMIN1"
chown "$USER1" "home-$USER1"
chown "$ADMIN1" "home-$ADMIN1"
as() { # as USER ARGS...: certwiz as USER (nothing but the configuration)
	local who=$1
	shift
	runuser -u "$who" -- env CERTWIZ_CONF="$CERTWIZ_CONF" "$CERTWIZ" "$@"
}

# The installed layout: the service's files are its own.
[ "$(stat -c '%U %a' state)" = "$SVC_USER 700" ] || fail "store folder: $(stat -c '%U %a' state)"
expect_rc 0 cw status
[ "$(stat -c '%U %a' state/store.db)" = "$SVC_USER 600" ] || fail "store: $(stat -c '%U %a' state/store.db)"
[ "$(stat -c '%U %a' pin)" = "$SVC_USER 600" ] || fail "PIN file"

# 1. A user outside the admin group: an offline request, end to end. The
# CSR is written by the client, as the user.
snapshot before
expect_rc 0 as "$USER1" request --usage Default --offline --out "$WORK/home-$USER1/req.pem" --json
REQ=$(jq -r .request_id <<<"$OUT")
[ "$REQ" != null ] || fail "no request id: $OUT"
[ "$(stat -c %U "home-$USER1/req.pem")" = "$USER1" ] || fail "CSR not written as the user"
openssl req -in "home-$USER1/req.pem" -noout -verify 2>&1 | grep -q "verify OK" || fail "user's CSR"
[ "$(sqlite3 state/store.db "select created_by || ' ' || created_uid from requests where id=$REQ")" = "$USER1 $(id -u "$USER1")" ] ||
	fail "request not recorded as the user's"
[ "$(sqlite3 state/store.db "select count(*) from audit where user='$USER1' and uid=$(id -u "$USER1") and operation='request-created'")" = 1 ] ||
	fail "request not audited as the user's"
# the names are the topology's for this host
openssl req -in "home-$USER1/req.pem" -noout -text | grep -q "DNS:pool01.contoso.test" || fail "names"

# 2. Nothing secret is within the user's reach: the PIN file, the token
# folder, the store, the service's lock.
for f in pin state/store.db state/tokens.lock; do
	if runuser -u "$USER1" -- cat "$WORK/$f" >/dev/null 2>&1; then
		fail "$USER1 can read $f"
	fi
done
for d in state tokens/*; do
	if runuser -u "$USER1" -- ls "$WORK/$d" >/dev/null 2>&1; then
		fail "$USER1 can list $d"
	fi
done
if runuser -u "$USER1" -- flock -n "$WORK/state/tokens.lock" true 2>/dev/null; then
	fail "$USER1 can take the service's lock"
fi
if runuser -u "$USER1" -- sqlite3 "$WORK/state/store.db" "DELETE FROM assignments" 2>sql.err; then
	fail "the user altered the store"
fi
# Nor within an administrator's: the old route to root (a link swapped into
# a folder root fixed by path) has no folder to swap in.
for f in pin state/store.db; do
	if runuser -u "$ADMIN1" -- cat "$WORK/$f" >/dev/null 2>&1; then
		fail "$ADMIN1 can read $f"
	fi
done
if runuser -u "$ADMIN1" -- ln -s /etc/shadow "$WORK/state/store.db-wal" 2>/dev/null ||
	runuser -u "$ADMIN1" -- touch "$WORK/state/x" 2>/dev/null; then
	fail "$ADMIN1 can write the store's folder"
fi
# the token is not even visible to the user's own PKCS#11 tools
if runuser -u "$USER1" -- env SOFTHSM2_CONF="$SOFTHSM2_CONF" pkcs11-tool --module "$MODULE" \
	--token-label "$TOKEN_LABEL" --login --pin "$PIN" --list-objects >p11.out 2>&1; then
	fail "the user reached the token: $(cat p11.out)"
fi

# 3. Everything else: exit 5, the group named, audited, nothing changed.
snapshot base
printf '[ca "corp"]\nprotocol = acme\ndirectory = https://127.0.0.1:9/dir\n' >>certwiz.conf
DENIED=0
for verb in "assign 1 --usage Default" "remove --usage Default" "import home-$USER1/req.pem" \
	"refresh" "audit checkpoint" "audit verify" "tokens" "export --usage Default --out home-$USER1" \
	"request --usage Default --ca corp" "pending process"; do
	expect_rc 5 as "$USER1" $verb
	expect_err "needs membership in group '$ADMINS'"
	DENIED=$((DENIED + 1))
done
# forged names, host, key, token: the topology decides, not the caller
for extra in "--name evil.example" "--host fe02.contoso.test" "--key rsa:4096" \
	"--token pkcs11:token=$TOKEN_LABEL"; do
	expect_rc 5 as "$USER1" request --usage Default --offline --out "home-$USER1/x.pem" $extra
	expect_err "admin group"
	DENIED=$((DENIED + 1))
done
[ ! -e "home-$USER1/x.pem" ] || fail "a refused request wrote its file"
# The identity is the kernel's, whatever the environment says.
expect_rc 5 runuser -u "$USER1" -- env USER=root LOGNAME=root CERTWIZ_CONF="$CERTWIZ_CONF" \
	"$CERTWIZ" assign 1 --usage Default
DENIED=$((DENIED + 1))
unchanged base
[ "$(sqlite3 state/store.db "select count(*) from audit where user='$USER1' and uid=$(id -u "$USER1") and operation='permission-denied' and outcome='denied'")" = $DENIED ] ||
	fail "denials: $(sqlite3 state/store.db "select user, operation, outcome, reason from audit")"
# Reading is open to everyone.
expect_rc 0 as "$USER1" status
expect_rc 0 as "$USER1" list --requests
expect_rc 0 as "$USER1" audit show
expect_rc 0 as "$USER1" pending list --json

# 4. Open requests per user are bounded ([service] max_pending_per_user).
expect_rc 0 as "$USER1" request --usage Default --offline --out "home-$USER1/r2.pem"
expect_rc 0 as "$USER1" request --usage Default --offline --out "home-$USER1/r3.pem"
expect_rc 5 as "$USER1" request --usage Default --offline --out "home-$USER1/r4.pem"
expect_err "3 of your requests are still open"

# 5. A uid the user database does not know: refused.
expect_rc 5 setpriv --reuid 54321 --regid 54321 --clear-groups \
	env CERTWIZ_CONF="$CERTWIZ_CONF" "$CERTWIZ" status
expect_err "not in the user database"
grep -q "uid 54321: not in the user database" certwizd.log || fail "not in the service's log"

# 6. The CA answers the user's CSR; a member of the admin group (not root)
# imports and assigns it, recorded as that member.
sign_csr "home-$USER1/req.pem" user.pem 90
cat user.pem ca/int.pem >"home-$ADMIN1/user.resp"
chown "$ADMIN1" "home-$ADMIN1/user.resp"
expect_rc 0 as "$ADMIN1" import "home-$ADMIN1/user.resp" --json
CERT=$(jq -r .certificate_id <<<"$OUT")
[ "$(jq -r .request_id <<<"$OUT")" = "$REQ" ] || fail "not matched to the user's request"
expect_rc 0 as "$ADMIN1" assign "$CERT" --usage Default
[ "$(sqlite3 state/store.db "select user from audit where operation='assignment-made' order by seq desc limit 1")" = "$ADMIN1" ] ||
	fail "assignment not audited as $ADMIN1"
# The user sees the result.
expect_rc 0 as "$USER1" view --usage Default --json
[ "$(jq -r .certificate_id <<<"$OUT")" = "$CERT" ] || fail "view"
expect_rc 0 cw audit verify
echo "permissions: ok"
