#!/bin/bash
# The wizard, narrated, on the offline path, through the service: a fresh
# SoftHSM2 token and store in STATE laid out as an installation (the token
# folder, the store folder and the PIN file belong to the service's user
# 'certwiz'; the configuration to root), certwizd started on a socket of
# its own, a request by a user outside the admin group (nobody), openssl as
# the offline CA, the import, the assignment to the host's usages, status,
# view, export for a TLS server, and the audit trail's verification.
# Needs root and the user 'certwiz' (scripts/deps.sh makes it).
# usage: offline-demo.sh CERTWIZ [STATE]
set -eu
CERTWIZ=$(realpath "$1")
CERTWIZD=$(dirname "$CERTWIZ")/certwizd
SRC=$(cd "$(dirname "$0")/.." && pwd)
STATE=$(realpath -m "${2:-/tmp/certwiz-demo}")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

module=
for p in $(sed -n 's/^module_path = //p' "$SRC/tokens/softhsm2.profile"); do
	[ -e "$p" ] && module=$p && break
done
[ -n "$module" ] || { echo "SoftHSM2 module not found" >&2; exit 1; }
id certwiz >/dev/null 2>&1 || { echo "no user 'certwiz' (scripts/deps.sh makes it)" >&2; exit 1; }

rm -rf "$STATE"
mkdir -p "$STATE/tokens" "$STATE/ca" "$STATE/store" "$STATE/run"
chmod 755 "$STATE"
sed "s|@TOKENDIR@|$STATE/tokens|" "$SRC/tokens/softhsm2.conf.in" >"$STATE/softhsm2.conf"
export SOFTHSM2_CONF="$STATE/softhsm2.conf"
PIN=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$PIN" >"$STATE/pin")
cp "$SRC/examples/topology-sfb.json" "$STATE/topology.json"
cat >"$STATE/certwiz.conf" <<CONF
[store]
path = store/store.db
[token]
uri = pkcs11:token=demo-hsm
module = $module
pin_file = pin
[topology]
file = topology.json
host = fe01.contoso.test
[trust]
anchors = ca/root.pem
[service]
socket = run/certwiz.sock
CONF
export CERTWIZ_CONF="$STATE/certwiz.conf"
cd "$STATE"
cw() { run "$CERTWIZ" "$@"; }

step "A throwaway SoftHSM2 token (its own SOFTHSM2_CONF under $STATE)"
softhsm2-util --init-token --free --label demo-hsm --pin "$PIN" --so-pin "$PIN" >/dev/null
# the service's user alone reads the token, the store and the PIN
chown -R certwiz: tokens store pin
chmod 700 store
run ls -l "$STATE"

step "certwizd: the only process that reads the PIN, the store and the token"
"$CERTWIZD" --config "$CERTWIZ_CONF" 2>"$STATE/certwizd.log" </dev/null >/dev/null &
SVC=$!
trap 'kill $SVC 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S run/certwiz.sock ] && break; sleep 0.05; done
run ps -o user,pid,args -p "$SVC"
cw tokens

step "The store is made once, explicitly (every other command refuses a missing one)"
cw init

step "What the topology asks of host fe01.contoso.test"
cw topology show

step "A user outside the admin group (nobody) asks for a certificate offline"
OUT=$(mktemp -d)
chown nobody "$OUT"
run runuser -u nobody -- "$CERTWIZ" request --usage Default \
	--usage WebServicesInternal --offline --out "$OUT/fe01.csr"
run ls -l "$OUT/fe01.csr"
run openssl req -in "$OUT/fe01.csr" -noout -verify
printf '%s\n' "... and may do nothing else (exit 5, recorded):"
runuser -u nobody -- "$CERTWIZ" request --usage Default --offline \
	--out "$OUT/other.csr" --name evil.example || true
cp "$OUT/fe01.csr" fe01.csr
rm -rf "$OUT"

step "An offline CA (openssl) signs the CSR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca/root.key \
	-out ca/root.pem -days 365 -subj "/CN=demo offline CA" 2>/dev/null
run openssl x509 -req -in fe01.csr -CA ca/root.pem -CAkey ca/root.key -CAcreateserial \
	-copy_extensions copy -days 90 -out fe01.pem
cat fe01.pem ca/root.pem >fe01-response.pem

step "Import (root): the certificate lands on the token beside its key, and in the store"
cw import fe01-response.pem
run runuser -u certwiz -- pkcs11-tool --module "$module" --token-label demo-hsm --list-objects

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

step "What certwizd logged"
cat "$STATE/certwizd.log"
printf '\nstate kept in %s (delete it when done)\n' "$STATE"
