#!/bin/bash
# Benchmarks (not tests). Builds a release build and measures certwiz side
# by side with what users would run instead, on a fresh SoftHSM2 token,
# and writes bench/results.md. certwiz runs as installed: a client talking
# to certwizd (its own user, one per token folder here). Needs root.
#   the service's cost: status and request --offline through certwizd,
#     against the previous release that ran them in-process (built from
#     git history, PREVIOUS below) and against a one-shot certwizd
#   request --offline (EC P-256, RSA-2048) vs pkcs11-tool --keypairgen +
#     openssl req -engine pkcs11, and vs the token's floor (bench/floor.c)
#   import of a CA response vs pkcs11-tool --write-object
#   refresh with 10 and 1,000 certificates on the token vs
#     pkcs11-tool --list-objects
#   request --ca (ACME, a local pebble) vs lego --csr
#   view, status, list --json with 10, 10,000 and 100,000 certificates
#   peak memory (maximum resident set) of each certwiz command.
# The per-token-family section of bench/results.md is bench/modules.sh's,
# the CMP section bench/cmp.sh's; this script keeps them.
# Each comparison runs its commands in alternating rounds (hyperfine, a few
# runs of each command per round), so that both sides see the same
# machine and the same token; ratios are of the medians of all runs.
# usage: bench/run.sh [--quick]   (--quick: fewer runs and smaller sizes)
set -eu
cd "$(dirname "$0")/.."
SRC=$PWD
QUICK=
[ "${1:-}" = --quick ] && QUICK=1
scripts/deps.sh
need=()
for c in hyperfine lego pkcs11-tool; do command -v $c >/dev/null || need+=("$c"); done
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get install -y -qq "${need[@]/pkcs11-tool/opensc}" >/dev/null
fi

BUILD=build-release
cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build $BUILD -j"$(nproc)" --target certwiz certwizd fill_store bench_floor >/dev/null
CW=$SRC/$BUILD/certwiz
CWD=$SRC/$BUILD/certwizd
FLOOR=$SRC/$BUILD/bench_floor
# The last release before the service: certwiz did everything in-process.
PREVIOUS=cbb7250
WORK=$(mktemp -d /tmp/certwiz-bench.XXXXXX)
chmod 755 "$WORK"
BG_PIDS=""
trap 'for p in $BG_PIDS; do kill $p 2>/dev/null || true; done; release_ports; rm -rf "$WORK"; git worktree remove --force "$WORK/previous" 2>/dev/null || true' EXIT
# runs a command as the service's user (the token folder is its own)
AS_SVC="setpriv --reuid=certwiz --regid=certwiz --init-groups"
fail() { echo "bench: $*" >&2; exit 1; }
OUT=$SRC/bench/results.md
HOST=fe01.contoso.test
if [ -n "$QUICK" ]; then
	ROUNDS=2 RUNS=3 SIZES="10 10000" REFRESH_SIZES="10 100"
else
	ROUNDS=5 RUNS=4 SIZES="10 10000 100000" REFRESH_SIZES="10 1000"
fi

# --- statistics (bench/lib.sh) ---------------------------------------------

source "$SRC/bench/lib.sh"
source "$SRC/tests/integration/ports.sh"

# --- a token, a store, a CA ----------------------------------------------

MODULE=$(sed -n 's/^module_path = //p' tokens/softhsm2.profile | while read -r p; do
	[ -e "$p" ] && echo "$p" && break; done)
