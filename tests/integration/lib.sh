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

softhsm_module() {
	local p
	for p in $(sed -n 's/^module_path = //p' "$SRCDIR/tokens/softhsm2.profile"); do
		if [ -e "$p" ]; then echo "$p"; return 0; fi
	done
	return 1
}

# setup_env NAME: a fresh work directory with its own token and store.
setup_env() {
	command -v softhsm2-util >/dev/null || exit 77
	MODULE=$(softhsm_module) || exit 77
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/certwiz-$1.XXXXXX")
	mkdir -p "$WORK/tokens" "$WORK/state"
	sed "s|@TOKENDIR@|$WORK/tokens|" "$SRCDIR/tokens/softhsm2.conf.in" >"$WORK/softhsm2.conf"
	export SOFTHSM2_CONF="$WORK/softhsm2.conf"
	softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
		--pin "$PIN" --so-pin "$SO_PIN" >/dev/null
	umask 077
	printf '%s\n' "$PIN" >"$WORK/pin"
	umask 022
	cp "$SRCDIR/examples/topology-sfb.json" "$WORK/topology.json"
	cat >"$WORK/certwiz.conf" <<CONF
[store]
path = state/store.db
[token]
uri = pkcs11:token=$TOKEN_LABEL
module = $MODULE
[topology]
file = topology.json
CONF
	export CERTWIZ_CONF="$WORK/certwiz.conf"
	HOST=fe01.contoso.test
	trap 'cleanup_env' EXIT
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

# Background servers the test started (PIDs), stopped at exit.
BG_PIDS=""

cleanup_env() {
	local rc=$?
	local p
	for p in $BG_PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $BG_PIDS; do wait "$p" 2>/dev/null || true; done
	if [ "$rc" -eq 0 ] && ! canary_check; then
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "--- work directory kept: $WORK" >&2
	elif [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}

cw() {
	"$CERTWIZ" --host "$HOST" --pin-file "$WORK/pin" "$@"
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

# sign_csr CSR OUT [DAYS] [EXTRA openssl x509 args]: the CA's answer (PEM
# leaf), copying the CSR's extensions.
sign_csr() {
	local csr=$1 out=$2 days=${3:-90}
	shift 3 2>/dev/null || shift $#
	openssl x509 -req -in "$csr" -CA "$WORK/ca/int.pem" -CAkey "$WORK/ca/int.key" \
		-CAcreateserial -copy_extensions copy -days "$days" -out "$out" "$@" 2>/dev/null
}
