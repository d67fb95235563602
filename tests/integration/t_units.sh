#!/bin/bash
# The systemd units that ship: valid (systemd-analyze verify), hardened
# (systemd-analyze security: exposure at most 3.0 of 10), socket-activated,
# and run as the service's own user without any capability.
set -eu
: "${CERTWIZ:?}" "${SRCDIR:?}"
command -v systemd-analyze >/dev/null || exit 77
CERTWIZD=${CERTWIZD:-$(dirname "$CERTWIZ")/certwizd}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/certwiz-units.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sed "s|@CERTWIZD@|$CERTWIZD|" "$SRCDIR/systemd/certwizd.service.in" >"$WORK/certwizd.service"
cp "$SRCDIR/systemd/certwizd.socket" "$WORK/"
cd "$WORK"
systemd-analyze verify --man=no ./certwizd.socket ./certwizd.service ||
	fail "the units do not verify"
systemd-analyze security --offline=true --threshold=30 ./certwizd.service >security.txt 2>&1 ||
	{ cat security.txt >&2; fail "exposure above 3.0"; }
grep -q '^User=certwiz$' certwizd.service || fail "not the service's user"
grep -q '^CapabilityBoundingSet=$' certwizd.service || fail "capabilities left"
grep -q '^ListenStream=/run/certwiz/certwiz.sock$' certwizd.socket || fail "socket path"
grep -q '^SocketMode=0666$' certwizd.socket || fail "socket mode"
grep -q 'Overall exposure level' security.txt || fail "no exposure figure"
echo "units: $(grep -o 'Overall exposure level.*' security.txt)"
