# Shared by the integration tests and the demo: a throwaway SoftHSM2 token
# (private SOFTHSM2_CONF and token directory), a certwiz configuration and
# store, and openssl playing an offline CA. Source it; it sets -eu.
set -eu

: "${CERTWIZ:?CERTWIZ must point at the certwiz binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"

# CERTWIZ_VALGRIND=DIR (scripts/valgrind.sh): every certwiz run goes through
# memcheck, one log per process in DIR.
if [ -n "${CERTWIZ_VALGRIND:-}" ] && [ ! -x "$CERTWIZ_VALGRIND/certwiz" ]; then
	printf '#!/bin/sh\nexec valgrind -q --leak-check=full --show-leak-kinds=definite --track-origins=yes --num-callers=30 --fullpath-after= --suppressions=%s/tests/valgrind.supp --log-file=%s/%%p.log %s "$@"\n' \
		"$SRCDIR" "$CERTWIZ_VALGRIND" "$CERTWIZ" >"$CERTWIZ_VALGRIND/certwiz.$$"
	chmod 755 "$CERTWIZ_VALGRIND/certwiz.$$"
	mv "$CERTWIZ_VALGRIND/certwiz.$$" "$CERTWIZ_VALGRIND/certwiz"
fi
[ -n "${CERTWIZ_VALGRIND:-}" ] && CERTWIZ=$CERTWIZ_VALGRIND/certwiz

# The PIN used everywhere: a canary that must never appear in any output,
# log or store (grep for it after a run).
PIN=CANARY-PIN-4711
SO_PIN=CANARY-SO-4711
TOKEN_LABEL=web-hsm

# The token family a test runs on (tokens/FAMILY.profile): softhsm2 (the
# default), opencryptoki or tpm2-pkcs11. Each is set up from scratch in the
# test's own folder by token_setup_FAMILY.
TOKEN_KIND=${TOKEN_KIND:-softhsm2}

# profile_module FAMILY: the first module path of its profile that exists
profile_module() {
	local p
	for p in $(sed -n 's/^module_path = //p' "$SRCDIR/tokens/$1.profile"); do
		if [ -e "$p" ]; then echo "$p"; return 0; fi
	done
	return 1
}
softhsm_module() { profile_module softhsm2; }

# private_mounts "$@": re-runs the test in a mount namespace and an IPC
# namespace of its own (openCryptoki keeps its tokens and its daemon's
# socket at fixed paths, which the test mounts its own folders over, and
# its daemon makes a System V shared memory segment under a fixed key: two
# tests at once would collide, "Shared memory creation failed (0x11)").
private_mounts() {
	[ -n "${CW_PRIVATE_NS:-}" ] && return 0
	CW_PRIVATE_NS=1 exec unshare -m -i --propagation private bash "$0" "$@"
}

# private_network "$@": re-runs the test in a network namespace of its
# own with only the loopback up, for servers that listen on every
# interface (openssl cmp's mock server) and must be unreachable from
# outside.
private_network() {
	[ -n "${CW_PRIVATE_NET:-}" ] && return 0
	command -v ip >/dev/null || exit 77
	CW_PRIVATE_NET=1 exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
}

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# The service's binary (beside the client) and its user.
CERTWIZD=${CERTWIZD:-$(dirname "$CERTWIZ")/certwizd}
SVC_USER=certwiz

# The token and store folders belong to the service's user, as installed.
# Tools the tests run as root on them (to look, or to change things behind
# certwiz's back) leave files the service could not open; these wrappers
# give them back.
own_service_files() {
	# the owner only: a group a test gave the token folder (a web
	# server's workers') stays; what root's tools made gets the service's
	chown -R "$SVC_USER" "$WORK/tokens" "$WORK/state" 2>/dev/null || true
	find "$WORK/tokens" "$WORK/state" -group root -exec chgrp "$(id -gn "$SVC_USER")" {} + 2>/dev/null || true
}
pkcs11-tool() {
	local rc=0
	command pkcs11-tool "$@" || rc=$?
	own_service_files
	return $rc
}
softhsm2-util() {
	local rc=0
	command softhsm2-util "$@" || rc=$?
	own_service_files
	return $rc
}
sqlite3() {
	local rc=0
	command sqlite3 "$@" || rc=$?
	own_service_files
	return $rc
}

