#!/bin/bash
# The README's first command: installs what is missing, builds, and walks
# the offline path end to end, through the service, on a throwaway SoftHSM2
# token with the embedded SQLite store under a state directory (default
# /tmp/certwiz-demo: the configuration's folder must belong to root).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec scripts/offline-demo.sh "$PWD/build/certwiz" "${1:-/tmp/certwiz-demo}"
