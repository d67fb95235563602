#!/bin/bash
# Monitoring: 'certwiz check' answers 0/1/2/3 with one line per problem (the
# Nagios convention) for anyone; refresh exits 9 when something needs
# attention; status shows a token the last refresh could not open; export
# refuses a key that is gone.
source "$(dirname "$0")/lib.sh"
setup_env check
setup_ca
cd "$WORK"
# This host serves two usages here.
jq '.hosts["fe01.contoso.test"].usages = ["Default", "OAuthTokenIssuer"]' \
	topology.json >t.json && cat t.json >topology.json

expect_rc 1 cw check
expect_out "CERTWIZ WARNING - fe01.contoso.test: 0 critical, 2 warnings"
expect_out "WARNING usage Default: no certificate assigned"

serve() { # serve USAGE: request, sign (90 days), import, assign; sets KEY_ID
	expect_rc 0 cw request --usage "$1" --key ec:P-256 --offline --out "$1.csr" --json
	KEY_ID=$(jq -r .cka_id <<<"$OUT")
	sign_csr "$1.csr" "$1.pem" 90
	cat "$1.pem" ca/int.pem >"$1.resp"
	expect_rc 0 cw import "$1.resp" --usage "$1"
}
serve Default
DEFAULT_KEY=$KEY_ID
serve OAuthTokenIssuer
OAUTH_KEY=$KEY_ID
expect_rc 0 cw check
[ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || fail "more than the summary: $OUT"
expect_out "CERTWIZ OK - fe01.contoso.test: 2 usages"
expect_rc 0 cw check --json
[ "$(jq -r '.status + " " + (.code | tostring)' <<<"$OUT")" = "OK 0" ] || fail "json: $OUT"
# Expiring within --days: a warning; the default is 30 days.
expect_rc 1 cw check --days 100
expect_out "WARNING usage Default: expires in "
expect_rc 0 cw check --days 30
# Anyone may check; a bad option is the monitoring system's UNKNOWN.
make_user MON
expect_rc 0 runuser -u "$MON" -- "$CERTWIZ" check
expect_rc 3 cw check --days soon
expect_err "not a number of days"
expect_rc 3 cw check extra
# Later, expired: critical; status says how long ago, not "-N days left".
expect_rc 2 faketime -f +100d "$CERTWIZ" --no-service --host "$HOST" --pin-file pin check
expect_out "CERTWIZ CRITICAL - fe01.contoso.test: 2 critical, 0 warnings"
expect_out "CRITICAL usage Default: expired on"
expect_rc 0 faketime -f +100d "$CERTWIZ" --no-service --host "$HOST" --pin-file pin status
expect_out "days ago"
case "$OUT" in *"days left"*) fail "days left of an expired certificate: $OUT" ;; esac

# The token gone (its folder moved away): refresh says so and exits 9,
# status shows it until a refresh opens it again, check is critical.
mkdir -p away
mv tokens/* away/
expect_rc 9 cw refresh --json
jq -e '.problems[] | select(.kind == "token-unreachable")' <<<"$OUT" >/dev/null ||
	fail "token-unreachable: $OUT"
expect_rc 0 cw status --usage Default --json
jq -e '.usages[0].problems[] | select(startswith("token '"'"'web-hsm'"'"' could not be opened at the last refresh"))' \
	<<<"$OUT" >/dev/null || fail "status does not show the token: $OUT"
expect_rc 2 cw check
expect_out "CRITICAL usage Default: token 'web-hsm' could not be opened"
mv away/* tokens/
expect_rc 0 cw refresh
expect_rc 0 cw check

# A key deleted outside certwiz: refresh exits 9 (and again while its
# certificate is assigned), check is critical, export refuses it.
for t in privkey pubkey; do
	pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
		--delete-object --type "$t" --id "$OAUTH_KEY" >/dev/null 2>&1
done
expect_rc 9 cw refresh
expect_out "PROBLEM key-missing"
expect_rc 9 cw refresh
expect_out "still missing"
expect_rc 2 cw check
expect_out "CRITICAL usage OAuthTokenIssuer: key missing from the token"
mkdir -p exp
expect_rc 1 cw export --usage OAuthTokenIssuer --out exp
expect_err "nothing is exported for usage 'OAuthTokenIssuer'"
[ -z "$(ls exp)" ] || fail "export wrote $(ls exp)"
expect_rc 0 cw export --usage Default --out exp
[ -s exp/Default.key.uri ] || fail "Default not exported"
echo "check: ok"