# setup_env NAME: a fresh work directory with its own token and store,
# laid out as an installation: the configuration and its folder belong to
# root; the token folder, the store folder (0700) and the PIN file (0600)
# to the service's user. CW_MODE=service (the default) starts certwizd on
# a socket of the test's own, stopped at exit; CW_MODE=oneshot leaves it
# stopped, so that root's certwiz runs each command through a one-shot
# certwizd with the PIN options of the command line. The store is made
# with 'certwiz init'.
setup_env() {
	MODULE=$(profile_module "$TOKEN_KIND") || { echo "no module for $TOKEN_KIND (scripts/deps.sh installs it)" >&2; exit 77; }
	id "$SVC_USER" >/dev/null 2>&1 || { echo "no user $SVC_USER (scripts/deps.sh makes it)" >&2; exit 77; }
	CW_MODE=${CW_MODE:-service}
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/certwiz-$1.XXXXXX")
	chmod 755 "$WORK"
	mkdir -p "$WORK/tokens" "$WORK/state" "$WORK/run"
	# where hooks the service runs may write (as the service's user)
	SVC_DIR=$WORK/svc
	install -d -o "$SVC_USER" -m 755 "$SVC_DIR"
	# Under the sanitizers, what a service process reports goes to files
	# (a worker's stderr goes to its client, and is lost if it dies): the
	# test fails if any appears.
	if [ -n "${ASAN_OPTIONS:-}" ]; then
		export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$SVC_DIR/asan"
		export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$SVC_DIR/ubsan"
	fi
	chmod 700 "$WORK/state"
	"token_setup_$TOKEN_KIND"
	own_service_files
	umask 077
	printf '%s\n' "$PIN" >"$WORK/pin"
	umask 022
	chown "$SVC_USER" "$WORK/pin"
	cp "$SRCDIR/examples/topology-sfb.json" "$WORK/topology.json"
	HOST=fe01.contoso.test
	cat >"$WORK/certwiz.conf" <<CONF
[store]
path = state/store.db
[token]
uri = pkcs11:token=$TOKEN_LABEL
module = $MODULE
[topology]
file = topology.json
host = $HOST
[service]
socket = run/certwiz.sock
CONF
	if [ "$CW_MODE" = service ]; then
		sed -i "s|^module = .*|&\npin_file = pin|" "$WORK/certwiz.conf"
	fi
	export CERTWIZ_CONF="$WORK/certwiz.conf"
	trap 'cleanup_env' EXIT
	if [ "$CW_MODE" = service ]; then
		start_service
	fi
	# as an installation does: the store is made once, explicitly
	cw init >"$WORK/init.out" 2>&1 || fail "certwiz init: $(cat "$WORK/init.out")"
}

# token_setup_FAMILY: an initialised token labelled $TOKEN_LABEL with user
# PIN $PIN, in the test's folder, and the environment its module needs
# (exported: certwizd and the tools inherit it).
token_setup_softhsm2() {
	command -v softhsm2-util >/dev/null || exit 77
	sed "s|@TOKENDIR@|$WORK/tokens|" "$SRCDIR/tokens/softhsm2.conf.in" >"$WORK/softhsm2.conf"
	export SOFTHSM2_CONF="$WORK/softhsm2.conf"
	softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
		--pin "$PIN" --so-pin "$SO_PIN" >/dev/null
}

