# Ports for the servers a test or benchmark starts (sourced). Needs fail.

# free_port: TCP ports on 127.0.0.1 for a server of this test. Taken
# below the kernel's ephemeral range (a port from it can become the local
# end of any outgoing connection between the check and the bind), free now
# (nothing answers a connect), and reserved against the other tests of a
# parallel run by a directory made atomically under $PORT_RESERVE_DIR,
# holding this test's PID (a reservation whose test is gone is taken over)
# and removed at exit.
PORT_RESERVE_DIR=${TMPDIR:-/tmp}/certwiz-test-ports
free_port() { # free_port [N]: N consecutive ports (1), the first printed
	local n=${1:-1} p lo hi owner i ok
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	hi=$((lo - n))
	[ "$hi" -gt 12000 ] || hi=65000
	mkdir -p "$PORT_RESERVE_DIR"
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % (hi - 10000)))
		ok=1
		for ((i = p; i < p + n; i++)); do
			if ! mkdir "$PORT_RESERVE_DIR/$i" 2>/dev/null; then
				owner=$(cat "$PORT_RESERVE_DIR/$i/pid" 2>/dev/null) || owner=$$
				if kill -0 "$owner" 2>/dev/null; then ok=0 && break; fi
			fi
			echo $$ >"$PORT_RESERVE_DIR/$i/pid"
			if (exec 3<>"/dev/tcp/127.0.0.1/$i") 2>/dev/null; then ok=0 && break; fi
		done
		[ "$ok" = 1 ] || continue
		echo "$p"
		return 0
	done
	fail "no free port"
}
release_ports() {
	local d
	for d in "$PORT_RESERVE_DIR"/*; do
		[ "$(cat "$d/pid" 2>/dev/null)" = $$ ] && rm -rf "$d"
	done
	return 0
}
