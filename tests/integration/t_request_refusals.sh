#!/bin/bash
# Every bad request gets a clear error and its documented exit code, and
# leaves the token, the store and the output path as they were.
source "$(dirname "$0")/lib.sh"
setup_env request-refusals
cd "$WORK"

# One good request first, so that "unchanged" means something.
expect_rc 0 cw request --usage Default --offline --out first.pem
snapshot base

refused() { # refused RC TEXT CMD...: exit code, message, nothing changed
	local rc=$1 text=$2
	shift 2
	expect_rc "$rc" "$@"
	expect_err "$text"
	[ ! -e r.pem ] || fail "r.pem was written"
	ls ./*.tmp 2>/dev/null && fail "temporary file left"
	unchanged base
}

R="request --usage Default --offline --out r.pem"

# Usage and host unknown to the topology.
refused 1 "has no usage 'Nope'" cw request --usage Nope --offline --out r.pem
refused 1 "not in the topology" "$CERTWIZ" --no-service --host nope.contoso.test \
	--pin-file pin request --usage Default --offline --out r.pem
# A broken topology: the file, the key path and the reason.
sed 's/\${pool}"/${poool}"/' topology.json >bad-topology.json
sed 's/^file = .*/file = bad-topology.json/' certwiz.conf >bad.conf
refused 1 "usages.Default" "$CERTWIZ" --no-service -c bad.conf --host "$HOST" \
	--pin-file pin $R
expect_err "unknown variable: poool"
# Tokens: none matches, not initialised.
refused 6 "no token matches" cw $R --token "pkcs11:token=nope"
refused 6 "not initialised" cw $R --token "pkcs11:serial="
# Key specs certwiz refuses, or that are not key specs at all.
for k in rsa:1024 rsa:2047 rsa:16384 ec:P-224 ec:secp224r1 ec:P-521 dsa:2048 ec; do
	refused 2 "key spec '$k'" cw $R --key "$k"
done
# Extra names that are not DNS names or addresses.
refused 2 "not a valid DNS name" cw $R --name "bad name.test"
refused 2 "not a valid DNS name" cw $R --name "-x.contoso.test"
# The output: exists (kept as it was), or cannot be created.
echo keep >r.pem
expect_rc 1 cw $R
expect_err "exists (use --force"
[ "$(cat r.pem)" = keep ] || fail "existing file overwritten"
rm r.pem
unchanged base
refused 1 "cannot create" cw request --usage Default --offline --out missing/dir/r.pem
# PINs: pin-value in a URI, readable PIN file, wrong PIN, bad descriptor.
refused 2 "pin-value is refused" cw $R --token "pkcs11:token=web-hsm;pin-value=$PIN"
case "$ERR" in *"$PIN"*) fail "the PIN was echoed" ;; esac
cp pin loose-pin && chmod 644 loose-pin
refused 1 "readable by group or others" "$CERTWIZ" --no-service --host "$HOST" \
	--pin-file loose-pin $R
echo wrong-pin >bad-pin && chmod 600 bad-pin
refused 6 "wrong PIN" "$CERTWIZ" --no-service --host "$HOST" --pin-file bad-pin $R
refused 2 "is not a descriptor" "$CERTWIZ" --no-service --host "$HOST" $R --pin-fd x
refused 2 "reads token PINs from its own configuration" cw $R --pin-fd 0
sed '/^pin_file/d' certwiz.conf >nopin.conf
refused 2 "no terminal" "$CERTWIZ" --no-service -c nopin.conf --host "$HOST" $R </dev/null
# Usage errors.
refused 2 "usage:" cw request --usage Default --out r.pem
refused 2 "usage:" cw request --offline --out r.pem
refused 2 "usage:" cw request --usage Default --offline
refused 2 "usage:" cw request --usage Default --offline --out r.pem --bogus

# Online requests refused before anything is made: an unknown CA profile,
# --ca with --offline or --out, half the EAB credentials, a profile with
# nothing to verify issued chains with (no roots, no [trust] anchors).
printf '[ca "corp"]\nprotocol = acme\ndirectory = https://127.0.0.1:9/dir\n' >>certwiz.conf
refused 1 "no CA profile 'nope'" cw request --usage Default --ca nope
refused 2 "usage:" cw request --usage Default --ca corp --offline --out r.pem
refused 2 "usage:" cw request --usage Default --ca corp --out r.pem
refused 2 "usage:" cw request --usage Default --offline --out r.pem --assign
refused 2 "no terminal to ask for the EAB MAC key" cw request --usage Default \
	--ca corp --eab-kid kid-1 </dev/null
refused 2 "need --eab-kid" cw request --usage Default --ca corp --eab-hmac-file x
refused 1 "nothing to verify the chain of CA 'corp'" cw request --usage Default --ca corp
refused 2 "not a number of seconds" cw request --usage Default --ca corp --wait soon

# Failures after the key was generated: the pair is destroyed, its row
# removed, the CSR file not left behind.
for point in request:after-keygen request:sign; do
	CERTWIZ_FAILPOINT=$point refused 6 "failing at '$point'" cw $R
done
CERTWIZ_FAILPOINT=request:commit refused 1 "failing at 'request:commit'" cw $R

# A second token with the same label makes the URI ambiguous.
softhsm2-util --init-token --free --label "$TOKEN_LABEL" --pin "$PIN" \
	--so-pin "$SO_PIN" >/dev/null
expect_rc 1 cw $R
expect_err "2 tokens match"
[ ! -e r.pem ] || fail "r.pem written for an ambiguous token"

echo "request refusals: ok"