# openCryptoki's soft token: its configuration (the soft token's slot
# only), token folder and lock folder are the test's, mounted over the
# fixed paths; /run and /dev/shm are fresh; pkcsslotd is started and
# stopped by PID. The token comes with SO PIN 87654321 and takes PINs of
# 4 to 8 characters. The service's user is in group pkcs11 (deps.sh).
token_setup_opencryptoki() {
	local d=$WORK/ock i
	[ -n "${CW_PRIVATE_NS:-}" ] || fail "openCryptoki needs private_mounts"
	command -v pkcsslotd >/dev/null || exit 77
	id -nG "$SVC_USER" | grep -qw pkcs11 || fail "$SVC_USER is not in group pkcs11 (scripts/deps.sh)"
	PIN=CNRY4711
	SO_PIN=CNSO4711
	mkdir -p "$d/lib/swtok/TOK_OBJ" "$d/lock/swtok"
	chgrp -R pkcs11 "$d/lib" "$d/lock"
	chmod -R 770 "$d/lib" "$d/lock"
	printf 'version opencryptoki-3.1\nslot 3\n{\nstdll = libpkcs11_sw.so\n}\n' >"$d/opencryptoki.conf"
	mount --bind "$d/opencryptoki.conf" /etc/opencryptoki/opencryptoki.conf
	mount --bind "$d/lib" /var/lib/opencryptoki
	mount -t tmpfs -o mode=755 tmpfs /run
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	mkdir -p /run/lock/opencryptoki
	mount --bind "$d/lock" /run/lock/opencryptoki
	pkcsslotd || fail "pkcsslotd did not start"
	# it returns once it has forked: its pid file and its socket come
	# from the daemon, a moment later on a busy machine
	wait_for test -s /run/pkcsslotd.pid -a -S /run/pkcsslotd.socket ||
		fail "pkcsslotd wrote no pid file or socket in 10 s"
	BG_PIDS="$BG_PIDS $(cat /run/pkcsslotd.pid)"
	command pkcs11-tool --module "$MODULE" --init-token --label "$TOKEN_LABEL" \
		--so-pin 87654321 >/dev/null 2>&1 || fail "openCryptoki: init token"
	command pkcs11-tool --module "$MODULE" --login --login-type so --so-pin 87654321 \
		--change-pin --new-pin "$SO_PIN" >/dev/null 2>&1 || fail "openCryptoki: SO PIN"
	command pkcs11-tool --module "$MODULE" --init-pin --so-pin "$SO_PIN" \
		--pin "$PIN" >/dev/null 2>&1 || fail "openCryptoki: user PIN"
}

