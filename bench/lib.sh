# Shared by the benchmark scripts (sourced): statistics over hyperfine's
# runs and the tables of bench/results.md. Uses WORK, ROUNDS, RUNS and
# fail from the script.

# stats FILE: "median stddev min max n" (milliseconds) of the times in FILE
stats() {
	sort -g "$1" | awk '{v[NR] = $1 * 1000; s += v[NR]; q += v[NR] * v[NR]}
		END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			sd = NR > 1 ? sqrt((q - s * s / NR) / (NR - 1)) : 0
			printf "%.1f %.1f %.1f %.1f %d\n", m, sd, v[1], v[NR], NR
		}'
}

# interleave TAG CMD...: ROUNDS rounds, each running every command RUNS
# times (after one warm-up run each); all times of command i go to
# $WORK/TAG.i.times.
interleave() {
	local tag=$1 i
	shift
	for i in $(seq 0 $(($# - 1))); do : >"$WORK/$tag.$i.times"; done
	for _ in $(seq "$ROUNDS"); do
		hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/h.json" \
			"$@" >/dev/null 2>"$WORK/h.err" || {
			cat "$WORK/h.err" >&2
			fail "hyperfine failed for $tag"
		}
		for i in $(seq 0 $(($# - 1))); do
			jq -r ".results[$i].times[]" "$WORK/h.json" >>"$WORK/$tag.$i.times"
		done
	done
}

# rss CMD...: peak resident set of one run, in MiB
rss() {
	/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1 / 1024}'
}

# row TAG I LABEL [RSS]: one table row for command I of TAG
row() {
	local s
	s=$(stats "$WORK/$1.$2.times")
	set -- "$3" ${4:-} $s
	if [ $# -eq 7 ]; then
		printf '| %s | %s ms | %s ms | %s ms | %s ms | %s | %s MiB |\n' "$1" "$3" "$4" "$5" "$6" "$7" "$2"
	else
		printf '| %s | %s ms | %s ms | %s ms | %s ms | %s | |\n' "$1" "$2" "$3" "$4" "$5" "$6"
	fi
}

# ratio TAG I J: median of command I over median of command J (three
# significant digits; below 0.5 the inverse is added, "0.0072 (139x faster)")
ratio() {
	echo "$(stats "$WORK/$1.$2.times" | cut -d' ' -f1) $(stats "$WORK/$1.$3.times" | cut -d' ' -f1)" |
		awk '{r = $1 / $2; printf "%.3g", r; if (r < 0.5) printf " (%.3gx faster)", 1 / r}'
}

table_head() {
	echo "| command | median | ± | min | max | runs | peak RSS |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
}

# --- a token, a store and certwizd, as installed ---------------------------
# Uses SRC, CW, CWD, MODULE, PIN, HOST, AS_SVC, BG_PIDS and fail.

new_token() { # new_token DIR: a fresh token, store and configuration in DIR,
	# laid out as installed, and a certwizd serving them
	local d=$1
	mkdir -p "$d/tokens" "$d/state" "$d/run"
	chmod 755 "$d"
	chmod 700 "$d/state"
	chown certwiz: "$d/tokens" "$d/state"
	sed "s|@TOKENDIR@|$d/tokens|" tokens/softhsm2.conf.in >"$d/softhsm2.conf"
	SOFTHSM2_CONF="$d/softhsm2.conf" $AS_SVC softhsm2-util --init-token --free \
		--label bench --pin $PIN --so-pin so-$PIN >/dev/null
	(umask 077 && printf '%s\n' $PIN >"$d/pin") && chown certwiz "$d/pin"
	cp examples/topology-sfb.json "$d/topology.json"
	cat >"$d/certwiz.conf" <<CONF
[store]
path = state/store.db
[token]
uri = pkcs11:token=bench
module = $MODULE
pin_file = pin
[topology]
file = topology.json
host = $HOST
[trust]
anchors = ca/root.pem
[service]
socket = run/certwiz.sock
CONF
	mkdir -p "$d/ca"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca/root.key" -out "$d/ca/root.pem" -days 30 \
		-subj "/CN=bench root" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	start_service "$d"
	"$CW" -c "$d/certwiz.conf" init >/dev/null || fail "certwiz init for $d"
}
start_service() { # start_service DIR: certwizd for DIR's configuration
	SOFTHSM2_CONF="$1/softhsm2.conf" "$CWD" --config "$1/certwiz.conf" \
		2>>"$1/certwizd.log" </dev/null &
	BG_PIDS="$BG_PIDS $!"
	for _ in $(seq 100); do [ -S "$1/run/certwiz.sock" ] && return 0; sleep 0.05; done
	fail "certwizd did not start for $1"
}

# replace_section NAME FRAG: puts FRAG (which starts with "<!-- NAME -->"
# and ends with "<!-- /NAME -->") in place of that section of
# bench/results.md, or at its end.
replace_section() {
	local out=$SRC/bench/results.md
	if grep -q "^<!-- $1 -->\$" "$out"; then
		sed "/^<!-- $1 -->\$/,/^<!-- \/$1 -->\$/d" "$out" >"$2.all"
	else
		cp "$out" "$2.all"
	fi
	cat "$2" >>"$2.all"
	mv "$2.all" "$out"
}
