#!/bin/bash
# PIN sources: descriptor, file, the URI's pin-source, a terminal prompt
# with echo off; never argv. A wrong PIN is tried exactly once.
source "$(dirname "$0")/lib.sh"
CW_MODE=oneshot
setup_env pin
cd "$WORK"

# --pin-fd
expect_rc 0 "$CERTWIZ" --host "$HOST" request --usage Default --offline \
	--out fd.pem --pin-fd 3 3<pin
# pin-source in the token URI (no --pin-file)
expect_rc 0 "$CERTWIZ" --host "$HOST" request --usage Default --offline \
	--out uri.pem --token "pkcs11:token=$TOKEN_LABEL?pin-source=$WORK/pin"

# A terminal prompt: the PIN typed is not echoed back.
at_terminal "$CERTWIZ --host $HOST request --usage Default --offline --out tty.pem" \
	"Enter PIN for token 'web-hsm'"
# While it waits for the PIN: no core dumps, not dumpable. (Under
# scripts/valgrind.sh the process is valgrind's, whose limits are its own:
# these two checks are for the normal and sanitizer runs.)
if [ -z "${CERTWIZ_VALGRIND:-}" ]; then
	# The certwiz under this test's script(1), not another test's: walk up
	# each candidate's parents (field 4 of /proc/PID/stat).
	CW_PID=
	for p in $(pgrep -x certwiz); do
		q=$p
		while [ "${q:-1}" -gt 1 ]; do
			[ "$q" = "$SCRIPT_PID" ] && CW_PID=$p && break
			q=$(awk '{print $4}' "/proc/$q/stat" 2>/dev/null || true)
		done
	done
	[ -n "$CW_PID" ] || fail "certwiz not found"
	grep -q "^Max core file size *0 *0" "/proc/$CW_PID/limits" || fail "core dumps allowed"
	[ "$(grep -c "$PIN" "/proc/$CW_PID/cmdline" || true)" = 0 ] || fail "PIN on argv"
fi
# Waiting at the prompt, it leaves the token to other certwiz processes
# (one that found the tokens held would give up after two minutes).
expect_rc 0 cw request --usage Default --offline --out meanwhile.pem
printf '%s\r' "$PIN" >&3
exec 3>&-
wait "$SCRIPT_PID" || fail "prompted request failed: $(cat transcript)"
[ -s tty.pem ] || fail "no CSR after the prompt"
grep -q "$PIN" transcript && fail "the PIN was echoed"

# A wrong PIN: one C_Login, exit 6, nothing created (counted by pkcs11-spy).
SPY=$(ls /usr/lib/*/pkcs11-spy.so /usr/lib/*/pkcs11/pkcs11-spy.so 2>/dev/null | head -1)
[ -n "$SPY" ] || fail "pkcs11-spy.so not found (opensc)"
sed "s|^module = .*|module = $SPY|" certwiz.conf >spy.conf
echo not-the-pin >wrong && chmod 600 wrong
snapshot base
PKCS11SPY="$MODULE" PKCS11SPY_OUTPUT="$WORK/state/spy.log" expect_rc 6 \
	"$CERTWIZ" -c spy.conf --host "$HOST" --pin-file wrong request \
	--usage Default --offline --out wrong.pem
expect_err "wrong PIN for token 'web-hsm' (not retried)"
[ "$(grep -c '^[0-9]*: C_Login$' state/spy.log)" = 1 ] || { grep C_Login state/spy.log; fail "C_Login not called exactly once"; }
grep -q "C_GenerateKeyPair" state/spy.log && fail "key generation after a wrong PIN"
unchanged base
[ ! -e wrong.pem ] || fail "CSR written after a wrong PIN"

# The right PIN through the spy still works: the module path is honoured.
PKCS11SPY="$MODULE" PKCS11SPY_OUTPUT="$WORK/state/spy2.log" expect_rc 0 \
	"$CERTWIZ" -c spy.conf --host "$HOST" --pin-file pin request \
	--usage Default --offline --out spy.pem
[ "$(grep -c '^[0-9]*: C_Login$' state/spy2.log)" = 1 ] || fail "one login per invocation"
grep -q "$PIN" state/store.db && fail "PIN in the store"
echo "pin: ok"
