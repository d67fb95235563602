#!/bin/bash
# Token faults SoftHSM2 cannot produce on demand, injected by faulty_p11.so
# (it forwards to SoftHSM2): the verbs named as arguments (request, import,
# assign, refresh, pin, acme) run with each CKR_* code at each position of
# their PKCS#11 calls. The t_faults_*.sh tests call this with one part each, so
# that CTest runs the parts in parallel. Every run ends
# with a clear message and a documented exit code (or succeeds, where the
# fault was tolerated), the store passes its integrity check, and no object
# is left on the token that the store does not know about.
source "$(dirname "$0")/lib.sh"
[ -n "${FAULTY_P11_SO:-}" ] && [ -f "$FAULTY_P11_SO" ] || exit 77
PARTS=" $* "
CW_MODE=oneshot
setup_env "faults-${1:-all}"
setup_ca
cd "$WORK"
sed -i "s|^module = .*|module = $FAULTY_P11_SO|" certwiz.conf
export FAULTY_P11_MODULE=$MODULE
# request, the longest path, takes every code at every call; the other
# verbs one code of each class certwiz handles differently (a wrong or
# locked PIN, a token gone, a failure retried once, a fatal error), so
# that the suite stays quick. FAULT_CODES narrows both (the sanitizer run:
# memory on the error paths, which are the same for every code of a
# class).
ALL_CODES=${FAULT_CODES:-"CKR_PIN_INCORRECT CKR_PIN_LOCKED CKR_TOKEN_NOT_PRESENT CKR_DEVICE_REMOVED
CKR_SESSION_HANDLE_INVALID CKR_DEVICE_ERROR CKR_FUNCTION_FAILED CKR_GENERAL_ERROR"}
CODES=${FAULT_CODES:-"CKR_PIN_INCORRECT CKR_PIN_LOCKED CKR_DEVICE_REMOVED CKR_SESSION_HANDLE_INVALID CKR_GENERAL_ERROR"}

calls() { # calls CMD...: how many wrapped PKCS#11 calls CMD makes
	rm -f "$SVC_DIR/calls.log"
	FAULTY_P11_LOG=$SVC_DIR/calls.log "$@" >/dev/null 2>&1 || true
	wc -l <"$SVC_DIR/calls.log"
}

consistent() { # the store is sound and knows every object on the token
	sqlite3 state/store.db 'PRAGMA integrity_check' | grep -qx ok || fail "integrity after $1"
	token_objects | sed -n 's/.*ID: *\([0-9a-f]*\).*/\1/p' | sort -u >ids.token
	sqlite3 state/store.db "select cka_id from keys union select value from meta
		where key='audit_key_id' union select cka_id from acme_accounts" |
		sort -u >ids.store
	[ -z "$(comm -23 ids.token ids.store)" ] ||
		fail "objects $(comm -23 ids.token ids.store | tr '\n' ' ')untracked after $1"
}

RUNS=0 OK=0 FAILED=0
faulted() { # faulted LABEL SPEC CMD...: one run with a fault
	local label=$1 spec=$2 rc=0
	shift 2
	FAULTY_P11="$spec" "$@" >out 2>err || rc=$?
	RUNS=$((RUNS + 1))
	# refresh carries on past a token it cannot open, and says so (exit 9)
	[ "$label" = refresh ] && [ $rc = 9 ] && grep -q "token-unreachable" out && rc=0
	case $rc in
	0) OK=$((OK + 1)) ;;
	1 | 6)
		FAILED=$((FAILED + 1))
		grep -q "^certwiz: " err || fail "$label ($spec): no message"
		;;
	*) cat err >&2; fail "$label ($spec): exit $rc" ;;
	esac
	if [ $rc = 6 ]; then
		grep -Eq "C_[A-Za-z]+[(:]|PIN|token" err || fail "$label ($spec): unclear: $(cat err)"
	fi
	consistent "$label ($spec)"
}

new_response() { # a fresh CA answer to a new request: response.pem
	rm -f next.csr
	cw request --usage Default --offline --out next.csr >/dev/null 2>&1 || fail "setup request"
	sign_csr next.csr next.pem 90
	cat next.pem ca/int.pem >response.pem
}

# Certificates to assign back and forth.
for n in a b; do
	new_response
	cw import response.pem >/dev/null 2>&1 || fail "setup import"
done

want() { [ "$PARTS" = "  " ] || [[ $PARTS == *" $1 "* ]]; }