# tpm2-pkcs11 on a software TPM: swtpm on 127.0.0.1 (a free port found by
# trying), tpm2-abrmd as the resource manager (without one, transient
# objects pile up in the TPM until it is out of memory) on a private D-Bus
# bus any local user may use, and the module's store in the token folder
# (TPM2_PKCS11_STORE), made with tpm2_ptool.
token_setup_tpm2-pkcs11() {
	local d=$WORK/tpm port i abrmd
	command -v swtpm >/dev/null && command -v tpm2-abrmd >/dev/null || exit 77
	mkdir -p "$d/state" "$WORK/tokens/tpm2"
	cat >"$d/bus.conf" <<BUS
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$d/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
BUS
	dbus-daemon --config-file="$d/bus.conf" --fork --print-pid >"$d/bus.pid" ||
		fail "dbus-daemon did not start"
	BG_PIDS="$BG_PIDS $(cat "$d/bus.pid")"
	for i in $(seq 1 5); do
		port=$(free_port 2) # the swtpm TCTI's control port is port + 1
		rm -f "$d/swtpm.pid"
		swtpm socket --tpm2 --tpmstate dir="$d/state" \
			--server type=tcp,port=$port,bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear --daemon \
			--pid file="$d/swtpm.pid" 2>>"$d/swtpm.log" && break
	done
	[ -s "$d/swtpm.pid" ] || fail "swtpm did not start: $(cat "$d/swtpm.log")"
	BG_PIDS="$BG_PIDS $(cat "$d/swtpm.pid")"
	export DBUS_SESSION_BUS_ADDRESS="unix:path=$d/bus"
	tpm2-abrmd --allow-root --session --tcti="swtpm:host=127.0.0.1,port=$port" \
		>"$d/abrmd.log" 2>&1 &
	abrmd=$!
	BG_PIDS="$BG_PIDS $abrmd"
	export TPM2_PKCS11_TCTI="tabrmd:bus_type=session"
	export TPM2TOOLS_TCTI="$TPM2_PKCS11_TCTI"
	export TPM2_PKCS11_STORE="$WORK/tokens/tpm2"
	for i in $(seq 1 50); do
		timeout 10 dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
			org.freedesktop.DBus.NameHasOwner string:com.intel.tss2.Tabrmd 2>/dev/null |
			grep -q "boolean true" && break
		kill -0 "$abrmd" 2>/dev/null || fail "tpm2-abrmd: $(cat "$d/abrmd.log")"
		sleep 0.1
	done
	timeout 30 tpm2_ptool init --path "$TPM2_PKCS11_STORE" >"$d/init.log" 2>&1 ||
		fail "tpm2_ptool init: $(cat "$d/init.log" "$d/abrmd.log")"
	tpm2_add_token "$TOKEN_LABEL"
}
# tpm2_add_token LABEL: one more token in the tpm2-pkcs11 store
tpm2_add_token() {
	timeout 30 tpm2_ptool addtoken --pid=1 --sopin="$SO_PIN" --userpin="$PIN" \
		--label="$1" --path "$TPM2_PKCS11_STORE" >/dev/null ||
		fail "tpm2_ptool addtoken $1"
	own_service_files
}

# start_service / stop_service: certwizd on $WORK/run/certwiz.sock, started
# as root (it binds the socket, then becomes the service's user). It is
# started from a subshell, so that it is not one of the test's jobs (a
# test's bare 'wait' must not wait for it); it is stopped by its PID.
SVC_PID=""
start_service() {
	SVC_PID=$(
		"$CERTWIZD" --config "$CERTWIZ_CONF" 2>>"$WORK/certwizd.log" \
			</dev/null >/dev/null &
		echo $!
	)
	local i
	for i in $(seq 1 100); do
		[ -S "$WORK/run/certwiz.sock" ] && return 0
		kill -0 "$SVC_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$WORK/certwizd.log" >&2
	fail "certwizd did not start"
}
stop_service() {
	local i
	if [ -n "$SVC_PID" ]; then
		kill "$SVC_PID" 2>/dev/null || true
		for i in $(seq 1 200); do
			kill -0 "$SVC_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$SVC_PID" 2>/dev/null || true
		SVC_PID=""
	fi
	rm -f "$WORK/run/certwiz.sock"
}

# The canary secrets must appear in no output, log, store file or export:
# only in the files the tests write them into (*pin, *.pw), the token
# directory (SoftHSM2's own files) and pkcs11-spy's logs of C_Login.
# Tests add their own secrets to EXTRA_CANARIES (one per line); servers
# the tests run keep their files under $WORK/servers.
canary_check() {
	local hits
	hits=$(grep -rlF --exclude-dir=tokens --exclude-dir=servers \
		--exclude='*pin' --exclude='*.pw' --exclude='spy*.log' \
		-e "$PIN" -e "$SO_PIN" -e CANARY-P12-PASSWORD \
		${EXTRA_CANARIES:+-e "$EXTRA_CANARIES"} \
		"$WORK" 2>/dev/null || true)
	if [ -n "$hits" ]; then
		echo "FAIL: a canary secret leaked into: $hits" >&2
		return 1
	fi
}

