#!/bin/bash
# The README's second command: installs what is missing, builds, and runs
# the whole test suite (CTest: unit and softhsm labels).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD=${BUILD:-build} scripts/build.sh
cd "${BUILD:-build}"
ctest --output-on-failure -j"$(nproc)"