[ -n "$MODULE" ] || fail "no SoftHSM2 module"
PIN=bench-pin-1234
new_token() { # new_token DIR: a fresh token, store and configuration in DIR,
	# laid out as installed, and a certwizd serving them
	local d=$1
	mkdir -p "$d/tokens" "$d/state" "$d/run"
	chmod 755 "$d"
	chmod 700 "$d/state"
	chown certwiz: "$d/tokens" "$d/state"
	sed "s|@TOKENDIR@|$d/tokens|" tokens/softhsm2.conf.in >"$d/softhsm2.conf"
	SOFTHSM2_CONF="$d/softhsm2.conf" $AS_SVC softhsm2-util --init-token --free \
		--label bench --pin $PIN --so-pin so-$PIN >/dev/null
	(umask 077 && printf '%s\n' $PIN >"$d/pin") && chown certwiz "$d/pin"
	cp examples/topology-sfb.json "$d/topology.json"
	cat >"$d/certwiz.conf" <<CONF
[store]
path = state/store.db
[token]
uri = pkcs11:token=bench
module = $MODULE
pin_file = pin
[topology]
file = topology.json
host = $HOST
[trust]
anchors = ca/root.pem
[service]
socket = run/certwiz.sock
CONF
	mkdir -p "$d/ca"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca/root.key" -out "$d/ca/root.pem" -days 30 \
		-subj "/CN=bench root" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	start_service "$d"
	"$CW" -c "$d/certwiz.conf" init >/dev/null || fail "certwiz init for $d"
}
start_service() { # start_service DIR: certwizd for DIR's configuration
	SOFTHSM2_CONF="$1/softhsm2.conf" "$CWD" --config "$1/certwiz.conf" \
		2>>"$1/certwizd.log" </dev/null &
	BG_PIDS="$BG_PIDS $!"
	for _ in $(seq 100); do [ -S "$1/run/certwiz.sock" ] && return 0; sleep 0.05; done
	fail "certwizd did not start for $1"
}
# The names the topology gives WebServicesInternal on $HOST.
names_of() {
	"$CW" -c "$1/certwiz.conf" --host $HOST topology show --json |
		jq -r '.hosts[0].usages[] | select(.usage=="WebServicesInternal") | .names[]'
}
# sign D CSR OUT: the CA's answer to a CSR (leaf, then the root)
sign() {
	openssl x509 -req -in "$2" -CA "$1/ca/root.pem" -CAkey "$1/ca/root.key" \
		-CAcreateserial -copy_extensions copy -days 30 -out "$3.leaf" 2>/dev/null
	cat "$3.leaf" "$1/ca/root.pem" >"$3"
	rm -f "$3.leaf"
}

{
	echo "# certwiz benchmarks"
	echo
	echo "Generated by \`bench/run.sh${QUICK:+ --quick}\` on $(date -u +%Y-%m-%dT%H:%MZ)."
	echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr);"
	echo "$(grep PRETTY /etc/os-release | cut -d'"' -f2);"
	echo "certwiz $($CW --version | cut -d' ' -f2) (release build), SoftHSM2 $(softhsm2-util --version),"
	echo "OpenSSL $(openssl version | cut -d' ' -f2), OpenSC $(dpkg-query -W -f '${Version}' opensc),"
	echo "libp11 $(dpkg-query -W -f '${Version}' libengine-pkcs11-openssl), SQLite $(sqlite3 --version | cut -d' ' -f1),"
	echo "pebble $(dpkg-query -W -f '${Version}' pebble), lego $(lego --version | awk '{print $3}'), hyperfine $(hyperfine --version | cut -d' ' -f2)."
	echo
	echo "Each comparison ran its commands in $ROUNDS alternating rounds of"
	echo "$RUNS runs each (after a warm-up run), so both sides saw the same"
	echo "machine and the same token as it grew. Times are over all runs:"
	echo "median, standard deviation, min, max; ratios are of the medians."
} >"$OUT.tmp"

# --- the service's cost ----------------------------------------------------

echo "the previous release (in-process), for the service's cost..." >&2
git -C "$SRC" worktree add --detach "$WORK/previous" "$PREVIOUS" >/dev/null 2>&1 ||
	fail "cannot check out $PREVIOUS"
