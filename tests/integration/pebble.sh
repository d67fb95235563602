# A real ACME CA for the tests: pebble, with pebble-challtestsrv as its DNS
# server (every name resolves to 127.0.0.1, and dns-01 TXT records are set
# through its management API). Everything listens on 127.0.0.1 only, on
# free ports; a root and a localhost certificate for pebble's TLS are made
# here. Source after lib.sh and setup_env; the servers are stopped by PID
# when the test exits. The 'pebble' CTest label marks these tests.

source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"
command -v pebble >/dev/null || exit 77
command -v pebble-challtestsrv >/dev/null || exit 77

# setup_pebble [eab]: makes the certificates and ports (certificates it
# issues live PEBBLE_CERT_VALIDITY seconds when that is set), starts the DNS
# server and pebble (with externalAccountBindingRequired and two MAC keys
# when eab is given), writes the roots pebble issues under to
# $WORK/pebble-roots.pem and adds a CA profile "pebble" (http-01 through
# the built-in responder) to the configuration, whose roots are pebble's
# (what its chains, and so assignments of its certificates, verify to).
setup_pebble() {
	PB=$WORK/servers/pebble
	mkdir -p "$PB"
	tls_server_cert "$PB" "pebble test TLS root"
	cp "$PB/tls-root.pem" "$WORK/pebble-tls.pem"
	ACME_PORT=$(free_port) MGMT_PORT=$(free_port) HTTP01_PORT=$(free_port)
	TLSALPN_PORT=$(free_port) DNS_PORT=$(free_port) CHALL_PORT=$(free_port)
	local validity=""
	[ -z "${PEBBLE_CERT_VALIDITY:-}" ] ||
		validity='"certificateValidityPeriod": '$PEBBLE_CERT_VALIDITY','
	local eab='"externalAccountBindingRequired": false'
	if [ "${1:-}" = eab ]; then
		EAB_KEY1=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d =)
		EAB_KEY2=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d =)
		eab='"externalAccountBindingRequired": true,
    "externalAccountMACKeys": {"kid-1": "'$EAB_KEY1'", "kid-2": "'$EAB_KEY2'"}'
	fi
	cat >"$PB/pebble.json" <<JSON
{"pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$MGMT_PORT",
    "certificate": "$PB/tls.pem", "privateKey": "$PB/tls.key",
    "httpPort": $HTTP01_PORT, "tlsPort": $TLSALPN_PORT,
    "ocspResponderURL": "", $validity $eab }}
JSON
	pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" \
		-tlsalpn01 "" -management "127.0.0.1:$CHALL_PORT" \
		-defaultIPv6 "" -defaultIPv4 127.0.0.1 >"$PB/challtestsrv.log" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	wait_for curl -s -o /dev/null "http://127.0.0.1:$CHALL_PORT/" ||
		fail "pebble-challtestsrv did not start: $(cat "$PB/challtestsrv.log")"
	start_pebble
	cat >>"$WORK/certwiz.conf" <<CONF
[ca "pebble"]
protocol = acme
roots = pebble-roots.pem
directory = https://127.0.0.1:$ACME_PORT/dir
trust = pebble-tls.pem
http01_listen = 127.0.0.1:$HTTP01_PORT
contact = mailto:ops@contoso.test
CONF
}

# start_pebble: (re)starts pebble with the test's configuration and
# PEBBLE_* environment (fast validation unless the test says otherwise);
# its roots are new at every start.
start_pebble() {
	PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP-1} \
		pebble -config "$PB/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" \
		>>"$PB/pebble.log" 2>&1 &
	PEBBLE_PID=$!
	BG_PIDS="$BG_PIDS $PEBBLE_PID"
	wait_for curl -sf --cacert "$PB/tls-root.pem" \
		"https://127.0.0.1:$ACME_PORT/dir" ||
		fail "pebble did not start: $(tail -5 "$PB/pebble.log")"
	curl -sf --cacert "$PB/tls-root.pem" \
		"https://127.0.0.1:$MGMT_PORT/roots/0" >"$WORK/pebble-roots.pem" ||
		fail "cannot fetch pebble's root"
}

stop_pebble() {
	kill "$PEBBLE_PID" 2>/dev/null || true
	wait "$PEBBLE_PID" 2>/dev/null || true
	wait_for bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$ACME_PORT)" ||
		fail "pebble did not stop"
}

# How many certificates pebble issued (from its log).
pebble_issued() {
	grep -c "Issued certificate serial" "$PB/pebble.log" || true
}

# How many orders pebble created.
pebble_orders() {
	grep -c "Added order" "$PB/pebble.log" || true
}
