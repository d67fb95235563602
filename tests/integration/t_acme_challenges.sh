#!/bin/bash
# The other ways to answer a challenge, with pebble validating for real and
# slowly (its validation sleeps up to 3 s): http-01 through files under a
# web root that nginx serves, where validation outlasts --wait, so the
# request goes pending and a later run completes it and removes the files;
# dns-01 through a hook that sets TXT records in pebble's DNS server, added
# and removed once per name; a hook that fails leaves the request pending.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || exit 77
setup_env acme-challenges
source "$(dirname "$0")/pebble.sh"
export PEBBLE_VA_NOSLEEP=0 PEBBLE_VA_SLEEPTIME=3
setup_pebble
cd "$WORK"

profile() { # profile NAME KEY=VALUE...: a copy of the pebble profile
	local name=$1
	shift
	awk -v name="$name" '/^\[/ { on = ($0 == "[ca \"pebble\"]") }
		on && /^\[/ { print "[ca \"" name "\"]"; next }
		on && !/^http01_listen/ { print }' certwiz.conf >profile.tmp
	cat profile.tmp >>certwiz.conf
	printf '%s\n' "$@" >>certwiz.conf
}

# http-01 through a web root.
mkdir -p webroot servers/nginx/logs servers/nginx/tmp
# the service writes the responses: its user owns the web root's challenge
# folder (the web server only reads it)
install -d -o "$SVC_USER" -m 755 webroot/.well-known webroot/.well-known/acme-challenge
cat >servers/nginx/nginx.conf <<CONF
daemon off;
master_process off;
error_log $WORK/servers/nginx/logs/error.log info;
pid $WORK/servers/nginx/nginx.pid;
events { worker_connections 16; }
http {
	access_log $WORK/servers/nginx/logs/access.log;
	client_body_temp_path $WORK/servers/nginx/tmp;
	proxy_temp_path $WORK/servers/nginx/tmp;
	fastcgi_temp_path $WORK/servers/nginx/tmp;
	uwsgi_temp_path $WORK/servers/nginx/tmp;
	scgi_temp_path $WORK/servers/nginx/tmp;
	server { listen 127.0.0.1:$HTTP01_PORT; root $WORK/webroot; }
}
CONF
nginx -p "$WORK/servers/nginx" -c "$WORK/servers/nginx/nginx.conf" \
	>servers/nginx/logs/stdout 2>&1 &
BG_PIDS="$BG_PIDS $!"
wait_for curl -s -o /dev/null "http://127.0.0.1:$HTTP01_PORT/" || fail "nginx"
profile webroot "http01_webroot = webroot"

expect_rc 3 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca webroot \
	--wait 0 --json
jq -e '.state == "pending"' <<<"$OUT" >/dev/null || fail "not pending: $OUT"
FILES=$(ls webroot/.well-known/acme-challenge | wc -l)
[ "$FILES" -ge 1 ] || fail "no challenge file was published"
[ "$(sqlite3 state/store.db "select count(*) from acme_challenges
	where removed is null")" = "$FILES" ] || fail "published files not recorded"
expect_rc 0 cw pending process --wait 60 --json
jq -e '.[0].state == "issued"' <<<"$OUT" >/dev/null || fail "webroot: $OUT"
[ -z "$(ls webroot/.well-known/acme-challenge)" ] || fail "challenge files left"
[ "$(sqlite3 state/store.db "select count(*) from acme_challenges
	where removed is null")" = 0 ] || fail "published files not marked removed"
grep -q "GET /.well-known/acme-challenge/" servers/nginx/logs/access.log ||
	fail "pebble did not fetch from nginx"

# A request cancelled while its responses are published: they are removed
# with it (ACME has no way to tell the CA), and marked removed.
expect_rc 3 cw request --usage WebServicesInternal --key ec:P-256 --ca webroot \
	--wait 0 --json
C=$(jq -r .request_id <<<"$OUT")
[ -n "$(ls webroot/.well-known/acme-challenge)" ] || fail "cancel: nothing published"
expect_rc 0 cw pending cancel "$C"
[ -z "$(ls webroot/.well-known/acme-challenge)" ] || fail "cancelled: files left"
[ "$(sqlite3 state/store.db "select count(*) from acme_challenges
	where removed is null")" = 0 ] || fail "cancelled: files not marked removed"

# A web root nginx does not serve: pebble finds nothing (404) and
# invalidates the authorization; the request is rejected with the CA's
# words, and what was published is removed.
mkdir -p elsewhere
profile nowhere "http01_webroot = elsewhere"
install -d -o "$SVC_USER" -m 755 elsewhere elsewhere/.well-known elsewhere/.well-known/acme-challenge
expect_rc 7 cw request --usage WebServicesExternal --key ec:P-256 --ca nowhere \
	--wait 60 --json
jq -e '.state == "rejected" and (.problem | test("404"))' <<<"$OUT" >/dev/null ||
	fail "not rejected with the CA's words: $OUT"
expect_err "rejected request"
[ -z "$(ls elsewhere/.well-known/acme-challenge)" ] || fail "rejected: files left"
REJECTED=$(jq -r .request_id <<<"$OUT")
expect_rc 4 cw pending process "$REJECTED"
expect_err "nothing to process"
audit_ops | grep -q "^request-rejected failure" || fail "rejection not audited"

# dns-01 through a hook.
cat >dns-hook <<HOOK
#!/bin/bash
echo "\$1 \$2 \$3" >>$SVC_DIR/hook.log
# what the hook was given: its descriptors and its environment
ls -l /proc/\$\$/fd >>$SVC_DIR/hook-fds.log 2>&1
env >>$SVC_DIR/hook-env.log
case \$1 in
add) body='{"host":"'\$2'.","value":"'\$3'"}'; path=set-txt ;;
del) body='{"host":"'\$2'."}'; path=clear-txt ;;
*) exit 2 ;;
esac
curl -sf -X POST -d "\$body" http://127.0.0.1:$CHALL_PORT/\$path
HOOK
chmod 755 dns-hook
profile dns "challenge = dns-01" "dns01_hook = dns-hook"
expect_rc 0 cw request --usage Default --key ec:P-256 --ca dns --wait 60 --json
jq -e '.state == "issued" and (.names | length) == 6' <<<"$OUT" >/dev/null ||
	fail "dns-01: $OUT"
