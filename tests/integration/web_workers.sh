#!/bin/bash
# A web server in its normal process model ($1: nginx, a root master and
# two workers; apache, Debian's apache2 with the event MPM and two
# children), daemonised, its workers as an unprivileged user made for the
# test, serving an EC and an RSA certificate whose keys stay on the token
# ($2: a family of tokens/) through libp11's engine, TLS 1.2 and 1.3; then
# reloaded, and with a worker killed and respawned. The set-up is what
# 'certwiz export --server' writes. First without the workers' access to
# the token: export says so (exit 9), and with nginx on SoftHSM2 every
# handshake fails as users saw it ("Object handle invalid": after the
# fork each worker logs in again and looks the key up again). Then with
# it: the workers' user may open the token (SoftHSM2: group read-write on
# the token folder; openCryptoki: group pkcs11).
source "$(dirname "$0")/lib.sh"
SERVER=$1
TOKEN_KIND=$2
[ "$TOKEN_KIND" = opencryptoki ] && private_mounts "$@"
case $SERVER in
nginx) command -v nginx >/dev/null || exit 77 ;;
apache) command -v apache2 >/dev/null || exit 77 ;;
*) fail "unknown server $SERVER" ;;
esac
ENGINE=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1)
[ -n "$ENGINE" ] || exit 77
PROFILE=$SRCDIR/tokens/$TOKEN_KIND.profile
read -r -a SUPPORTED <<<"$(sed -n 's/^supported = //p' "$PROFILE")"
setup_env "$SERVER-workers-$TOKEN_KIND"
setup_ca
cd "$WORK"

# One RSA and (where the token makes them) one EC certificate, exported
# with what nginx needs (export --server nginx).
declare -A SHA KEYSPEC PORT
KEYSPEC[Default]=rsa:2048
KEYSPEC[WebServicesInternal]=ec:P-256
case " ${SUPPORTED[*]} " in *" ec:P-256 "*) USAGES="Default WebServicesInternal" ;; *) USAGES=Default ;; esac
mkdir -p served srv/logs srv/tmp srv/run
for usage in $USAGES; do
	expect_rc 0 cw request --usage $usage --offline --out $usage.csr --key ${KEYSPEC[$usage]}
	sign_csr $usage.csr $usage.pem 90
	cat $usage.pem ca/int.pem >$usage.resp
	expect_rc 0 cw import $usage.resp --json
	CERT=$(jq -r .certificate_id <<<"$OUT")
	SHA[$usage]=$(jq -r .sha256 <<<"$OUT")
	expect_rc 0 cw assign "$CERT" --usage $usage
	PORT[$usage]=$(free_port)
done

# The worker's user: made for the test, in a group of its own.
make_group WG
make_user WU "$WG"
# the PIN source: read by the master (root) at start; the workers keep
# what libp11 read. libp11 keeps a trailing newline: this one has none.
(umask 077 && printf '%s' "$PIN" >engine-pin)

# export --server writes the snippets; it says when the workers'
# user cannot open the token (exit 9), and writes the files all the same.
export_server() { # export_server RC [ARGS...]
	local want=$1 usage
	shift
	for usage in $USAGES; do
		expect_rc "$want" cw export --usage $usage --out "$WORK/served" --server $SERVER \
			--server-user "$WU" "$@"
	done
}
case $TOKEN_KIND in
softhsm2) export_server 9 --pin-source "$WORK/engine-pin"
	expect_err "cannot read and write" ;;
opencryptoki) export_server 9 --pin-source "$WORK/engine-pin"
	expect_err "is not in group pkcs11" ;;