cmake -S "$WORK/previous" -B "$WORK/previous/build" -DCMAKE_BUILD_TYPE=Release \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$WORK/previous/build" -j"$(nproc)" --target certwiz >/dev/null
OLD=$WORK/previous/build/certwiz
# the previous release's layout: root's token, store and PIN file
P=$WORK/prev
mkdir -p "$P/tokens" "$P/state"
sed "s|@TOKENDIR@|$P/tokens|" tokens/softhsm2.conf.in >"$P/softhsm2.conf"
SOFTHSM2_CONF="$P/softhsm2.conf" softhsm2-util --init-token --free \
	--label bench --pin $PIN --so-pin so-$PIN >/dev/null
(umask 077 && printf '%s\n' $PIN >"$P/pin")
cp examples/topology-sfb.json "$P/topology.json"
printf '[store]\npath = state/store.db\n[token]\nuri = pkcs11:token=bench\nmodule = %s\n[topology]\nfile = topology.json\n' \
	"$MODULE" >"$P/certwiz.conf"
S=$WORK/svc
new_token "$S"
for i in 1 2 3; do
	SOFTHSM2_CONF=$P/softhsm2.conf "$OLD" -c "$P/certwiz.conf" --host $HOST --pin-file "$P/pin" \
		request --usage WebServicesInternal --key ec:P-256 --offline --out "$P/r$i.csr" >/dev/null
	"$CW" -c "$S/certwiz.conf" --host $HOST request --usage WebServicesInternal \
		--key ec:P-256 --offline --out "$S/r$i.csr" >/dev/null
done
prev="env SOFTHSM2_CONF=$P/softhsm2.conf $OLD -c $P/certwiz.conf --host $HOST --pin-file $P/pin"
svc="env SOFTHSM2_CONF=$S/softhsm2.conf $CW -c $S/certwiz.conf --host $HOST"
one="env SOFTHSM2_CONF=$S/softhsm2.conf $CW --no-service -c $S/certwiz.conf --host $HOST"
interleave svc-status "$svc status" "$prev status" "$one status"
req="request --usage WebServicesInternal --key ec:P-256 --offline --force --out"
interleave svc-request "$svc $req $S/x.csr" "$prev $req $P/x.csr" "$one $req $S/y.csr"
{
	echo
	echo "## The service's cost: through certwizd against in-process"
	echo
	echo "certwiz is a client of certwizd; the previous release ($PREVIOUS,"
	echo "built here from git history) did the same work in its own process."
	echo "Through the service: the client starts (libc, jansson, inih), sends"
	echo "the command line over the socket, and a worker forked by certwizd"
	echo "(already loaded, OpenSSL and SQLite set up) runs it. One-shot: root's"
	echo "client starts certwizd for the one command, which becomes the service's"
	echo "user first. Each side on a token and store of its own with the same"
	echo "content."
	echo
	echo "### status"
	echo
	table_head
	row svc-status 0 "certwiz status, through certwizd" "$(rss $svc status)"
	row svc-status 1 "previous release, in-process" "$(rss $prev status)"
	row svc-status 2 "certwiz --no-service status (one-shot)"
	echo
	echo "service / in-process: **$(ratio svc-status 0 1)**; one-shot / in-process: $(ratio svc-status 2 1)."
	echo
	echo "### request --offline, EC P-256"
	echo
	table_head
	row svc-request 0 "certwiz request, through certwizd"
	row svc-request 1 "previous release, in-process"
	row svc-request 2 "certwiz --no-service request (one-shot)"
	echo
	echo "service / in-process: **$(ratio svc-request 0 1)**; one-shot / in-process: $(ratio svc-request 2 1)."
	echo
	echo "Peak RSS is the client's for the service (the worker's is certwizd's,"
	echo "shared with it until written)."
} >>"$OUT.tmp"

# --- request --offline -----------------------------------------------------

