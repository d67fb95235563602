#!/bin/bash
# Each reason assign refuses a certificate, with nothing changed; and the
# greyed-out buttons of remove and view.
source "$(dirname "$0")/lib.sh"
setup_env assign-refusals
setup_ca
cd "$WORK"

# issue NAME SIGNER REQUEST-ARGS...: SIGNER is a command that signs $csr
# into $pem; sets CERT.
issue() {
	local name=$1 signer=$2
	shift 2
	expect_rc 0 cw request --offline --out "$name.csr" "$@"
	csr=$name.csr pem=$name.pem
	$signer
	cat "$name.pem" ca/int.pem >"$name.resp"
	expect_rc 0 cw import "$name.resp" --json ${ACCEPT:+--accept-mismatch}
	CERT=$(jq -r .certificate_id <<<"$OUT")
	SHA=$(jq -r .sha256 <<<"$OUT")
}
good() { sign_csr "$csr" "$pem" 90; }
expired() { sign_csr_dated "$csr" "$pem" -400 30; }
future() { sign_csr_dated "$csr" "$pem" 10 30; }
stranger() { # a CA that is not a trust anchor
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout other-ca.key -out other-ca.pem -days 30 -subj "/CN=stranger" \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null
	openssl x509 -req -in "$csr" -CA other-ca.pem -CAkey other-ca.key \
		-CAcreateserial -copy_extensions copy -days 30 -out "$pem" 2>/dev/null
}

issue ok good --usage Default
OK=$CERT OK_SHA=$SHA
ACCEPT=1 issue old expired --usage Default
OLD=$CERT
ACCEPT=1 issue early future --usage Default
EARLY=$CERT
issue ext good --usage WebServicesExternal
EXT=$CERT
# All of Default's names, but only serverAuth (OAuthTokenIssuer's EKU).
issue noeku good --usage OAuthTokenIssuer --name pool01.contoso.test \
	--name fe01.contoso.test --name sip.contoso.test --name sip.fabrikam.test \
	--name lyncdiscoverinternal.contoso.test --name lyncdiscoverinternal.fabrikam.test
NOEKU=$CERT
issue strange stranger --usage Default
STRANGE=$CERT
issue lost good --usage Default
LOST=$CERT LOST_ID=$(sqlite3 state/store.db "select k.cka_id from keys k join certificates c on c.key_id=k.id where c.id=$LOST")
for t in privkey pubkey; do
	pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
		--delete-object --type "$t" --id "$LOST_ID" >/dev/null 2>&1
done
snapshot base

refused 1 "no certificate 'deadbeef'" cw assign deadbeef --usage Default
refused 1 "no certificate '99999'" cw assign 99999 --usage Default
refused 2 "too short" cw assign abc --usage Default
refused 1 "has no usage 'Nope'" cw assign "$OK" --usage Nope
refused 1 "cannot serve usage 'Default': expired on" cw assign "$OLD" --usage Default
refused 1 "cannot serve usage 'Default': not yet valid" cw assign "$EARLY" --usage Default
refused 1 "cannot serve usage 'Default': lacks name pool01.contoso.test" cw assign "$EXT" --usage Default
refused 1 "lacks extended key usage clientAuth" cw assign "$NOEKU" --usage Default
refused 1 "does not verify to the trust anchors" cw assign "$STRANGE" --usage Default
refused 1 "is not on token" cw assign "$LOST" --usage Default
# Several usages: one misfit refuses them all.
refused 1 "cannot serve usage 'WebServicesExternal'" cw assign "$OK" --usage Default --usage WebServicesExternal
refused 2 "must be in the future" cw assign "$OK" --usage Default --effective-at 2020-01-01T00:00:00Z
# Valid today, gone by the time it would take over: say so, not "expired".
refused 1 "before the time it would take over" cw assign "$OK" --usage Default \
	--effective-at "$(date -u -d '+100 days' +%Y-%m-%dT%H:%M:%SZ)"
refused 2 "cannot read 'soon'" cw assign "$OK" --usage Default --effective-at soon
refused 2 "usage:" cw assign "$OK"
refused 2 "usage:" cw assign --usage Default
# No trust anchors configured: nothing can be assigned.
grep -v -e '^\[trust\]' -e '^anchors' certwiz.conf >no-anchors.conf
refused 1 "no trust anchors" "$CERTWIZ" --no-service -c no-anchors.conf --host "$HOST" \
	--pin-file pin assign "$OK" --usage Default
# Remove and view with nothing assigned: exit 4.
refused 4 "no certificate is assigned to usage 'Default'" cw remove --usage Default
refused 4 "no certificate is assigned to usage 'Default'" cw view --usage Default
refused 1 "has no usage 'Nope'" cw view --usage Nope

# And the good one goes through, by prefix.
expect_rc 0 cw assign "${OK_SHA:0:8}" --usage Default
echo "assign refusals: ok"