esac
for usage in $USAGES; do
	for f in $usage.chain.pem $usage.key.uri $usage.$SERVER.conf $usage.$SERVER-main.conf $usage.env pkcs11-engine.cnf; do
		[ -s "served/$f" ] || fail "export --server $SERVER did not write $f"
	done
	grep -q "pin-source=$WORK/engine-pin\"" "served/$usage.$SERVER.conf" || fail "PIN source: $(cat "served/$usage.$SERVER.conf")"
	grep -q "$PIN" served/* && fail "the PIN was written into the exported files"
done
case $SERVER in
nginx) grep -qx "env OPENSSL_CONF;" served/Default.nginx-main.conf || fail "nginx-main.conf: $(cat served/Default.nginx-main.conf)" ;;
apache) grep -qx "SSLCryptoDevice pkcs11" served/Default.apache-main.conf || fail "apache-main.conf: $(cat served/Default.apache-main.conf)" ;;
esac
grep -qx "OPENSSL_CONF=$WORK/served/pkcs11-engine.cnf" served/Default.env || fail "env: $(cat served/Default.env)"
grep -qx "MODULE_PATH = $MODULE" served/pkcs11-engine.cnf || fail "engine configuration: $(cat served/pkcs11-engine.cnf)"
if [ "$TOKEN_KIND" = softhsm2 ]; then
	grep -qx "SOFTHSM2_CONF=$SOFTHSM2_CONF" served/Default.env || fail "no SOFTHSM2_CONF in the environment"
	[ $SERVER = apache ] || grep -qx "env SOFTHSM2_CONF;" served/Default.nginx-main.conf || fail "no env SOFTHSM2_CONF"
fi

# Bad input: clear errors, the previous export intact.
cp -a served served.before
snapshot base
refused 2 "unknown server 'apache2'" cw export --usage Default --out "$WORK/served" --server apache2
refused 2 "absolute path" cw export --usage Default --out served --server $SERVER --pin-source "$WORK/engine-pin"
refused 2 "there is no user 'no-such-user-$$'" cw export --usage Default --out "$WORK/served" \
	--server $SERVER --server-user "no-such-user-$$" --pin-source "$WORK/engine-pin"
refused 2 "usage: certwiz" cw export --usage Default --out "$WORK/served" --server-user "$WU"
expect_rc 4 cw export --usage OAuthTokenIssuer --out "$WORK/served" --server $SERVER --pin-source "$WORK/engine-pin"
diff -r served.before served >&2 || fail "a refused export changed the exported files"
rm -rf served.before

nginx_conf() {
	echo "user $WU $WG;"
	echo "worker_processes 2;"
	echo "error_log $WORK/srv/logs/error.log info;"
	echo "pid $WORK/srv/run/server.pid;"
	echo "include $WORK/served/Default.nginx-main.conf;"
	echo "events { worker_connections 64; }"
	echo "http {"
	echo "	access_log off;"
	for d in client_body proxy fastcgi uwsgi scgi; do echo "	${d}_temp_path $WORK/srv/tmp;"; done
	for usage in $USAGES; do
		echo "	server {"
		echo "		listen 127.0.0.1:${PORT[$usage]} ssl;"
		echo "		server_name fe01.contoso.test;"
		echo "		ssl_protocols TLSv1.2 TLSv1.3;"
		echo "		include $WORK/served/$usage.nginx.conf;"
		echo "		location / { return 200 \"served $usage\n\"; }"
		echo "	}"
	done
	echo "}"
}
apache_conf() {
	local m=/usr/lib/apache2/modules
	echo "ServerName fe01.contoso.test"
	echo "PidFile $WORK/srv/run/server.pid"
	echo "DefaultRuntimeDir $WORK/srv/run"
	echo "Mutex file:$WORK/srv/run default"
	echo "ErrorLog $WORK/srv/logs/error.log"
	echo "LogLevel info"
	echo "LoadModule mpm_event_module $m/mod_mpm_event.so"
	echo "LoadModule authz_core_module $m/mod_authz_core.so"
	echo "LoadModule socache_shmcb_module $m/mod_socache_shmcb.so"
	echo "LoadModule ssl_module $m/mod_ssl.so"
	echo "User $WU"
	echo "Group $WG"
	# two children, each kept: the spare threads ask for both
	echo "StartServers 2"
	echo "ServerLimit 2"
	echo "ThreadsPerChild 4"
	echo "MaxRequestWorkers 8"
	echo "MinSpareThreads 8"
	echo "MaxSpareThreads 8"
	echo "SSLSessionCache shmcb:$WORK/srv/run/scache(51200)"
	echo "Include $WORK/served/Default.apache-main.conf"
	for usage in $USAGES; do
		echo "Listen 127.0.0.1:${PORT[$usage]}"
		echo "<VirtualHost 127.0.0.1:${PORT[$usage]}>"
		echo "	SSLEngine on"
		echo "	SSLProtocol -all +TLSv1.2 +TLSv1.3"
		echo "	Include $WORK/served/$usage.apache.conf"
		echo "</VirtualHost>"
	done
}
${SERVER}_conf >srv/server.conf
chmod -R a+rX served srv
MASTER=
# the service's environment, as systemd's EnvironmentFile= gives it
srv() {
	case $SERVER in
	nginx) env $(grep -v '^#' served/Default.env) nginx -p "$WORK/srv" -c "$WORK/srv/server.conf" "$@" ;;
	apache) env $(grep -v '^#' served/Default.env) apache2 -f "$WORK/srv/server.conf" "$@" ;;
	esac
}
start_server() {
	rm -f srv/run/server.pid
	case $SERVER in
	nginx) srv >srv/logs/stdout 2>&1 ;;
	apache) srv -k start >srv/logs/stdout 2>&1 ;;
	esac || { cat srv/logs/stdout srv/logs/error.log >&2; fail "$SERVER did not start"; }
	for _ in $(seq 1 100); do [ -s srv/run/server.pid ] && break; sleep 0.05; done
	MASTER=$(cat srv/run/server.pid)
	BG_PIDS="$BG_PIDS $MASTER"
}
stop_server() {
	kill -TERM "$MASTER"
	for _ in $(seq 1 200); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$MASTER" 2>/dev/null || fail "$SERVER did not stop"
}
reload_server() {
	case $SERVER in
	nginx) kill -HUP "$MASTER" ;;
	apache) srv -k graceful >>srv/logs/stdout 2>&1 || fail "apache2 -k graceful" ;;
	esac
}
workers() { pgrep -P "$MASTER" -d' ' || true; }
wait_workers() { # two workers, none of them in $1
	local w i
	for i in $(seq 1 200); do
		w=$(workers)
		if [ "$(wc -w <<<"$w")" = 2 ] && ! grep -qwE "${1:-none}" <<<"$w"; then return 0; fi
		sleep 0.05
	done
	fail "$SERVER has workers '$(workers)', not two new ones"
}
# handshakes PROTO: several handshakes per usage (both workers take some),
# each verified, each presenting the usage's certificate
handshakes() {
	local usage i served
	for usage in $USAGES; do
		for i in 1 2 3 4 5 6; do
			openssl s_client -connect "127.0.0.1:${PORT[$usage]}" -"$1" \
				-servername fe01.contoso.test -CAfile ca/root.pem \
				-verify_return_error -verify_hostname fe01.contoso.test \
				</dev/null >sclient.out 2>&1 ||
				{ tail -5 sclient.out >&2; tail -5 srv/logs/error.log >&2; return 1; }
			served=$(openssl x509 -in sclient.out -outform DER | sha256sum | cut -d' ' -f1)
			[ "$served" = "${SHA[$usage]}" ] || fail "$usage: another certificate served"
		done
	done
	# an HTTP exchange over it (apache has no content here: any answer)
	curl -sS --max-time 10 --cacert ca/root.pem -o curl.out \
		--resolve "fe01.contoso.test:${PORT[Default]}:127.0.0.1" \
		"https://fe01.contoso.test:${PORT[Default]}/" || return 1
	[ $SERVER = apache ] || grep -qx "served Default" curl.out
}

# 1. The worker's user cannot open the token: nginx starts, -t passes,
# and the handshakes fail.
if [ "$TOKEN_KIND" = softhsm2 ] && [ $SERVER = nginx ]; then
	srv -t >srv/logs/t.out 2>&1 || fail "nginx -t: $(cat srv/logs/t.out)"
	start_server
	wait_workers
	! handshakes tls1_3 2>/dev/null || fail "a worker without access to the token served the key"
	grep -q -i -e "handle invalid" -e "PKCS#11" srv/logs/error.log ||
		fail "no PKCS#11 error in nginx's log: $(tail -5 srv/logs/error.log)"
	stop_server
fi

# 2. With access: the worker's user reaches the token.
case $TOKEN_KIND in
softhsm2)
	chgrp -R "$WG" tokens
	chmod -R g+rwX tokens
	find tokens -type d -exec chmod g+s {} +
	;;
opencryptoki)
	usermod -a -G pkcs11 "$WU"
	;;
esac
# export says so now; without --pin-source it would give the service's
# own PIN file, whose trailing newline libp11 would send as PIN
export_server 9
expect_err "ends with a newline"
export_server 0 --pin-source "$WORK/engine-pin"
: >srv/logs/error.log
start_server
wait_workers
for w in $(workers); do
	[ "$(ps -o user= -p "$w")" = "$WU" ] || fail "worker $w runs as $(ps -o user= -p "$w")"
done
handshakes tls1_3 || fail "TLS 1.3 handshakes"
handshakes tls1_2 || fail "TLS 1.2 handshakes"

# 3. Reloaded: new workers, same service.
old=$(workers)
reload_server
wait_workers "$(tr ' ' '\n' <<<"$old" | paste -sd'|')"
handshakes tls1_3 || fail "handshakes after a reload"

# 4. A worker killed: the master starts another, which serves too.
set -- $(workers)
kill -9 "$1"
wait_workers "$1"
handshakes tls1_2 || fail "handshakes after a worker was respawned"
handshakes tls1_3 || fail "handshakes after a worker was respawned"
grep -q "handle invalid" srv/logs/error.log && fail "stale handles: $(grep 'handle invalid' srv/logs/error.log | head -3)"
stop_server
echo "$SERVER with workers on $TOKEN_KIND: ok"
