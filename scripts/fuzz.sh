#!/bin/bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 600), starting from the seed corpus under
# tests/fuzz/corpus/TARGET; new inputs go to build-fuzz/corpus/TARGET and
# crashes to build-fuzz/crashes/TARGET. Runs JOBS targets at once.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
shift || true
TARGETS=${*:-uri import topology config acme}
JOBS=${JOBS:-$(nproc)}
scripts/deps.sh
command -v clang >/dev/null || {
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
}
CC=clang cmake -S . -B build-fuzz -DCERTWIZ_FUZZ=ON -DCERTWIZ_WERROR=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for t in $TARGETS; do
	cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$t" >/dev/null
done
run() {
	local t=$1
	mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
	ASAN_OPTIONS=detect_leaks=1 "build-fuzz/tests/fuzz_$t" \
		-max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="build-fuzz/crashes/$t/" \
		"build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
		>"build-fuzz/fuzz-$t.log" 2>&1
	echo "$t: $(grep -E '^#[0-9]+.*(DONE|pulse)' "build-fuzz/fuzz-$t.log" | tail -1)"
}
status=0
running=0
for t in $TARGETS; do
	run "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
done
while [ "$running" -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done
exit $status
