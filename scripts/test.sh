#!/bin/bash
# The README's second command: installs what is missing, builds, and runs
# the whole test suite (CTest: unit and softhsm labels), then the same
# suite again on a build with AddressSanitizer and UndefinedBehaviorSanitizer
# (but for the crash sweeps, label crash: they kill certwiz at every write
# and commit to test what a kill leaves, not memory use, and would take
# three times as long).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
BUILD=build scripts/build.sh
(cd build && ctest --output-on-failure -j"$jobs")
BUILD=build-asan scripts/build.sh -DCERTWIZ_SANITIZE=ON
(cd build-asan && ctest --output-on-failure -j"$jobs" -LE crash)
