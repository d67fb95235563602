# CMP servers for the tests, inside the test's own network namespace
# (private_network): openssl's mock server (fixed answers) and the test CA
# (tests/mock/cmpca: signs what it receives, holds requests until
# approved). Source after lib.sh and setup_env; servers are stopped by PID
# when the test exits.

source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

CMP_REF=certwiz-ra-1
CMP_SECRET=CANARY-CMP-SECRET-$RANDOM$RANDOM
EXTRA_CANARIES=$CMP_SECRET

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s).
wait_port() { wait_for bash -c "(exec 3<>/dev/tcp/127.0.0.1/$1)"; }

# cmp_secret_file FILE SECRET: where the service reads the shared secret.
cmp_secret_file() {
	umask 077
	printf '%s\n' "$2" >"$1"
	umask 022
	chown "$SVC_USER" "$1"
}

# cmp_profile NAME PORT [KEY = VALUE lines]: a [ca] profile for a CMP
# server on PORT (http, unless a "server = " line says otherwise); the
# secret in cmp-NAME.pw.
cmp_profile() {
	local name=$1 port=$2 a srv
	shift 2
	srv="server = http://127.0.0.1:$port/pkix/"
	cmp_secret_file "$WORK/cmp-$name.pw" "$CMP_SECRET"
	{
		printf '[ca "%s"]\nprotocol = cmp\n' "$name"
		printf 'reference = %s\nsecret_file = cmp-%s.pw\ntimeout = 10\n' "$CMP_REF" "$name"
		for a in "$@"; do
			case $a in
			"server = "*) srv=$a ;;
			*) printf '%s\n' "$a" ;;
			esac
		done
		printf '%s\n' "$srv"
	} >>"$WORK/certwiz.conf"
}

# start_mock PORT ARGS...: openssl cmp's mock server on PORT (on every
# interface of the namespace), answering with ARGS (-rsp_cert, ...).
MOCK_PID=""
start_mock() {
	local port=$1
	shift
	openssl cmp -port "$port" -srv_ref "$CMP_REF" -srv_secret "pass:$CMP_SECRET" \
		"$@" >>"$WORK/servers/mock.log" 2>&1 &
	MOCK_PID=$!
	BG_PIDS="$BG_PIDS $MOCK_PID"
	wait_port "$port" || fail "the CMP mock did not start: $(tail -3 "$WORK/servers/mock.log")"
}

stop_mock() {
	kill "$MOCK_PID" 2>/dev/null || true
	wait "$MOCK_PID" 2>/dev/null || true
	MOCK_PID=""
}

# start_cmpca PORT [--hold] [--tls]: the test CA (tests/mock/cmpca) on
# 127.0.0.1:PORT, signing with the test CA's intermediate (setup_ca),
# over HTTPS with --tls (its TLS root: $WORK/cmp-tls-root.pem); its
# folder is $CMPCA_DIR (decision, issued.log, confirmed.log,
# profiles.log, log).
CMPCA_PID=""
start_cmpca() {
	local port=$1 a tls=()
	shift
	[ -x "${CMPCA:-}" ] || fail "no cmpca (CMPCA)"
	CMPCA_DIR=$WORK/servers/cmpca-$port
	for a in "$@"; do [ "$a" = --tls ] && tls=(--tls-cert "$WORK/servers/tls.pem" --tls-key "$WORK/servers/tls.key"); done
	if [ ${#tls[@]} -gt 0 ] && [ ! -f "$WORK/servers/tls.pem" ]; then
		tls_server_cert "$WORK/servers" "CMP test TLS root"
		cp "$WORK/servers/tls-root.pem" "$WORK/cmp-tls-root.pem"
	fi
	set -- $(printf '%s\n' "$@" | grep -vx -- --tls)
	mkdir -p "$CMPCA_DIR"
	printf '%s\n' "$CMP_SECRET" >"$CMPCA_DIR/secret.pw"
	"$CMPCA" --port "$port" --ref "$CMP_REF" --secret-file "$CMPCA_DIR/secret.pw" \
		--cert "$WORK/ca/int.pem" --key "$WORK/ca/int.key" \
		--dir "$CMPCA_DIR" "${tls[@]}" "$@" >>"$CMPCA_DIR/log" 2>&1 &
	CMPCA_PID=$!
	BG_PIDS="$BG_PIDS $CMPCA_PID"
	wait_port "$port" || fail "cmpca did not start: $(tail -3 "$CMPCA_DIR/log")"
}

# decide approve | "reject TEXT": the CA's officer decides on the held
# request.
decide() { printf '%s\n' "$1" >"$CMPCA_DIR/decision"; }
cmpca_issued() { [ -f "$CMPCA_DIR/issued.log" ] && wc -l <"$CMPCA_DIR/issued.log" || echo 0; }