# web_set_up: a group and a user for a web server's workers (WG, WU), the
# PIN file its master reads (engine-pin: root's, no trailing newline, as
# libp11 wants it), its folders (srv/), a port (PORT) and two
# certificates for Default (A, then B: ID[A], SHA[A], ...) whose keys are
# on the token; the token folder shared with the workers' group (after
# the fork each worker logs in again; SoftHSM2 makes its files 0600, so
# after the keys are made).
web_set_up() {
	local c
	make_group WG
	make_user WU "$WG"
	(umask 077 && printf '%s' "$PIN" >"$WORK/engine-pin")
	mkdir -p "$WORK/deploy" "$WORK/srv/logs" "$WORK/srv/tmp" "$WORK/srv/run"
	PORT=$(free_port)
	declare -gA SHA ID
	for c in A B; do
		expect_rc 0 cw request --usage Default --offline --out "$WORK/$c.csr" --key ec:P-256
		sign_csr "$WORK/$c.csr" "$WORK/$c.pem" 90
		cat "$WORK/$c.pem" "$WORK/ca/int.pem" >"$WORK/$c.resp"
		expect_rc 0 cw import "$WORK/$c.resp" --json
		ID[$c]=$(jq -r .certificate_id <<<"$OUT")
		SHA[$c]=$(jq -r .sha256 <<<"$OUT")
	done
	chgrp -R "$WG" "$WORK/tokens"
	chmod -R g+rwX "$WORK/tokens"
	find "$WORK/tokens" -type d -exec chmod g+s {} +
}

# free_port, release_ports
source "$SRCDIR/tests/integration/ports.sh"

# Background servers the test started (PIDs), stopped at exit.
BG_PIDS=""

# Users and groups a test makes (useradd, groupadd), each with a name of
# this run's own, removed at exit: a test depends on nothing an earlier
# run left and leaves the machine as it found it.
MADE_USERS=""
MADE_GROUPS=""
# make_group VAR: a new group; its name in $VAR
make_group() {
	local name="cwt$$g${#MADE_GROUPS}"
	groupadd "$name"
	MADE_GROUPS="$MADE_GROUPS $name"
	printf -v "$1" '%s' "$name"
}
# make_user VAR [GROUP]: a new user (in GROUP); its name in $VAR
make_user() {
	local name="cwt$$u${#MADE_USERS}"
	useradd -M -N -s /bin/sh ${2:+-G "$2"} "$name"
	MADE_USERS="$MADE_USERS $name"
	printf -v "$1" '%s' "$name"
}
remove_made() {
	local u g
	for u in $MADE_USERS; do userdel "$u" 2>/dev/null || true; done
	for g in $MADE_GROUPS; do groupdel "$g" 2>/dev/null || true; done
	MADE_USERS="" MADE_GROUPS=""
}

