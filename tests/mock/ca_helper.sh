#!/bin/bash
# A certmonger-style CA helper for the tests: ca_helper.sh MODE DIR.
# MODE hold: SUBMIT keeps the request (its CSR in DIR/COOKIE.csr) and
# prints a cookie (exit 1); POLL answers from DIR/decision: "approve"
# signs the CSR with DIR/ca.pem and DIR/ca.key (exit 0, the certificate
# then the CA's), "reject TEXT" exits 2 with TEXT, nothing yet exits 5 with
# a delay of 1 second and the cookie. Other modes answer every operation
# at once: hang (sleeps), garbage (exit 0 and no certificate), otherkey
# (a certificate for a key of its own), flood (more output than allowed),
# exit-N (prints a line and exits N). Every call is logged to DIR/calls,
# the descriptors of the last one to DIR/fds.
set -u
mode=$1 dir=$2
op=${CERTMONGER_OPERATION:-}
echo "$op ${CERTMONGER_CA_COOKIE:-} ${CERTMONGER_CA_PROFILE:-} $(env | grep -c '^CERTWIZ\|^SOFTHSM\|^PKCS11')" >>"$dir/calls"
# the descriptors it was given (bash adds its own for the script: 255);
# a simple command, not a pipeline: while bash sets a pipeline up it holds
# pipe ends of its own, which ls would list as the helper's
ls /proc/$$/fd >"$dir/fds.raw"
sort -n "$dir/fds.raw" | tr '\n' ' ' >"$dir/fds"
case $op in SUBMIT|POLL) ;; *) exit 6 ;; esac
sign() {
	openssl x509 -req -in "$1" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -copy_extensions copy -days 30 2>/dev/null &&
		cat "$dir/ca.pem"
}
case $mode in
hold)
	if [ "$op" = SUBMIT ]; then
		cookie=req-$(date +%s%N)
		printf '%s\n' "$CERTMONGER_CSR" >"$dir/$cookie.csr"
		echo "$cookie"
		exit 1
	fi
	cookie=$CERTMONGER_CA_COOKIE
	[ -f "$dir/$cookie.csr" ] || { echo "unknown cookie"; exit 4; }
	# issued before: the same certificate again
	[ -f "$dir/$cookie.pem" ] && { cat "$dir/$cookie.pem"; exit 0; }
	if [ -f "$dir/decision" ]; then
		d=$(cat "$dir/decision")
		rm -f "$dir/decision"
		case $d in
		approve)
			sign "$dir/$cookie.csr" >"$dir/$cookie.pem" || exit 3
			echo "$cookie" >>"$dir/issued"
			cat "$dir/$cookie.pem"
			exit 0 ;;
		reject*) echo "${d#reject }"; exit 2 ;;
		esac
	fi
	printf '1\n%s\n' "$cookie"
	exit 5 ;;
hang) sleep 600 ;;
garbage) echo "this is not a certificate"; exit 0 ;;
otherkey) cat "$dir/other.pem"; exit 0 ;;
flood) head -c 400000 /dev/zero | tr '\0' A; exit 0 ;;
exit-*) echo "helper says ${mode#exit-}"; exit "${mode#exit-}" ;;
esac
