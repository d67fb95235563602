#!/bin/bash
# Deployment to nginx in its normal process model ([deploy "Default"]):
# certwizd, started as root, keeps a deployer with root's privileges that
# writes the usage's files and runs the check (nginx -t) and the reload
# (nginx -s reload) after assign and remove, and by itself when a
# scheduled assignment takes effect. A bounded client loop runs over the
# switch: every handshake succeeds, the ones after it present the new
# certificate; after remove, no handshake completes. Failures (the reload
# fails, the check fails, the command runs past its limit, the folder is
# missing) leave the previous files in place, are reported (exit 9,
# status, audit) and retried. The nginx workers run as a user made for the
# test; the token folder is shared with its group, as docs/servers.md
# says.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || exit 77
ls /usr/lib/*/engines-3/pkcs11.so >/dev/null 2>&1 || exit 77
NGINX=$(command -v nginx)
setup_env deploy-nginx
setup_ca
cd "$WORK"
web_set_up

cat >srv/server.conf <<CONF
user $WU $WG;
worker_processes 2;
error_log $WORK/srv/logs/error.log info;
pid $WORK/srv/run/server.pid;
include $WORK/deploy/Default.nginx-main.conf;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/srv/tmp;
	proxy_temp_path $WORK/srv/tmp;
	fastcgi_temp_path $WORK/srv/tmp;
	uwsgi_temp_path $WORK/srv/tmp;
	scgi_temp_path $WORK/srv/tmp;
	server {
		listen 127.0.0.1:$PORT ssl;
		server_name fe01.contoso.test;
		ssl_protocols TLSv1.2 TLSv1.3;
		include $WORK/deploy/Default.nginx.conf;
		location / { return 200 "served\n"; }
	}
}
CONF
chmod -R a+rX srv
SRV="-p $WORK/srv -c $WORK/srv/server.conf"

# deploy_conf [KEY=VALUE]...: the [deploy "Default"] section (replacing
# the last), and certwizd restarted to read it: its deployer keeps the
# configuration it started with.
deploy_conf() {
	local check="$NGINX -t $SRV" command="$NGINX -s reload $SRV" out="$WORK/deploy" timeout=30 retry=600 kv
	for kv in "$@"; do
		case $kv in
		check=*) check=${kv#check=} ;;
		command=*) command=${kv#command=} ;;
		out=*) out=${kv#out=} ;;
		timeout=*) timeout=${kv#timeout=} ;;
		retry=*) retry=${kv#retry=} ;;
		esac
	done
	sed -i '/^\[deploy "Default"\]/,$d' certwiz.conf
	cat >>certwiz.conf <<CONF
[deploy "Default"]
server = nginx
out = $out
check = $check
command = $command
server_user = $WU
pin_source = $WORK/engine-pin
timeout = $timeout
retry = $retry
CONF
	stop_service
	start_service
}
deploy_conf

MASTER=
start_nginx() {
	rm -f srv/run/server.pid
	env $(grep -v '^#' deploy/Default.env) nginx $SRV >srv/logs/stdout 2>&1 ||
		{ cat srv/logs/stdout srv/logs/error.log >&2; fail "nginx did not start"; }
	for _ in $(seq 1 100); do [ -s srv/run/server.pid ] && break; sleep 0.05; done
	MASTER=$(cat srv/run/server.pid)
	BG_PIDS="$BG_PIDS $MASTER"
}
# served: the SHA-256 of the certificate one handshake presents (verified
# to the test root, for fe01.contoso.test); fails when the handshake does
served() {
	openssl s_client -connect "127.0.0.1:$PORT" -servername fe01.contoso.test \
		-CAfile ca/root.pem -verify_return_error -verify_hostname fe01.contoso.test \
		</dev/null >sclient.out 2>&1 || return 1
	openssl x509 -in sclient.out -outform DER | sha256sum | cut -d' ' -f1
}
deployed_state() { cw status --usage Default --json | jq -r '.usages[0].deployment.state'; }

# 1. Assigned before nginx runs: the reload fails (no master). Exit 9,
# the reason in status and the audit trail, no file left in place.
expect_rc 9 cw assign "${ID[A]}" --usage Default --json
expect_err "deployment failed"
jq -e '.deployments.Default == "failed"' <<<"$OUT" >/dev/null || fail "assign --json: $OUT"
[ -z "$(ls deploy)" ] || fail "a failed deployment left files: $(ls -a deploy)"
[ "$(deployed_state)" = failed ] || fail "status: $(cw status --usage Default --json)"
expect_rc 2 cw check
expect_out "deployment failed"
audit_ops | grep -qx "deploy failure" || fail "no failed deploy in the audit trail"
audit_ops | grep -q "^assign failure" && fail "the assignment was recorded as failed"

# 2. The first start from what export writes (as docs/servers.md says);
# from then on the deployer keeps the files up to date.
expect_rc 0 cw export --usage Default --out "$WORK/deploy" --server nginx \
	--server-user "$WU" --pin-source "$WORK/engine-pin"
start_nginx
[ "$(served)" = "${SHA[A]}" ] || fail "nginx does not serve A"

# 3. A scheduled assignment takes effect by itself (nobody runs a
# command): certwizd activates it, deploys B and reloads nginx. A bounded
# client loop runs across the switch.
AT=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 cw assign "${ID[B]}" --usage Default --effective-at "$AT"
"$TLSLOOP" "$PORT" fe01.contoso.test ca/root.pem 20000 40 "${SHA[B]}" 200 >loop.out ||
	fail "handshakes failed during the rollover: $(grep -m3 fail loop.out)"
total=$(wc -l <loop.out)
before=$(grep -c "^ok ${SHA[A]}" loop.out)
after=$(grep -c "^ok ${SHA[B]}" loop.out)
echo "rollover: $total handshakes, $before with A, $after with B, none failed" >&2
[ "$before" -ge 100 ] || fail "only $before handshakes before the switch"
[ "$((before + after))" = "$total" ] || fail "unexpected certificates: $(sort loop.out | uniq -c)"
[ "$after" -ge 200 ] || fail "B was not served after its effective time ($total handshakes)"
# nginx starts the new workers before the old ones stop: for a moment both
# accept (both certificates valid); then only B, to the end of the loop
first_b=$(grep -n -m1 "^ok ${SHA[B]}" loop.out | cut -d: -f1)
last_a=$(grep -n "^ok ${SHA[A]}" loop.out | tail -1 | cut -d: -f1)
echo "rollover: both served between handshakes $first_b and $last_a" >&2
[ $((last_a - first_b)) -lt 1000 ] || fail "A was still served $((last_a - first_b)) handshakes after B"
[ $((total - last_a)) -ge 200 ] || fail "fewer than 200 handshakes with B alone"
[ "$(deployed_state)" = done ] || fail "status after the rollover: $(cw status --usage Default --json)"
grep -q "ssl_certificate_key" deploy/Default.nginx.conf || fail "snippet: $(cat deploy/Default.nginx.conf)"
audit_ops | grep -qx "assignment-activated success" || fail "activation not audited"
[ "$(audit_ops | grep -c '^deploy success')" -ge 1 ] || fail "deployment not audited"
grep -q "$PIN" deploy/* && fail "the PIN was written into the deployed files"
[ "$(stat -c %U deploy/Default.nginx.conf)" = root ] || fail "the deployed files are not root's"

# 4. Bad input: each leaves the deployed files as they were, is reported
# (exit 9) and the server keeps serving B.
cp -a deploy deploy.before
bad() { # bad TEXT [deploy_conf args...]: then re-assign A (now)
	local text=$1
	shift
	deploy_conf "$@"
	expect_rc 9 cw assign "${ID[A]}" --usage Default
	expect_err "$text"
	diff -r deploy.before deploy >&2 || fail "a failed deployment changed the files ($text)"
	[ "$(served)" = "${SHA[B]}" ] || fail "the server changed after a failed deployment ($text)"
	ls -a deploy | grep -q certwiz- && fail "temporary files left: $(ls -a deploy)"
	# back to B, deployed, for the next case
	deploy_conf
	expect_rc 0 cw assign "${ID[B]}" --usage Default
}
bad "deploy command '/bin/false' failed (exit 1)" command=/bin/false
bad "did not finish within 2 seconds" "command=/bin/sleep 20" timeout=2
# the check fails: nginx -t on a configuration that does not load
bad "deploy check '$NGINX' failed" "check=$NGINX -t -p $WORK/srv -c $WORK/srv/missing.conf"
bad "cannot open the deploy folder '$WORK/nowhere'" out="$WORK/nowhere"
rm -rf deploy.before

# A command that does not exist, or one others may write: every command
# says so, and nothing runs.
sed -i "s|^command = .*|command = /nonexistent/nginx -s reload|" certwiz.conf
expect_rc 1 cw status
expect_err "/nonexistent/nginx"
install -m 757 /bin/true "$SVC_DIR/reload"
sed -i "s|^command = .*|command = $SVC_DIR/reload|" certwiz.conf
expect_rc 1 cw status
expect_err "deploy command"
sed -i "s|^command = .*|command = $NGINX -s reload $SRV|; s|^server = nginx|server = lighttpd|" certwiz.conf
expect_rc 1 cw status
expect_err "server must be nginx, apache or files"
deploy_conf

# 5. A failed deployment is retried by certwizd: the reload fails while
# nginx is stopped; nginx comes back; the retry ([deploy] retry seconds
# later) deploys.
deploy_conf retry=3
kill -TERM "$MASTER"
for _ in $(seq 1 100); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
expect_rc 9 cw assign "${ID[A]}" --usage Default
next=$(cw status --usage Default --json | jq -r '.usages[0].deployment.next_attempt')
[ "$next" != null ] || fail "no retry time: $(cw status --usage Default --json)"
start_nginx # from the files in place: B's
[ "$(served)" = "${SHA[B]}" ] || fail "nginx does not serve B after its restart"
for _ in $(seq 1 40); do
	[ "$(deployed_state)" = done ] && break
	sleep 0.5
done
[ "$(deployed_state)" = done ] || fail "the failed deployment was not retried: $(cw status --usage Default --json)"
for _ in $(seq 1 50); do [ "$(served)" = "${SHA[A]}" ] && break; sleep 0.1; done
[ "$(served)" = "${SHA[A]}" ] || fail "A not served after the retry"

# 6. remove: the snippet makes nginx refuse handshakes; the old key can
# no longer be used to serve.
expect_rc 0 cw remove --usage Default --json
jq -e '.deployments.Default == "done"' <<<"$OUT" >/dev/null || fail "remove --json: $OUT"
grep -qx "ssl_reject_handshake on;" deploy/Default.nginx.conf || fail "after remove: $(cat deploy/Default.nginx.conf)"
[ ! -e deploy/Default.chain.pem ] || fail "the chain stayed after remove"
for _ in $(seq 1 50); do served >/dev/null || break; sleep 0.1; done
! served >/dev/null || fail "a handshake completed after remove"
kill -TERM "$MASTER"
for _ in $(seq 1 100); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
echo "deploy to nginx: ok"