declare -A RSS
R=$WORK/request
new_token "$R"
export SOFTHSM2_CONF=$R/softhsm2.conf
mapfile -t NAMES < <(names_of "$R")
SAN=$(printf 'DNS:%s,' "${NAMES[@]}")
ENGINE=$(ls /usr/lib/*/engines-3/pkcs11.so | head -1)
cat >"$R/engine.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MODULE
CONF
# What a user would write without certwiz: a key pair on the token with
# pkcs11-tool, then a CSR signed through libp11's engine.
cat >"$R/peer-request" <<SCRIPT
#!/bin/bash
set -e
id=\$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')
$AS_SVC pkcs11-tool --module $MODULE --token-label bench --login --pin $PIN \\
	--keypairgen --key-type "\$1" --id "\$id" --label peer >/dev/null 2>&1
pct=\$(echo "\$id" | sed 's/../%&/g')
OPENSSL_CONF=$R/engine.cnf $AS_SVC openssl req -new -engine pkcs11 -keyform engine \\
	-key "pkcs11:token=bench;id=\$pct;type=private;pin-value=$PIN" \\
	-subj "/O=Contoso/CN=${NAMES[0]}" -addext "subjectAltName=${SAN%,}" \\
	-addext extendedKeyUsage=serverAuth 2>/dev/null >$R/peer.csr
SCRIPT
chmod 755 "$R/peer-request"
cd "$R"
for spec in ec:P-256 rsa:2048; do
	case $spec in ec:*) kt=EC:prime256v1 fl=ec ;; *) kt=rsa:2048 fl=rsa ;; esac
	echo "request --offline $spec..." >&2
	cw_cmd="$CW -c $R/certwiz.conf --host $HOST request --usage WebServicesInternal --key $spec --offline --out $R/cw.csr --force"
	interleave "req-$fl" "$cw_cmd" "$R/peer-request $kt" "$AS_SVC $FLOOR $MODULE bench $R/pin $fl"
	openssl req -in cw.csr -noout -verify 2>&1 | grep -q OK || fail "certwiz CSR"
	openssl req -in peer.csr -noout -verify 2>&1 | grep -q OK || fail "peer CSR"
	RSS[$fl]=$(rss $cw_cmd)
done
cd "$SRC"
{
	echo
	echo "## Request, offline: certwiz against the pipeline without it, and the floor"
	echo
	echo "One key pair generated in the token and a token-signed CSR for the"
	echo "six names of WebServicesInternal. Peer: \`pkcs11-tool --keypairgen\`"
	echo "then \`openssl req -new -engine pkcs11\` (libp11), in a bash script."
	echo "Floor: bench/floor.c, one process doing only the PKCS#11 calls"
	echo "(C_Initialize, login, C_GenerateKeyPair with certwiz's template,"
	echo "one C_Sign, C_Finalize). certwiz also records the intent and the"
	echo "request in SQLite (fsynced), reads the key's attributes back,"
	echo "checks the CKA_ID is free, verifies the CSR and writes it atomically."
	for fl in ec rsa; do
		echo
		echo "### $([ $fl = ec ] && echo 'EC P-256' || echo 'RSA-2048')"
		echo
		table_head
		row "req-$fl" 0 "certwiz request --offline" "${RSS[$fl]}"
		row "req-$fl" 1 "pkcs11-tool + openssl req (peer)"
		row "req-$fl" 2 "floor"
		echo
		echo "certwiz / peer: **$(ratio "req-$fl" 0 1)**; certwiz / floor: **$(ratio "req-$fl" 0 2)**; peer / floor: $(ratio "req-$fl" 1 2)."
		if [ $fl = rsa ]; then
			echo
			echo "SoftHSM2's RSA key generation (a search for primes) varies by a"
			echo "factor of four from one key to the next and dominates all three,"
			echo "so the RSA ratios move by several tenths between runs (a ratio"
			echo "below 1 to the floor is that noise); the EC ones are the measure."
		fi
	done
} >>"$OUT.tmp"

# --- import ----------------------------------------------------------------

echo "import..." >&2
I=$WORK/import
new_token "$I"
export SOFTHSM2_CONF=$I/softhsm2.conf
N=$((ROUNDS * (RUNS + 1)))
for i in $(seq "$N"); do
	"$CW" -c "$I/certwiz.conf" --host $HOST request \
		--usage WebServicesInternal --key ec:P-256 --offline --out "$I/r$i.csr" >/dev/null
	sign "$I" "$I/r$i.csr" "$I/r$i.pem"
	openssl x509 -in "$I/r$i.pem" -outform DER -out "$I/r$i.der"
done
printf '0\n' >"$I/cw.next"
printf '0\n' >"$I/peer.next"
cat >"$I/cw-import" <<SCRIPT
#!/bin/bash
i=\$((\$(cat $I/cw.next) + 1)); echo \$i >$I/cw.next
exec $CW -c $I/certwiz.conf --host $HOST import $I/r\$i.pem
SCRIPT
# the same certificates, written as objects of their own (other IDs)
cat >"$I/peer-import" <<SCRIPT
#!/bin/bash
i=\$((\$(cat $I/peer.next) + 1)); echo \$i >$I/peer.next
exec $AS_SVC pkcs11-tool --module $MODULE --token-label bench --login --pin $PIN \\
	--write-object $I/r\$i.der --type cert --id \$(printf '%032x' \$((0xbe00 + i))) \\
	--label peer-\$i
SCRIPT
chmod 755 "$I/cw-import" "$I/peer-import"
interleave import "$I/cw-import" "$I/peer-import"
[ "$(sqlite3 "$I/state/store.db" 'select count(*) from certificates')" = "$N" ] ||
	fail "not every import went through"
# peak memory: one more response
"$CW" -c "$I/certwiz.conf" --host $HOST request \
	--usage WebServicesInternal --key ec:P-256 --offline --out "$I/x.csr" >/dev/null
sign "$I" "$I/x.csr" "$I/x.pem"
RSS_IMPORT=$(rss "$CW" -c "$I/certwiz.conf" --host $HOST import "$I/x.pem")
{
	echo
	echo "## Import of a CA response"
	echo
	echo "A PEM response (leaf and root) for a key on the token. certwiz finds"
	echo "the key by public key, writes the certificate object under the key's"
	echo "CKA_ID and records it with its chain in one transaction. Peer:"
	echo "\`pkcs11-tool --write-object\` of the same certificate (DER), which"
	echo "only writes the object. Both through a small script that picks the"
	echo "next file."
	echo
	table_head
	row import 0 "certwiz import" "$RSS_IMPORT"
	row import 1 "pkcs11-tool --write-object (peer)"
	echo
	echo "certwiz / peer: **$(ratio import 0 1)**."
} >>"$OUT.tmp"

# --- refresh ------------------------------------------------------------

{
	echo
	echo "## Refresh against the objects on the token"
	echo
	echo "The token holds N certificates (with their key pairs) that certwiz"
	echo "requested and imported. Refresh looks each known key up by CKA_ID."
	echo "Peer: \`pkcs11-tool --list-objects --login\`, the inventory a user"
	echo "would take instead."
	echo
	table_head
} >>"$OUT.tmp"
for n in $REFRESH_SIZES; do
	echo "refresh with $n certificates on the token (filling)..." >&2
	F=$WORK/refresh$n
	new_token "$F"
	export SOFTHSM2_CONF=$F/softhsm2.conf
	for i in $(seq "$n"); do
		"$CW" -c "$F/certwiz.conf" --host $HOST request \
			--usage WebServicesInternal --key ec:P-256 --offline --out "$F/r.csr" --force >/dev/null
		sign "$F" "$F/r.csr" "$F/r.pem"
		"$CW" -c "$F/certwiz.conf" --host $HOST import "$F/r.pem" >/dev/null
	done
	cw_cmd="$CW -c $F/certwiz.conf --host $HOST refresh"
	interleave "refresh$n" "$cw_cmd" \
		"$AS_SVC pkcs11-tool --module $MODULE --token-label bench --login --pin $PIN --list-objects"
	{
		row "refresh$n" 0 "certwiz refresh, $n certificates" "$(rss $cw_cmd)"
		row "refresh$n" 1 "pkcs11-tool --list-objects, $n certificates (peer)"
	} >>"$OUT.tmp"
	RATIOS_REFRESH="${RATIOS_REFRESH:-}$n: **$(ratio "refresh$n" 0 1)**; "
done
echo >>"$OUT.tmp"
echo "certwiz / peer at ${RATIOS_REFRESH%; }." >>"$OUT.tmp"

# --- ACME ------------------------------------------------------------------

echo "ACME against pebble..." >&2
A=$WORK/acme
new_token "$A"
export SOFTHSM2_CONF=$A/softhsm2.conf
WORK_SAVED=$WORK
WORK=$A
# The test harness's pebble (127.0.0.1, free ports); no spurious nonce
# rejection and no authorization reuse, so that both clients do the same
# work every time.
export PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0
sed -i '/^\[trust\]/,$d' "$A/certwiz.conf"
source "$SRC/tests/integration/pebble.sh"
setup_pebble
WORK=$WORK_SAVED
cw_cmd="$CW -c $A/certwiz.conf --host $HOST request --usage WebServicesInternal --key ec:P-256 --ca pebble"
$cw_cmd >/dev/null 2>&1 || fail "certwiz ACME issuance"  # registers the account
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$A/lego.key" -subj "/CN=${NAMES[0]}" -addext "subjectAltName=${SAN%,}" \
	-out "$A/lego.csr" 2>/dev/null
lego_cmd="env LEGO_CA_CERTIFICATES=$A/pebble-tls.pem lego --server https://127.0.0.1:$ACME_PORT/dir --email ops@contoso.test --accept-tos --csr $A/lego.csr --http --http.port 127.0.0.1:$HTTP01_PORT --path $A/lego run"
$lego_cmd >/dev/null 2>&1 || fail "lego issuance"  # registers its account
# interleave_few NAME CMD...: interleave with fewer rounds and runs (lego
# takes half a minute per issuance)
interleave_few() {
	local rounds=$ROUNDS runs=$RUNS
	ROUNDS=$([ -n "$QUICK" ] && echo 1 || echo 3) RUNS=2
	interleave "$@"
	ROUNDS=$rounds RUNS=$runs
}
interleave_few acme "$cw_cmd" "$lego_cmd"
{
	echo
	echo "## Request, online (ACME): certwiz against lego"
	echo
	echo "A whole issuance for the six names of WebServicesInternal from a"
	echo "local pebble (http-01 validated for real against each client's own"
	echo "responder, no validation sleep, no nonce rejection, no"
	echo "authorization reuse), accounts registered beforehand. certwiz also"
	echo "generates the key on the token, has the token sign the CSR and"
	echo "every JWS, and imports the chain; lego is given a CSR (\`lego"
	echo "--csr\`). certwiz polls 50 ms after answering and doubles up to"
	echo "2 s; lego waits at fixed intervals."
	echo
	table_head
	row acme 0 "certwiz request --ca" "$(rss $cw_cmd)"
	row acme 1 "lego --csr run (peer)"
	echo
	echo "certwiz / lego: **$(ratio acme 0 1)**."
} >>"$OUT.tmp"

# A renewal (certwiz renew --force: a fresh key on the token, its CSR, the
# issuance, the import and the takeover) against the same lego issuance.
jq '.usages.WebServicesInternal.ca = "pebble" | .usages.WebServicesInternal.key = "ec:P-256"' \
	"$A/topology.json" >"$A/t.json" && cat "$A/t.json" >"$A/topology.json"
"$CW" -c "$A/certwiz.conf" --host $HOST request --usage WebServicesInternal --ca pebble \
	--assign >/dev/null 2>&1 || fail "certwiz ACME issuance to renew"
renew_cmd="$CW -c $A/certwiz.conf --host $HOST renew --force --usage WebServicesInternal"
$renew_cmd >/dev/null 2>&1 || fail "certwiz renew"
interleave_few renew "$renew_cmd" "$lego_cmd"
{
	echo
	echo "## Renewal (ACME): certwiz renew against lego"
	echo
	echo "\`certwiz renew --force\` for WebServicesInternal: the due check,"
	echo "a fresh key pair on the token, its CSR, the whole issuance from the"
	echo "same pebble, the checks, the import and the takeover (assignment)."
	echo "lego is given a CSR, as above (a renewal is an issuance for it)."
	echo
	table_head
	row renew 0 "certwiz renew --force" "$(rss $renew_cmd)"
	row renew 1 "lego --csr run (peer)"
	echo
	echo "certwiz / lego: **$(ratio renew 0 1)**."
} >>"$OUT.tmp"
for p in $BG_PIDS; do kill "$p" 2>/dev/null || true; done

# --- read-only verbs against the store size --------------------------------

{
	echo
	echo "## Read-only verbs against the store size"
	echo
	echo "The store holds N certificates, filled through libcertwiz's store"
	echo "functions (bench/fill_store.c), one in a thousand fitting the host's"
	echo "usage Default (the rest belong to other hosts), the newest fitting"
	echo "one assigned. None of these verbs opens the token (\`renew --dry-run\`"
	echo "decides from the store which usages are due). Through certwizd"
	echo "(the list is sent to the client as the worker's output)."
	echo
	echo "| certificates | command | median | ± | min | max | runs | peak RSS |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|"
} >>"$OUT.tmp"
for n in $SIZES; do
	d=$WORK/s$n
	mkdir -p "$d/state" "$d/run"
	chmod 755 "$d"
	cp examples/topology-sfb.json "$d/topology.json"
	printf '[store]\npath = state/store.db\n[topology]\nfile = topology.json\nhost = %s\n[service]\nsocket = run/certwiz.sock\n' \
		$HOST >"$d/certwiz.conf"
	start_service "$d"
	names=$("$CW" -c "$d/certwiz.conf" --host $HOST topology show --json |
		jq -r '.hosts[0].usages[] | select(.usage=="Default") | .names[]')
	echo "filling $n certificates..." >&2
	"$SRC/$BUILD/fill_store" "$d/state/store.db" "$n" $HOST Default $names >/dev/null
	chown -R certwiz: "$d/state" && chmod 700 "$d/state"
	"$CW" -c "$d/certwiz.conf" --host $HOST status >/dev/null # migrations done
	for verb in "view --usage Default" "status" "list --json" "renew --dry-run"; do
		cmd="$CW -c $d/certwiz.conf --host $HOST $verb"
		hyperfine -N --warmup 2 --min-runs 10 --export-json "$d/h.json" \
			"$cmd" >/dev/null 2>&1
		jq -r '.results[0].times[]' "$d/h.json" >"$WORK/ro.times"
		set -- $(stats "$WORK/ro.times")
		printf '| %s | `%s` | %s ms | %s ms | %s ms | %s ms | %s | %s MiB |\n' \
			"$n" "$verb" "$1" "$2" "$3" "$4" "$5" "$(rss $cmd)" >>"$OUT.tmp"
	done
done
# the per-family section (bench/modules.sh) and the CMP section
# (bench/cmp.sh) are kept from the last run of those scripts
sed -n '/^<!-- modules -->$/,/^<!-- \/modules -->$/p' "$OUT" >>"$OUT.tmp" 2>/dev/null || true
sed -n '/^<!-- cmp -->$/,/^<!-- \/cmp -->$/p' "$OUT" >>"$OUT.tmp" 2>/dev/null || true
mv "$OUT.tmp" "$OUT"
cat "$OUT"