[ "$(grep -c '^add _acme-challenge\.' svc/hook.log)" = 6 ] || fail "adds: $(cat svc/hook.log)"
[ "$(grep -c '^del _acme-challenge\.' svc/hook.log)" = 6 ] || fail "dels: $(cat svc/hook.log)"
# The hook got no descriptor of the service's (no socket, no store, no
# PIN: stdin is /dev/null, bash's own script descriptor aside) and a clean
# environment (nothing of the service's: module configuration, PINs).
if grep -E -- '-> (socket:|.*store\.db|.*/pin$|.*tokens)' svc/hook-fds.log; then
	fail "the hook inherited the service's descriptors"
fi
grep -q -- '0 -> /dev/null' svc/hook-fds.log || fail "stdin: $(head -5 svc/hook-fds.log)"
if grep -E '^(SOFTHSM2_CONF|CERTWIZ_CONF|CREDENTIALS_DIRECTORY)=' svc/hook-env.log; then
	fail "the hook got the service's environment"
fi

# A hook that fails: the challenge is not answered, the request waits.
printf '#!/bin/sh\necho "no DNS API today" >&2\nexit 1\n' >bad-hook
chmod 755 bad-hook
profile dnsbad "challenge = dns-01" "dns01_hook = bad-hook"
expect_rc 3 cw request --usage OAuthTokenIssuer --key ec:P-256 --ca dnsbad \
	--wait 5 --json
jq -e '.state == "pending" and (.problem | test("dns-01 hook"))' <<<"$OUT" \
	>/dev/null || fail "failing hook: $OUT"

# While a hook runs, the tokens are free for other certwiz processes: the
# hook waits (at most a minute) for another request to finish, which it
# could not do if the waiting process held the tokens.
cat >slow-hook <<HOOK
#!/bin/bash
if [ ! -e $SVC_DIR/hook-started ]; then
	touch $SVC_DIR/hook-started
	for _ in \$(seq 600); do [ -e $WORK/meanwhile.done ] && break; sleep 0.1; done
	[ -e $WORK/meanwhile.done ] || touch $SVC_DIR/hook-gave-up
fi
exec $WORK/dns-hook "\$@"
HOOK
chmod 755 slow-hook
profile dnsslow "challenge = dns-01" "dns01_hook = slow-hook"
cw request --usage WebServicesExternal --key ec:P-256 --ca dnsslow --wait 600 \
	>slow.out 2>slow.err &
SLOW=$!
for _ in $(seq 600); do [ -e svc/hook-started ] && break; sleep 0.1; done
[ -e svc/hook-started ] || fail "the slow hook did not start"
expect_rc 0 cw request --usage Default --offline --out meanwhile.csr
touch meanwhile.done
wait $SLOW || fail "the request with the slow hook failed: $(cat slow.err)"
[ ! -e svc/hook-gave-up ] || fail "the tokens were held while the hook ran"

expect_rc 0 cw audit verify
echo "acme challenges: ok"
