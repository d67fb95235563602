#!/bin/bash
# The README's second command: installs what is missing, builds, and runs
# the whole test suite (CTest: unit and softhsm labels), then the same
# suite again on a build with AddressSanitizer and UndefinedBehaviorSanitizer
# (but for the crash sweeps, label crash: they kill certwiz at every write
# and commit to test what a kill leaves, not memory use, and would take
# three times as long). A test that skips itself (exit 77: a tool it needs
# is missing) fails the run: deps.sh installs every tool the suite uses.
set -eu -o pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
BUILD=build scripts/build.sh
suite() {
	local dir=$1
	shift
	(cd "$dir" && ctest --output-on-failure -j"$jobs" "$@") | tee "$dir/ctest.log"
	if grep -q -- '\*\*\*Skipped' "$dir/ctest.log"; then
		echo "test.sh: tests skipped in $dir (a tool is missing):" >&2
		grep -- '\*\*\*Skipped' "$dir/ctest.log" >&2
		return 1
	fi
}
suite build
BUILD=build-asan scripts/build.sh -DCERTWIZ_SANITIZE=ON
suite build-asan -LE crash
