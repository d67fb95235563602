#!/bin/bash
# The README's first command: installs what is missing, builds, and walks
# the offline path end to end on a throwaway SoftHSM2 token with the
# embedded SQLite store under a state directory (default ./demo-state).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec scripts/offline-demo.sh "$PWD/build/certwiz" "${1:-$PWD/demo-state}"