cleanup_env() {
	local rc=$?
	local p i
	stop_service
	for p in $BG_PIDS; do kill "$p" 2>/dev/null || true; done
	remove_made
	for p in $BG_PIDS; do wait "$p" 2>/dev/null || true; done
	# daemons that forked away (swtpm, pkcsslotd, dbus-daemon) are not
	# this shell's children: wait for them by PID, bounded
	for p in $BG_PIDS; do
		for i in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
	done
	release_ports
	if [ "$rc" -eq 0 ] && ! canary_check; then
		rc=1
	fi
	if [ -n "${SVC_DIR:-}" ] && ls "$SVC_DIR"/asan.* "$SVC_DIR"/ubsan.* >/dev/null 2>&1; then
		echo "FAIL: sanitizer reports from service processes:" >&2
		cat "$SVC_DIR"/asan.* "$SVC_DIR"/ubsan.* >&2 2>/dev/null || true
		rc=1
	fi
	if [ -s "${WORK:-}/certwizd.log" ] && [ -z "${WORKER_SIGNALS_EXPECTED:-}" ] &&
		grep -q "ended by signal" "$WORK/certwizd.log"; then
		echo "FAIL: a service worker died:" >&2
		grep "ended by signal" "$WORK/certwizd.log" >&2
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		if [ -s "$WORK/certwizd.log" ]; then
			echo "--- certwizd.log (end):" >&2
			tail -20 "$WORK/certwizd.log" >&2
		fi
		echo "--- work directory kept: $WORK" >&2
	elif [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}

# cw ARGS...: certwiz for this test's host. A command run with a crash or
# fault point in its environment goes to a one-shot certwizd, which gets
# that environment (the running service does not).
cw() {
	local extra=()
	if [ "$CW_MODE" != service ]; then
		extra=(--pin-file "$WORK/pin")
	elif [ -n "${CERTWIZ_CRASHPOINT:-}${CERTWIZ_FAILPOINT:-}${FAULTY_P11:-}" ]; then
		extra=(--no-service)
	fi
	"$CERTWIZ" --host "$HOST" "${extra[@]}" "$@"
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_rc N CMD...: runs CMD, requires exit code N, keeps stderr in $ERR.
expect_rc() {
	local want=$1 got=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" || got=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	if [ "$got" -ne "$want" ]; then
		echo "--- stdout:" >&2; cat "$WORK/out" >&2
		echo "--- stderr:" >&2; cat "$WORK/err" >&2
		fail "'$*' exited $got, expected $want"
	fi
}

# expect_err TEXT: the last expect_rc's stderr contains TEXT.
expect_err() {
	case "$ERR" in
	*"$1"*) ;;
	*) fail "stderr lacks '$1': $ERR" ;;
	esac
}
# refused RC TEXT CMD...: exit code RC, TEXT in the message, and the token
# and the store as the snapshot "base" holds them (tests that check more
# define their own).
refused() {
	local rc=$1 text=$2
	shift 2
	expect_rc "$rc" "$@"
	expect_err "$text"
	unchanged base
}
# refresh_after WHAT: a refresh after a fault or a kill: exit 0, or 9 when
# what it must act on is only keys left by interrupted requests (listed
# for cleanup, as they should be).
refresh_after() {
	local rc=0
	cw refresh --json >"$WORK/out" 2>"$WORK/err" || rc=$?
	OUT=$(cat "$WORK/out")
	case $rc in
	0) ;;
	9) jq -e '[.problems[] | select(.kind != "interrupted-key")] | length == 0' \
		<<<"$OUT" >/dev/null || fail "refresh after $1 found: $OUT" ;;
	*) fail "refresh after $1 exited $rc: $(cat "$WORK/err")" ;;
	esac
}
expect_out() {
	case "$OUT" in
	*"$1"*) ;;
	*) fail "stdout lacks '$1': $OUT" ;;
	esac
}

# Objects on the token, one line each (class, label, id), sorted.
token_objects() {
	pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" \
		--login --pin "$PIN" --list-objects 2>/dev/null |
		awk '/Object;/{c=$0} /label:/{l=$0} /ID:/{print c "|" l "|" $0}' |
		sort
}

# The store without the audit trail (a refusal is recorded there, and that
# is checked separately) and without the last-seen configuration hashes.
store_dump() {
	if [ -f "$WORK/state/store.db" ]; then
		sqlite3 "$WORK/state/store.db" .dump |
			grep -v -e '^INSERT INTO audit' -e '^INSERT INTO meta'
	fi
}

# audit_ops: the operations of the audit trail, one per line.
audit_ops() {
	sqlite3 "$WORK/state/store.db" 'select operation || " " || outcome from audit order by seq'
}

# snapshot NAME / unchanged NAME: the token and the store as they were.
snapshot() {
	token_objects >"$WORK/snap-$1.token"
	store_dump >"$WORK/snap-$1.store"
}

unchanged() {
	token_objects >"$WORK/now.token"
	store_dump >"$WORK/now.store"
	diff -u "$WORK/snap-$1.token" "$WORK/now.token" >&2 ||
		fail "token objects changed"
	diff -u "$WORK/snap-$1.store" "$WORK/now.store" >&2 ||
		fail "store changed"
}

