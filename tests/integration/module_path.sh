#!/bin/bash
# The wizard's path on one token family ($1: a profile in tokens/), set up
# from scratch in the test's folder: tokens; a request for every key spec
# certwiz offers (those the profile says the token cannot make are refused,
# exit 6, nothing changed); each CSR verified and each private key's
# attributes read with pkcs11-tool; then, for the first supported spec,
# import, assign, export, TLS handshakes with the key on the token,
# refresh, audit checkpoint and verify, list --keys.
source "$(dirname "$0")/lib.sh"
TOKEN_KIND=$1
[ "$TOKEN_KIND" = opencryptoki ] && private_mounts "$@"
ENGINE=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1)
[ -n "$ENGINE" ] || exit 77
PROFILE=$SRCDIR/tokens/$TOKEN_KIND.profile
read -r -a SUPPORTED <<<"$(sed -n 's/^supported = //p' "$PROFILE")"
read -r -a REFUSED <<<"$(sed -n 's/^refused = //p' "$PROFILE")"
PIN_COUNTER=$(sed -n 's/^pin_counter = //p' "$PROFILE")
[ ${#SUPPORTED[@]} -gt 0 ] || fail "$PROFILE lists no supported key spec"
setup_env "module-$TOKEN_KIND"
setup_ca
cd "$WORK"

# tokens: the token, its URI, and what certwiz knows of its PIN counter.
expect_rc 0 cw tokens --json
[ "$(jq -r '[.slots[] | select(.label=="web-hsm")] | length' <<<"$OUT")" = 1 ] ||
	fail "web-hsm not listed once: $OUT"
[ "$(jq -r '.slots[] | select(.label=="web-hsm") | .pin_counter' <<<"$OUT")" = "$PIN_COUNTER" ] ||
	fail "pin_counter is not $PIN_COUNTER: $OUT"
expect_rc 0 cw tokens
if [ "$PIN_COUNTER" = none ]; then
	expect_out "no PIN retry counter"
fi

# What the token cannot make is refused before anything is made.
snapshot base
for k in "${REFUSED[@]}"; do
	refused 6 "token '$TOKEN_LABEL'" cw request --usage Default --offline --out "no-${k//:/}.csr" --key "$k"
	[ ! -e "no-${k//:/}.csr" ] || fail "CSR written for refused $k"
done

# Every spec it can make: a key made inside, sign only, never leaving it.
declare -A IDS
for k in "${SUPPORTED[@]}"; do
	f=${k//:/}
	expect_rc 0 cw request --usage Default --offline --out "$f.csr" --key "$k" --json
	IDS[$k]=$(jq -r .cka_id <<<"$OUT")
	[ "$(jq -r .key_alg <<<"$OUT")" = "$k" ] || fail "key_alg for $k: $OUT"
	openssl req -in "$f.csr" -noout -verify 2>&1 | grep -q "verify OK" ||
		fail "openssl req -verify $k"
	TEXT=$(openssl req -in "$f.csr" -noout -text)
	csr_sigalg "$TEXT" "$k"
	OBJ=$(pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login \
		--pin "$PIN" --list-objects --type privkey --id "${IDS[$k]}" 2>/dev/null)
	grep -q "Access:     sensitive, always sensitive, never extractable, local" <<<"$OBJ" ||
		fail "$k: private key access flags: $OBJ"
	grep -q "Usage:      sign$" <<<"$OBJ" || fail "$k: private key usage: $OBJ"
done

# The first spec goes the whole way.
KEY=${SUPPORTED[0]}
ID=${IDS[$KEY]}
sign_csr "${KEY//:/}.csr" leaf.pem 90
cat leaf.pem ca/int.pem >response.pem
expect_rc 0 cw import response.pem --json
CERT=$(jq -r .certificate_id <<<"$OUT")
SHA=$(jq -r .sha256 <<<"$OUT")
[ "$(jq -r .chain_length <<<"$OUT")" = 1 ] || fail "chain not stored"
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --read-object \
	--type cert --id "$ID" -o cert.der 2>/dev/null || fail "no certificate object $ID"
cmp cert.der <(openssl x509 -in leaf.pem -outform DER) || fail "certificate on the token differs"
expect_rc 0 cw assign "$CERT" --usage Default
mkdir served
expect_rc 0 cw export --usage Default --out served
grep -q "id=" served/Default.key.uri || fail "exported key URI: $(cat served/Default.key.uri)"

# TLS handshakes signed by the key on the token, the PIN through the
# URI's pin-source: GnuTLS's gnutls-serv (p11-kit) on every family, and
# openssl s_server with libp11's engine (what nginx uses) where the
# profile says it works. gnutls-serv listens on every interface: both
# ends run in a network namespace of their own, with only its loopback.
(umask 077 && printf '%s' "$PIN" >engine-pin)
awk '/BEGIN CERT/{n++} n==1' served/Default.chain.pem >served-leaf.pem
awk '/BEGIN CERT/{n++} n>1' served/Default.chain.pem >served-issuers.pem
KEY_URI="$(cat served/Default.key.uri)?pin-source=$WORK/engine-pin"
engine_conf openssl.cnf
cat >tls.sh <<'TLS'
# tls.sh SERVER: one server on 127.0.0.1:4433, s_client until it answers
set -u
ip link set lo up
case $1 in
gnutls) gnutls-serv -p 4433 --provider="$MODULE" --x509certfile=served/Default.chain.pem \
		--x509keyfile="$KEY_URI" >server-$1.log 2>&1 & ;;
engine) OPENSSL_CONF=$WORK/openssl.cnf openssl s_server -accept 127.0.0.1:4433 \
		-engine pkcs11 -keyform engine -key "$KEY_URI" -cert served-leaf.pem \
		-cert_chain served-issuers.pem -www >server-$1.log 2>&1 & ;;
esac
spid=$!
rc=1
for _ in $(seq 1 100); do
	if openssl s_client -connect 127.0.0.1:4433 -servername fe01.contoso.test \
		-CAfile ca/root.pem -verify_return_error -verify_hostname fe01.contoso.test \
		</dev/null >client-$1.log 2>&1; then
		rc=0
		break
	fi
	kill -0 $spid 2>/dev/null || break
	sleep 0.1
done
kill $spid 2>/dev/null
wait $spid 2>/dev/null
exit $rc
TLS
servers=(gnutls)
[ "$(sed -n 's/^openssl_engine = //p' "$PROFILE")" = no ] || servers+=(engine)
for srv in "${servers[@]}"; do
	MODULE=$MODULE KEY_URI=$KEY_URI WORK=$WORK timeout 60 unshare -n bash tls.sh "$srv" ||
		{ cat "server-$srv.log" "client-$srv.log" >&2; fail "TLS handshake ($srv) with the key on $TOKEN_KIND"; }
	grep -q "Verify return code: 0 (ok)" "client-$srv.log" || fail "s_client verify ($srv)"
	served=$(openssl x509 -in "client-$srv.log" -outform DER | sha256sum | cut -d' ' -f1)
	[ "$served" = "$SHA" ] || fail "another certificate was served ($srv)"
	case $KEY in
	ec:*) grep -q "Peer signature type: ECDSA" "client-$srv.log" || fail "not an ECDSA handshake ($srv)" ;;
	rsa:*) grep -q "Peer signature type: RSA" "client-$srv.log" || fail "not an RSA handshake ($srv)" ;;
	esac
