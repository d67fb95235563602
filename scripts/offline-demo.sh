#!/bin/bash
# The wizard, narrated, on the offline path: a fresh SoftHSM2 token and
# store in STATE, a request, openssl as the offline CA, the import, the
# assignment to the host's usages, status, view, export for a TLS server,
# and the audit trail's verification.
# usage: offline-demo.sh CERTWIZ [STATE]
set -eu
CERTWIZ=$(realpath "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
STATE=$(realpath -m "${2:-$SRC/demo-state}")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

module=
for p in $(sed -n 's/^module_path = //p' "$SRC/tokens/softhsm2.profile"); do
	[ -e "$p" ] && module=$p && break
done
[ -n "$module" ] || { echo "SoftHSM2 module not found" >&2; exit 1; }

rm -rf "$STATE"
mkdir -p "$STATE/tokens" "$STATE/ca"
sed "s|@TOKENDIR@|$STATE/tokens|" "$SRC/tokens/softhsm2.conf.in" >"$STATE/softhsm2.conf"
export SOFTHSM2_CONF="$STATE/softhsm2.conf"
PIN=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$PIN" >"$STATE/pin")
cp "$SRC/examples/topology-sfb.json" "$STATE/topology.json"
cat >"$STATE/certwiz.conf" <<CONF
[store]
path = store.db
[token]
uri = pkcs11:token=demo-hsm
module = $module
[topology]
file = topology.json
[trust]
anchors = ca/root.pem
CONF
export CERTWIZ_CONF="$STATE/certwiz.conf"
cd "$STATE"
cw() { run "$CERTWIZ" --host fe01.contoso.test --pin-file "$STATE/pin" "$@"; }

step "A throwaway SoftHSM2 token (its own SOFTHSM2_CONF under $STATE)"
softhsm2-util --init-token --free --label demo-hsm --pin "$PIN" --so-pin "$PIN" >/dev/null
cw tokens

step "What the topology asks of host fe01.contoso.test"
cw topology show

step "Request: key pair generated in the token, CSR signed by the token"
cw request --usage Default --usage WebServicesInternal --offline --out fe01.csr --key ec:P-256
run openssl req -in fe01.csr -noout -verify

step "An offline CA (openssl) signs the CSR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca/root.key \
	-out ca/root.pem -days 365 -subj "/CN=demo offline CA" 2>/dev/null
run openssl x509 -req -in fe01.csr -CA ca/root.pem -CAkey ca/root.key -CAcreateserial \
	-copy_extensions copy -days 90 -out fe01.pem
cat fe01.pem ca/root.pem >fe01-response.pem

step "Import: the certificate lands on the token beside its key, and in the store"
cw import fe01-response.pem
run pkcs11-tool --module "$module" --token-label demo-hsm --list-objects

step "Status: each usage of the host, and what can be done with it now"
cw status

step "Assign: the certificate serves both usages"
fp=$(openssl x509 -in fe01.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
cw assign "${fp:0:16}" --usage Default --usage WebServicesInternal
cw status --usage WebServicesInternal

step "View: the certificate serving a usage, and where its key is"
cw view --usage WebServicesInternal

step "Export: what a TLS server's configuration needs (the key stays on the token)"
mkdir -p export
cw export --usage WebServicesInternal --out export
run ls export

step "What the store knows, and the audit trail of every change"
cw list
cw audit show
cw audit checkpoint
cw audit verify
printf '\nstate kept in %s (delete it when done)\n' "$STATE"