if want refresh; then
N_REF=$(calls cw refresh)
for n in $(seq 1 "$N_REF"); do
	for code in $CODES; do
		faulted refresh "*:$n:$code" cw refresh
	done
done
fi
if want assign; then
N_ASG=$(calls cw assign 1 --usage Default)
for n in $(seq 1 "$N_ASG"); do
	for code in $CODES; do
		cur=$(sqlite3 state/store.db "select cert_id from assignments where usage='Default' and state='current'")
		next=1
		[ "$cur" = 1 ] && next=2
		faulted assign "*:$n:$code" cw assign "$next" --usage Default
	done
done
fi

if want import; then
new_response
N_IMP=$(calls cw import response.pem)
new_response
for n in $(seq 1 "$N_IMP"); do
	for code in $CODES; do
		faulted import "*:$n:$code" cw import response.pem
		# only an import that went through needs a new response
		if grep -q "certificate .* imported" out; then new_response; fi
	done
done
fi

if want request; then
N_REQ=$(calls cw request --usage Default --offline --out probe.csr)
rm -f probe.csr
for n in $(seq 1 "$N_REQ"); do
	for code in $ALL_CODES; do
		rm -f f.csr
		faulted request "*:$n:$code" cw request --usage Default --offline --out f.csr
	done
done
fi

# A refresh that fails midway marks nothing gone that is there.
refresh_after "the faults"
jq -e '[.events[] | select(.kind=="key-missing" or .kind=="cert-missing")] | length == 0' \
	<<<"$OUT" >/dev/null || fail "a fault made refresh mark objects missing: $OUT"

if want acme; then
# Online requests against a real pebble: every call position, with a
# device that vanished and a general error; after each faulted run a clean
# 'pending process' completes whatever request it left open, so nothing
# is lost, and no order is made twice for one request.
source "$(dirname "$0")/pebble.sh"
setup_pebble
ACME_CODES=${FAULT_ACME_CODES:-"CKR_DEVICE_REMOVED CKR_GENERAL_ERROR"}
N_ACME=$(calls cw request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble)
for n in $(seq 1 "$N_ACME"); do
	for code in $ACME_CODES; do
		faulted acme "*:$n:$code" cw request --usage OAuthTokenIssuer \
			--key ec:P-256 --ca pebble
		rc=0
		cw pending process >out 2>err || rc=$?
		[ $rc = 0 ] || [ $rc = 4 ] || fail "acme ($n $code): pending process exit $rc: $(cat err)"
	done
done
[ -z "$(sqlite3 state/store.db "select state from requests where protocol = 'acme'
	and state not in ('issued')")" ] || fail "an online request was left unfinished"
[ "$(pebble_orders)" = "$(sqlite3 state/store.db "select count(*) from requests
	where protocol = 'acme' and ca_ref is not null")" ] ||
	fail "pebble made $(pebble_orders) orders for $(sqlite3 state/store.db "select count(*) from requests where protocol = 'acme' and ca_ref is not null") requests"
fi

if want pin; then
# PIN flags: a final try or a locked PIN is never tried; a low count warns.
rm -f "$SVC_DIR/calls.log"
FAULTY_P11_FLAGS=final_try FAULTY_P11_LOG=$SVC_DIR/calls.log expect_rc 6 \
	cw request --usage Default --offline --out ft.csr
expect_err "the next wrong PIN locks it"
grep -q C_Login "$SVC_DIR/calls.log" && fail "C_Login attempted at the final try"
FAULTY_P11_FLAGS=locked expect_rc 6 cw request --usage Default --offline --out lk.csr
expect_err "is locked"
FAULTY_P11_FLAGS=count_low expect_rc 0 cw request --usage Default --offline --out low.csr
expect_err "a wrong PIN was given recently"
# A wrong PIN at login: exit 6, one C_Login, audited.
rm -f "$SVC_DIR/calls.log"
FAULTY_P11="C_Login:1:CKR_PIN_INCORRECT" FAULTY_P11_LOG=$SVC_DIR/calls.log expect_rc 6 \
	cw request --usage Default --offline --out pin.csr
[ "$(grep -c C_Login "$SVC_DIR/calls.log")" = 1 ] || fail "PIN retried"
fi
expect_rc 0 cw audit verify
echo "token faults ($*): $RUNS runs ($OK tolerated, $FAILED refused cleanly), calls per run: request ${N_REQ:--}, import ${N_IMP:--}, assign ${N_ASG:--}, refresh ${N_REF:--}, acme ${N_ACME:--}"