done

# refresh: store and token agree (the other requests' keys are pending).
expect_rc 0 cw refresh --json
[ "$(jq -r '.problems | length' <<<"$OUT")" = 0 ] || fail "refresh problems: $OUT"

# The audit trail, checkpointed with a key the token can make.
expect_rc 0 cw audit checkpoint --json
[ "$(jq -r .audit_key <<<"$OUT")" != null ] || fail "no checkpoint written: $OUT"
expect_rc 0 cw audit verify
expect_out "verified"

# list --keys: every key made above, on this token.
expect_rc 0 cw list --keys --json
for k in "${SUPPORTED[@]}"; do
	[ "$(jq -r "[.keys[] | select(.cka_id==\"${IDS[$k]}\")] | length" <<<"$OUT")" = 1 ] ||
		fail "list --keys lacks $k: $OUT"
done
# A PKCS#12 key of a type the token cannot sign with is not put on it.
for k in "${REFUSED[@]}"; do
	case $k in ec:P-256) ;; *) continue ;; esac
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout soft.key \
		-out soft.csr -subj "/O=Contoso/CN=oauth.contoso.test" \
		-addext "subjectAltName=DNS:oauth.contoso.test" \
		-addext "extendedKeyUsage=serverAuth" 2>/dev/null
	sign_csr soft.csr soft.pem 90
	(umask 077 && echo "CANARY-P12-PASSWORD" >p12.pw)
	openssl pkcs12 -export -inkey soft.key -in soft.pem -certfile ca/int.pem \
		-passout file:p12.pw -out soft.p12
	grep -q '^allow_key_import' certwiz.conf || printf '[policy]\nallow_key_import = true\n' >>certwiz.conf
	snapshot base
	refused 6 "cannot sign with an EC key" cw import soft.p12 --password-file p12.pw
