#!/bin/bash
# Proof with a real server: a certificate issued through the offline path,
# assigned and exported, served by nginx on 127.0.0.1 with its key still on
# the SoftHSM2 token (libp11's PKCS#11 engine), for an RSA and an EC key;
# curl and openssl s_client must complete a verified handshake and see
# exactly that certificate.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || exit 77
ENGINE=$(ls /usr/lib/*/engines-3/pkcs11.so 2>/dev/null | head -1)
[ -n "$ENGINE" ] || exit 77
setup_env nginx
setup_ca
cd "$WORK"

mkdir -p served nginx/logs
declare -A SHA
for usage in Default WebServicesInternal; do
	key=rsa:2048
	[ $usage = WebServicesInternal ] && key=ec:P-256
	expect_rc 0 cw request --usage $usage --offline --out $usage.csr --key $key
	sign_csr $usage.csr $usage.pem 90
	cat $usage.pem ca/int.pem >$usage.resp
	expect_rc 0 cw import $usage.resp --json
	CERT=$(jq -r .certificate_id <<<"$OUT")
	SHA[$usage]=$(jq -r .sha256 <<<"$OUT")
	expect_rc 0 cw assign "$CERT" --usage $usage
	expect_rc 0 cw export --usage $usage --out served
done

# The engine reads the PIN through the URI's pin-source, like certwiz;
# libp11 0.4.12 keeps a trailing newline, so its file has none.
(umask 077 && printf '%s' "$PIN" >engine-pin)
engine_conf openssl.cnf
PORT_RSA=$((20000 + $$ % 20000))
PORT_EC=$((PORT_RSA + 1))
server() { # server PORT USAGE
	cat <<BLOCK
	server {
		listen 127.0.0.1:$1 ssl;
		server_name fe01.contoso.test;
		ssl_certificate $WORK/served/$2.chain.pem;
		ssl_certificate_key "engine:pkcs11:$(cat served/$2.key.uri)?pin-source=$WORK/engine-pin";
		location / { return 200 "served $2\n"; }
	}
BLOCK
}
cat >nginx/nginx.conf <<CONF
daemon off;
master_process off;
error_log $WORK/nginx/logs/error.log info;
pid $WORK/nginx/nginx.pid;
events { worker_connections 16; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/tmp;
	proxy_temp_path $WORK/nginx/tmp;
	fastcgi_temp_path $WORK/nginx/tmp;
	uwsgi_temp_path $WORK/nginx/tmp;
	scgi_temp_path $WORK/nginx/tmp;
$(server $PORT_RSA Default)
$(server $PORT_EC WebServicesInternal)
}
CONF
OPENSSL_CONF=$WORK/openssl.cnf nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
	>nginx/logs/stdout 2>&1 &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; cleanup_env' EXIT
for _ in $(seq 100); do
	curl -s -o /dev/null --max-time 1 -k "https://127.0.0.1:$PORT_EC/" && break
	kill -0 $NGINX_PID 2>/dev/null || { cat nginx/logs/*; fail "nginx did not start"; }
	sleep 0.1
done

for pair in "$PORT_RSA Default" "$PORT_EC WebServicesInternal"; do
	set -- $pair
	port=$1 usage=$2
	body=$(curl -sS --max-time 10 --cacert ca/root.pem \
		--resolve "fe01.contoso.test:$port:127.0.0.1" "https://fe01.contoso.test:$port/") ||
		{ cat nginx/logs/error.log; fail "curl could not verify $usage"; }
	[ "$body" = "served $usage" ] || fail "body: $body"
	openssl s_client -connect "127.0.0.1:$port" -servername fe01.contoso.test \
		-CAfile ca/root.pem -verify_return_error -verify_hostname fe01.contoso.test \
		</dev/null >sclient.$usage 2>&1 || { cat sclient.$usage; fail "s_client $usage"; }
	grep -q "Verify return code: 0 (ok)" sclient.$usage || fail "s_client verify $usage"
	served=$(openssl x509 -in sclient.$usage -outform DER | sha256sum | cut -d' ' -f1)
	[ "$served" = "${SHA[$usage]}" ] || fail "nginx served another certificate for $usage"
done
grep -q "Peer signature type: ECDSA" sclient.WebServicesInternal || fail "EC handshake"
grep -Eq "Peer signature type: RSA" sclient.Default || fail "RSA handshake"
# The keys never left the token: still sensitive and never extractable.
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
	--list-objects --type privkey 2>/dev/null | grep -c "never extractable" | grep -qx 2 ||
	fail "private keys changed"
echo "nginx: ok"
