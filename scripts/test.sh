#!/bin/bash
# The README's second command: installs what is missing, builds, and runs
# the whole test suite (CTest) on a plain build, then again on a build
# with AddressSanitizer and UndefinedBehaviorSanitizer. Two kinds of
# sweeps run once each: the crash sweeps (label crash: they kill certwiz at
# every write and commit to test what a kill leaves, not memory use) on the
# plain build only, and the fault sweeps (label faults: a CKR_* error at
# every call position, where error paths are walked that nothing else
# walks) under the sanitizers only, where a leak or a use after free on
# those paths is caught too. The web server proofs (label workers: nginx's
# and Apache's workers use the token through libp11, certwiz only writes
# their files) run on the plain build only, to keep the whole run within a
# quarter of an hour on two cores. The tests wait on servers, tokens and
# timers more than they compute (at two at a time, user and system time
# came to half of two cores' wall time), so one more runs than there are
# cores. A test that skips itself (exit 77: a tool it needs is missing)
# fails the run: deps.sh installs every tool the suite uses.
set -eu -o pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(($(nproc) + 1))
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
suite build -LE faults
BUILD=build-asan scripts/build.sh -DCERTWIZ_SANITIZE=ON
suite build-asan -LE "crash|workers"
