#!/bin/bash
# Deployment to Apache httpd (event MPM, two children as a user made for
# the test) with [deploy "Default"] server = apache: the first assignment
# deployed (apache2 -k graceful starts the server), a scheduled takeover that certwizd deploys by itself (apache2 -t,
# then apache2 -k graceful) with full handshakes across it, none failing
# and only the new certificate once the old children are gone; after
# remove no TLS handshake completes. The failure cases are nginx's test's:
# the deployer does the same for both servers.
source "$(dirname "$0")/lib.sh"
command -v apache2 >/dev/null || exit 77
ls /usr/lib/*/engines-3/pkcs11.so >/dev/null 2>&1 || exit 77
APACHE=$(command -v apache2)
setup_env deploy-apache
setup_ca
cd "$WORK"
web_set_up

m=/usr/lib/apache2/modules
cat >srv/server.conf <<CONF
ServerName fe01.contoso.test
PidFile $WORK/srv/run/server.pid
DefaultRuntimeDir $WORK/srv/run
Mutex file:$WORK/srv/run default
ErrorLog $WORK/srv/logs/error.log
LogLevel info
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule socache_shmcb_module $m/mod_socache_shmcb.so
LoadModule ssl_module $m/mod_ssl.so
User $WU
Group $WG
StartServers 2
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 8
MaxSpareThreads 8
SSLSessionCache shmcb:$WORK/srv/run/scache(51200)
Include $WORK/deploy/Default.apache-main.conf
Listen 127.0.0.1:$PORT
<VirtualHost 127.0.0.1:$PORT>
	SSLEngine on
	SSLProtocol -all +TLSv1.2 +TLSv1.3
	Include $WORK/deploy/Default.apache.conf
</VirtualHost>
CONF
chmod -R a+rX srv
cat >>certwiz.conf <<CONF
[deploy "Default"]
server = apache
out = $WORK/deploy
check = $APACHE -t -f $WORK/srv/server.conf
command = $APACHE -k graceful -f $WORK/srv/server.conf
server_user = $WU
pin_source = $WORK/engine-pin
timeout = 30
CONF
stop_service
start_service

# assigned: deployed; apache2 -k graceful starts a server none runs
expect_rc 0 cw assign "${ID[A]}" --usage Default --json
jq -e '.deployments.Default == "done"' <<<"$OUT" >/dev/null || fail "assign: $OUT"
for _ in $(seq 1 100); do [ -s srv/run/server.pid ] && break; sleep 0.05; done
MASTER=$(cat srv/run/server.pid)
BG_PIDS="$BG_PIDS $MASTER"
"$TLSLOOP" "$PORT" fe01.contoso.test ca/root.pem 20 10 >loop.out ||
	fail "apache2 does not serve A: $(cat loop.out; tail -5 srv/logs/error.log)"
grep -q "^ok ${SHA[A]}" loop.out || fail "apache2 serves another certificate"

# a scheduled takeover, deployed by certwizd at its time
AT=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 cw assign "${ID[B]}" --usage Default --effective-at "$AT"
"$TLSLOOP" "$PORT" fe01.contoso.test ca/root.pem 20000 40 "${SHA[B]}" 200 >loop.out ||
	fail "handshakes failed during the rollover: $(grep -m3 fail loop.out; tail -5 srv/logs/error.log)"
total=$(wc -l <loop.out)
before=$(grep -c "^ok ${SHA[A]}" loop.out)
last_a=$(grep -n "^ok ${SHA[A]}" loop.out | tail -1 | cut -d: -f1)
echo "apache rollover: $total handshakes, $before with A, none failed" >&2
[ "$before" -ge 50 ] || fail "only $before handshakes before the switch"
[ $((total - ${last_a:-0})) -ge 200 ] || fail "fewer than 200 handshakes with B alone"
[ "$(cw status --usage Default --json | jq -r '.usages[0].deployment.state')" = done ] ||
	fail "status: $(cw status --usage Default --json)"

# remove: TLS is off on the port; no handshake completes
expect_rc 0 cw remove --usage Default
grep -qx "SSLEngine off" deploy/Default.apache.conf || fail "after remove: $(cat deploy/Default.apache.conf)"
for _ in $(seq 1 50); do "$TLSLOOP" "$PORT" fe01.contoso.test ca/root.pem 1 5 >/dev/null || break; sleep 0.1; done
! "$TLSLOOP" "$PORT" fe01.contoso.test ca/root.pem 5 5 >loop.out || fail "a handshake completed after remove"
kill -TERM "$MASTER"
for _ in $(seq 1 100); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
echo "deploy to apache: ok"
