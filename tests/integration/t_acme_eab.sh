#!/bin/bash
# Alternate CA credentials: pebble requires external account binding.
# Without credentials the request is refused with a clear message and kept;
# a wrong MAC key is refused by the CA; a readable key file is refused
# before use; the right credentials, given per run (--eab-kid,
# --eab-hmac-file) or in the CA profile, get the certificate. The MAC keys
# appear in no output, log, store or audit record.
source "$(dirname "$0")/lib.sh"
setup_env acme-eab
source "$(dirname "$0")/pebble.sh"
setup_pebble eab
cd "$WORK"
EXTRA_CANARIES=$(printf '%s\n%s' "$EAB_KEY1" "$EAB_KEY2")
umask 077
printf '%s\n' "$EAB_KEY1" >eab1.pw
printf '%s\n' "$EAB_KEY2" >eab2.pw
head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d = >wrong.pw
umask 022

# No credentials: refused, the request kept (state created), audited.
expect_rc 7 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble --json
expect_err "requires an external account binding"
jq -e '.request_id == 1 and .state == "created"' <<<"$OUT" >/dev/null ||
	fail "request not kept: $OUT"
audit_ops | grep -q "^acme-account-refused failure" || fail "refusal not audited"

# A key id alone: the MAC key is asked for on the terminal, and there is
# none here.
expect_rc 2 cw pending process --eab-kid kid-1 </dev/null
expect_err "no terminal to ask for the EAB MAC key"
# A key file others can read: refused before use.
cp eab1.pw loose.pw && chmod 644 loose.pw
expect_rc 1 cw pending process --eab-kid kid-1 --eab-hmac-file loose.pw
expect_err "loose.pw"
# A wrong MAC key: the CA refuses; the request stays open.
expect_rc 7 cw pending process --eab-kid kid-1 --eab-hmac-file wrong.pw
expect_err "did not register the account"
[ "$(sqlite3 state/store.db "select state from requests where id = 1")" = created ] ||
	fail "refused credentials closed the request"
# The right ones, on a descriptor.
expect_rc 0 cw pending process --eab-kid kid-1 --eab-hmac-fd 3 --json 3<eab1.pw
jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "not issued: $OUT"
[ "$(sqlite3 state/store.db "select url is not null from acme_accounts
	where ca = 'pebble'")" = 1 ] || fail "account not recorded"
# The account is reused: no credentials needed any more.
expect_rc 0 cw request --usage WebServicesInternal --key ec:P-256 --ca pebble

# Credentials in a CA profile.
sed -n '/^\[ca "pebble"\]/,$p' certwiz.conf |
	sed 's/^\[ca "pebble"\]/[ca "pebble-eab"]/' >>certwiz.conf
printf 'eab_kid = kid-2\neab_hmac_file = eab2.pw\n' >>certwiz.conf
# the profile's MAC key is the service's to read
chown "$SVC_USER" eab2.pw
expect_rc 0 cw request --usage WebServicesInternal --key ec:P-256 \
	--ca pebble-eab --json
jq -e '.state == "issued"' <<<"$OUT" >/dev/null || fail "profile EAB: $OUT"
[ "$(sqlite3 state/store.db "select count(*) from acme_accounts")" = 2 ] ||
	fail "one account per profile expected"
audit_ops | grep -c "^acme-account-registered success" | grep -qx 2 ||
	fail "registrations not audited"
expect_rc 0 cw audit export --out audit.jsonl
expect_rc 0 cw audit verify
echo "acme eab: ok"