# engine_conf FILE: an OpenSSL configuration that loads libp11's engine
# ($ENGINE) for the test's module, as a web server's would.
engine_conf() {
	cat >"$1" <<CONF
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
}

# csr_sigalg TEXT SPEC: the CSR's text (openssl req -text) shows the
# signature algorithm and key size of key spec SPEC.
csr_sigalg() {
	case $2 in
	ec:P-256) grep -q "ecdsa-with-SHA256" <<<"$1" || fail "sigalg $2" ;;
	ec:P-384) grep -q "ecdsa-with-SHA384" <<<"$1" || fail "sigalg $2" ;;
	rsa:*) grep -q "sha256WithRSAEncryption" <<<"$1" || fail "sigalg $2"
		grep -q "Public-Key: (${2#rsa:} bit)" <<<"$1" || fail "key size $2" ;;
	esac
}

# An offline CA made with openssl: a root and an intermediate.
setup_ca() {
	local d="$WORK/ca"
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/root.key" -out "$d/root.pem" -days 3650 \
		-subj "/CN=certwiz test root" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/int.key" -out "$d/int.csr" \
		-subj "/CN=certwiz test intermediate" 2>/dev/null
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$d/int.ext"
	openssl x509 -req -in "$d/int.csr" -CA "$d/root.pem" -CAkey "$d/root.key" \
		-CAcreateserial -out "$d/int.pem" -days 3650 -extfile "$d/int.ext" 2>/dev/null
	printf '[trust]\nanchors = ca/root.pem\n' >>"$WORK/certwiz.conf"
}

# at_terminal CMD PROMPT: runs CMD under script(1), a terminal of its own
# whose input is descriptor 3 of the test (a fifo, tty-in) and whose output
# goes to transcript, and waits (10 s at most) until it shows PROMPT; its
# PID is SCRIPT_PID. The test answers with printf ... >&3.
at_terminal() {
	rm -f tty-in
	mkfifo tty-in
	script -qfec "$1" /dev/null <tty-in >transcript 2>&1 &
	SCRIPT_PID=$!
	exec 3>tty-in
	wait_for grep -qF "$2" transcript || fail "no prompt '$2': $(cat transcript)"
}

# sign_csr_dated CSR OUT FROM DAYS: as sign_csr, but valid from FROM days
# from now (negative: in the past) for DAYS days, made with `openssl ca`,
# which takes the dates as given (no faked clock: libfaketime under a
# loaded machine once made openssl fail without a word).
sign_csr_dated() {
	local csr=$1 out=$2 from=$3 days=$4 d=$WORK/ca/dated start end
	mkdir -p "$d"
	[ -f "$d/index.txt" ] || : >"$d/index.txt"
	[ -f "$d/serial" ] || openssl rand -hex 16 >"$d/serial"
	start=$(date -u -d "$from days" +%Y%m%d%H%M%SZ)
	end=$(date -u -d "$((from + days)) days" +%Y%m%d%H%M%SZ)
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = dated
[dated]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = any
preserve = yes
copy_extensions = copy
unique_subject = no
[any]
commonName = optional
organizationName = optional
CNF
	openssl ca -batch -config "$d/ca.cnf" -in "$csr" -cert "$WORK/ca/int.pem" \
		-keyfile "$WORK/ca/int.key" -startdate "$start" -enddate "$end" \
		-notext -out "$out" 2>"$d/err" || fail "openssl ca: $(cat "$d/err")"
}

# sign_csr CSR OUT [DAYS] [EXTRA openssl x509 args]: the CA's answer (PEM
# leaf), copying the CSR's extensions.
sign_csr() {
	local csr=$1 out=$2 days=${3:-90}
	shift 3 2>/dev/null || shift $#
	openssl x509 -req -in "$csr" -CA "$WORK/ca/int.pem" -CAkey "$WORK/ca/int.key" \
		-CAcreateserial -copy_extensions copy -days "$days" -out "$out" "$@" 2>/dev/null
}