done

# Tokens that share manufacturer, model and serial (every tpm2-pkcs11
# token has serial 0000000000000000) stay two tokens: each key keeps its
# own, and refresh finds every key where the store says it is.
if [ "$(sed -n 's/^serial_unique = //p' "$PROFILE")" = no ]; then
	tpm2_add_token web-hsm-b
	expect_rc 0 cw request --usage WebServicesInternal --offline --out b.csr \
		--key "$KEY" --token "pkcs11:token=web-hsm-b" --json
	IDB=$(jq -r .cka_id <<<"$OUT")
	jq -e '.key_uri | contains("token=web-hsm-b;")' <<<"$OUT" >/dev/null || fail "B's key URI: $OUT"
	sign_csr b.csr b.pem 90
	cat b.pem ca/int.pem >b.resp
	expect_rc 0 cw import b.resp --json
	expect_rc 0 cw assign "$(jq -r .certificate_id <<<"$OUT")" --usage WebServicesInternal
	expect_rc 0 cw export --usage WebServicesInternal --out served
	grep -q "token=web-hsm-b;" served/WebServicesInternal.key.uri || fail "B's export: $(cat served/WebServicesInternal.key.uri)"
	grep -q "token=web-hsm;" served/Default.key.uri || fail "A's export: $(cat served/Default.key.uri)"
	[ "$(sqlite3 state/store.db 'select count(*) from tokens')" = 2 ] || fail "the two tokens are one row"
	expect_rc 0 cw list --keys --json
	[ "$(jq -r ".keys[] | select(.cka_id==\"$IDB\") | .token.label" <<<"$OUT")" = web-hsm-b ] || fail "B's key: $OUT"
	[ "$(jq -r ".keys[] | select(.cka_id==\"$ID\") | .token.label" <<<"$OUT")" = web-hsm ] || fail "A's key: $OUT"
	expect_rc 0 cw refresh --json
	[ "$(jq -r '.problems | length' <<<"$OUT")" = 0 ] || fail "refresh with two tokens: $OUT"
fi

# Module set-up faults: exit 6 and what to check.
oneshot() { "$CERTWIZ" --host "$HOST" --no-service --pin-file "$WORK/pin" "$@"; }
case $TOKEN_KIND in
opencryptoki)
	kill "$(cat /run/pkcsslotd.pid)"
	for _ in $(seq 1 100); do [ -e /run/pkcsslotd.pid ] || break; sleep 0.05; done
	expect_rc 6 cw tokens
	expect_err "pkcsslotd"
	;;
tpm2-pkcs11)
	expect_rc 6 env -u TPM2_PKCS11_STORE "$CERTWIZ" --host "$HOST" --no-service --pin-file "$WORK/pin" tokens
	expect_err "TPM2_PKCS11_STORE is not set"
	expect_rc 6 env TPM2_PKCS11_TCTI=swtpm:host=127.0.0.1,port=1 "$CERTWIZ" --host "$HOST" --no-service --pin-file "$WORK/pin" tokens
	expect_err "TPM2_PKCS11_TCTI"
	;;
esac
echo "module path on $TOKEN_KIND: ok"
