#!/bin/bash
# Crash consistency without crash points: the command is killed (SIGKILL,
# strace fault injection) at the 1st, 2nd, ... call of each of pwrite64,
# fdatasync, fsync, rename, link and unlink, and of write and ftruncate on
# the store's files, until it completes untouched. After every kill:
# 'certwiz refresh' succeeds, SQLite's integrity check and 'certwiz audit
# verify' pass, every object on the token belongs to a key the store
# knows, no CKA_ID carries two certificates, and running the command again
# finishes the job with no duplicate key, request or certificate.
#
# SoftHSM2 writes its own files with write and ftruncate only, which is why
# those two are limited to the store's files (strace -P): it rewrites its
# token file in place (truncate, then write), and a process killed between
# the two leaves an uninitialised token. That is the module's weakness
# (tokens/softhsm2.profile); a real HSM has its own atomicity. The other
# calls are certwiz's and SQLite's: the store's journal and commits, and
# the output file's fsync, rename or link.
#
# The t_crash_*.sh tests call this with one command each: request, import,
# assign.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || exit 77
PART=$1
CW_MODE=oneshot
setup_env "crash-$PART"
setup_ca
cd "$WORK"
SYSCALLS="fdatasync fsync rename link unlink pwrite64 write ftruncate"
STORE_FILES=(-P "$WORK/state/store.db" -P "$WORK/state/store.db-wal"
	-P "$WORK/state/store.db-shm")
RUNS=0 KILLS=0

# killed_at SYSCALL N ARGS...: certwiz killed at the Nth SYSCALL call (of
# write and ftruncate: on the store's files); returns certwiz's status
killed_at() {
	local s=$1 n=$2 rc=0
	local -a only=()
	shift 2
	case $s in write | ftruncate) only=("${STORE_FILES[@]}") ;; esac
	strace -f -qq -o /dev/null "${only[@]}" -e trace="$s" \
		-e inject="$s:signal=KILL:when=$n" \
		"$CERTWIZ" --host "$HOST" --pin-file "$WORK/pin" "$@" >out 2>err || rc=$?
	RUNS=$((RUNS + 1))
	return $rc
}

consistent() { # consistent WHERE: the checks after a kill
	refresh_after "$1"
	sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok ||
		fail "integrity after $1"
	expect_rc 0 cw audit verify
	token_objects >objects
	sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' objects | sort -u >ids.token
	sqlite3 state/store.db "select cka_id from keys union select value from meta
		where key='audit_key_id'" | sort -u >ids.store
	[ -z "$(comm -23 ids.token ids.store)" ] ||
		fail "objects $(comm -23 ids.token ids.store | tr '\n' ' ')untracked after $1"
	[ -z "$(grep 'Certificate Object' objects |
		sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' | sort | uniq -d)" ] ||
		fail "two certificates under one ID after $1"
}

response() { # response FILE: a CA answer to a fresh request
	cw request --usage Default --offline --out next.csr --force >/dev/null 2>&1 ||
		fail "setup request"
	sign_csr next.csr next.pem 90
	cat next.pem ca/int.pem >"$1"
}

# sweep: each syscall, each call. Each part defines prepare (before an
# attempt), args (the command's arguments) and finish WHERE (after a kill,
# and once after the command completed untouched).
sweep() {
	local s n rc
	for s in $SYSCALLS; do
		n=1
		while :; do
			prepare
			rc=0
			killed_at "$s" "$n" $(args) || rc=$?
			[ $rc = 137 ] || break
			KILLS=$((KILLS + 1))
			consistent "$PART killed at $s #$n"
			finish "$s #$n"
			n=$((n + 1))
			[ $n -le 200 ] || fail "$s: more than 200 calls"
		done
		[ $rc = 0 ] || { cat err >&2; fail "$PART: exit $rc ($s #$n)"; }
		finish "$s (complete)"
	done
}

case $PART in
request)
	# the request itself: a killed one leaves a listed key at most; the
	# next request (each attempt, and the untouched run) is a new one with
	# its own key, never a second row for a key
	prepare() { rm -f r.csr; }
	args() { echo request --usage Default --offline --out r.csr; }
	finish() {
		[ -z "$(sqlite3 state/store.db "select key_id from requests
			group by key_id having count(*) > 1")" ] ||
			fail "two requests for one key after $1"
	}
	;;
import)
	# a response per attempt; a killed import completes when run again
	prepare() { response resp.pem; }
	args() { echo import resp.pem; }
	finish() {
		local rc=0
		cw import resp.pem >out 2>err || rc=$?
		[ $rc = 0 ] || grep -q "already imported" err ||
			fail "import after $1 exited $rc: $(cat err)"
		[ "$(sqlite3 state/store.db "select count(*) from certificates
			where sha256 = '$(openssl x509 -in next.pem -outform DER |
			sha256sum | cut -d' ' -f1)'")" = 1 ] ||
			fail "the certificate is not stored exactly once after $1"
	}
	;;
assign)
	# two certificates, assigned back and forth: after a kill exactly one
	# serves, the one before or the one asked for
	response a.pem && expect_rc 0 cw import a.pem
	response b.pem && expect_rc 0 cw import b.pem
	expect_rc 0 cw assign 1 --usage Default
	prepare() {
		NEXT=$((3 - $(sqlite3 state/store.db "select cert_id from
			assignments where usage = 'Default' and state = 'current'")))
	}
	args() { echo assign "$NEXT" --usage Default; }
	finish() {
		local cur
		cur=$(sqlite3 state/store.db "select group_concat(cert_id) from
			assignments where usage = 'Default' and state = 'current'")
		[ "$cur" = 1 ] || [ "$cur" = 2 ] || fail "current after $1: '$cur'"
		prepare
		expect_rc 0 cw assign "$NEXT" --usage Default
	}
	;;
*) fail "unknown part '$PART'" ;;
esac
sweep
echo "crash sweep ($PART): $KILLS kills in $RUNS runs, each followed by a consistent refresh"
