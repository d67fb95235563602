#!/bin/bash
# Configures and builds certwiz into ${BUILD:-build}; extra arguments go to
# cmake (for example -DCERTWIZ_SANITIZE=ON).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
