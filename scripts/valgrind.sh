#!/bin/bash
# Runs the integration tests once with every certwiz process under valgrind
# (memcheck) and reports, from the logs, the memory errors and the definite
# leaks whose stack passes through certwiz's own code (src/). The crash
# sweeps (strace) and the token fault matrices are left out unless asked
# for: ARGS go to ctest (e.g. -R faults_request).
# usage: scripts/valgrind.sh [CTEST ARGS...]
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
command -v valgrind >/dev/null || {
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
}
BUILD=build-valgrind scripts/build.sh -DCERTWIZ_TEST_TIMEOUT=3600
LOGS=$PWD/build-valgrind/valgrind
rm -rf "$LOGS"
mkdir -p "$LOGS"
chmod 1777 "$LOGS" # the permissions test runs certwiz as other users
[ $# -gt 0 ] || set -- -L softhsm -LE crash -E 'faults_'
status=0
(cd build-valgrind && CERTWIZ_VALGRIND=$LOGS ctest -j"$(nproc)" --output-on-failure "$@") ||
	status=1
runs=$(ls "$LOGS"/*.log | wc -l)
# a leak counts when a frame of its stack is in certwiz's sources
errors=$(grep -l "ERROR SUMMARY: [1-9]\|Invalid \|uninitialised\|Mismatched free" "$LOGS"/*.log || true)
leaks=$(grep -l "definitely lost" "$LOGS"/*.log | while read -r f; do
	awk '/definitely lost/ { on = 1 } on && /\/src\// { print FILENAME; exit }
		/^==[0-9]+== $/ { on = 0 }' "$f"; done | sort -u)
echo "valgrind: $runs certwiz processes; memory errors in $(echo "$errors" | grep -c . || true); definite leaks through src/ in $(echo "$leaks" | grep -c . || true)"
for f in $errors $leaks; do echo "--- $f"; cat "$f"; done
[ -z "$errors" ] && [ -z "$leaks" ] || status=1
exit $status
