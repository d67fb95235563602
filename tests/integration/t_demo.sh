#!/bin/bash
# The README's first command ends in scripts/offline-demo.sh: it must keep
# working, end to end.
set -eu
: "${CERTWIZ:?}" "${SRCDIR:?}"
command -v softhsm2-util >/dev/null || exit 77
STATE=$(mktemp -d "${TMPDIR:-/tmp}/certwiz-demo.XXXXXX")
chmod 755 "$STATE" # the service's user goes through it
trap 'rm -rf "$STATE"' EXIT
"$SRCDIR/scripts/offline-demo.sh" "$CERTWIZ" "$STATE/s" >"$STATE/out" 2>&1 ||
	{ cat "$STATE/out"; exit 1; }
grep -q "verify OK" "$STATE/out" || { cat "$STATE/out"; exit 1; }
grep -q "certificate 1 imported" "$STATE/out" || { cat "$STATE/out"; exit 1; }
grep -q "issued" "$STATE/out" || { cat "$STATE/out"; exit 1; }
# the wizard goes on past the import: assigned, viewed, exported, audited
for want in '\$ .* assign ' '  sha256 ' '\$ ls export' '\$ .* audit verify'; do
	grep -q -- "$want" "$STATE/out" || { cat "$STATE/out"; exit 1; }
done
echo "demo: ok"
