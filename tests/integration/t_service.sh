#!/bin/bash
# certwizd under attack from its own clients and its own host: silent,
# malformed, oversized and vanishing clients, a flood from one user,
# files swapped for links, a FIFO, a hostile PKCS#12 file, a configuration
# or module others can write. Each is refused or outlasted, said in the
# service's log, and leaves the store and the token as they were; the
# service keeps serving everyone else. Also: socket activation.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || exit 77
[ -n "${CWPROBE:-}" ] && [ -x "$CWPROBE" ] || exit 77
setup_env service
setup_ca
cd "$WORK"
SOCK=$WORK/run/certwiz.sock
expect_rc 0 cw request --usage Default --offline --out first.csr
snapshot base

# 1. A silent client does not hold up anyone: another client's status is
# answered while it sits there; the service drops it at its deadline.
"$CWPROBE" "$SOCK" idle 20 >idle.out &
IDLE=$!
sleep 0.3
expect_rc 0 cw status
kill -0 "$IDLE" 2>/dev/null || fail "the silent client was dropped before the deadline"
wait "$IDLE"
grep -q '^closed' idle.out || fail "the silent client was never dropped: $(cat idle.out)"
grep -q "no request: nothing within 10 s" certwizd.log || fail "not logged"

# 2. Malformed, oversized and cut requests: refused with a clear answer,
# logged, the service serves the next client.
expect_rc 0 "$CWPROBE" "$SOCK" garbage
grep -q "malformed request" <<<"$OUT$ERR" || fail "garbage: $OUT $ERR"
grep -q '"code":2' <<<"$OUT" || fail "garbage: exit code: $OUT"
expect_rc 0 "$CWPROBE" "$SOCK" oversize
grep -q '"code":2' <<<"$OUT" || fail "oversize: $OUT"
expect_rc 0 "$CWPROBE" "$SOCK" cut
expect_rc 0 "$CWPROBE" "$SOCK" argv certwiz frobnicate
grep -q "unknown command 'frobnicate'" <<<"$ERR" || fail "unknown verb: $ERR"
grep -q '"code":2' <<<"$OUT" || fail "unknown verb: exit code: $OUT"
[ "$(grep -c "malformed request" certwizd.log)" -ge 3 ] || fail "malformed requests not logged"
expect_rc 0 cw status
unchanged base

# 3. A flood from one user: at most [service] max_clients_per_user of its
# connections at once (8), the others refused at once; other users are
# served meanwhile.
make_user FLOODER
make_user OTHER
runuser -u "$FLOODER" -- "$CWPROBE" "$SOCK" hold 20 12 >flood.out &
FLOOD=$!
for _ in $(seq 100); do grep -q holding flood.out && break; sleep 0.05; done
expect_rc 0 runuser -u "$OTHER" -- env CERTWIZ_CONF="$CERTWIZ_CONF" "$CERTWIZ" status
expect_rc 0 cw status
[ "$(grep -c "uid $(id -u "$FLOODER"): refused a connection: too many connections of this user" certwizd.log)" = 12 ] ||
	fail "the flood was not bounded: $(grep -c refused certwizd.log)"
kill "$FLOOD" 2>/dev/null || true
wait "$FLOOD" 2>/dev/null || true

# 4. A client that goes away in the middle of a request (at the moment the
# service hands it the CSR): nothing is kept, no key on the token.
expect_rc 0 "$CWPROBE" "$SOCK" vanish certwiz --host "$HOST" request --usage Default \
	--offline --out "$WORK/gone.csr"
grep -q "vanished at the file" <<<"$OUT" || fail "vanish: $OUT"
for _ in $(seq 100); do grep -q "(client gone)" certwizd.log && break; sleep 0.05; done
grep -q "request: exit 1 in .* (client gone)" certwizd.log || fail "not logged: $(tail -3 certwizd.log)"
unchanged base
[ "$(sqlite3 state/store.db "select count(*) from audit where operation='key-destroyed'")" = 1 ] ||
	fail "the withdrawn key is not audited"

# 5. A FIFO where a file is expected: refused at once, never waited on.
mkfifo response.fifo
expect_rc 2 timeout 10 "$CERTWIZ" --host "$HOST" import response.fifo
expect_err "is not a regular file"

# 6. A PKCS#12 file asking for 8,388,607 iterations of its key derivation
# (it would hold the service for minutes): refused before any derivation.
sed -i 's|^\[policy\]$|&\nallow_key_import = true|' certwiz.conf
grep -q '^allow_key_import' certwiz.conf || printf '[policy]\nallow_key_import = true\n' >>certwiz.conf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout p12.key \
	-out p12.crt -days 30 -subj "/CN=pool01.contoso.test" 2>/dev/null
openssl pkcs12 -export -in p12.crt -inkey p12.key -passout pass:CANARY-P12-PASSWORD \
	-iter 65536 -nomac -out small.p12
xxd -p small.p12 | tr -d '\n' | sed 's/0203010000/02037fffff/' | xxd -r -p >huge.p12
openssl pkcs12 -in huge.p12 -info -noout -passin pass:x 2>&1 | grep -q "Iteration 8388607" ||
	fail "the hostile file was not made"
printf 'CANARY-P12-PASSWORD' >p12.pw && chmod 600 p12.pw
expect_rc 1 timeout 20 "$CERTWIZ" --host "$HOST" import huge.p12 --password-file p12.pw
expect_err "8388607 iterations"
unchanged base

# 7. The service's files are its own: a link in its folder is refused,
# never followed, and what it points to is left alone.
echo secret >victim && chmod 600 victim
ln -s "$WORK/victim" state/store.db-shm
expect_rc 1 cw status
expect_err "a symbolic link; refused"
[ "$(stat -c '%U %a' victim)" = "root 600" ] && [ "$(cat victim)" = secret ] ||
	fail "the link's target was touched"
rm state/store.db-shm
expect_rc 0 cw status

# 8. Root loads no code others could choose: a configuration, or a module,
# writable by a group is refused; the service goes on serving.
chmod 664 certwiz.conf
expect_rc 1 cw status
expect_err "writable by group or others"
chmod 644 certwiz.conf
install -d -m 775 mods
cp "$MODULE" mods/module.so
sed -i "s|^module = .*|module = $WORK/mods/module.so|" certwiz.conf
expect_rc 1 cw status
expect_err "PKCS#11 module '$WORK/mods/module.so' is not trusted"
sed -i "s|^module = .*|module = /nonexistent/module.so|" certwiz.conf
expect_rc 1 cw tokens
expect_err "PKCS#11 module '/nonexistent/module.so'"
sed -i "s|^module = .*|module = $MODULE|" certwiz.conf
expect_rc 0 cw status

# 9. A second service on a live socket, or on a path that is not a socket:
# refused, with the reason.
expect_rc 1 timeout 10 "$CERTWIZD" --config "$CERTWIZ_CONF"
expect_err "another certwizd answers"
sed "s|^socket = .*|socket = $WORK/not-a-socket|" certwiz.conf >other.conf
echo data >not-a-socket
expect_rc 1 timeout 10 "$CERTWIZD" --config "$WORK/other.conf"
expect_err "exists and is not a socket"
[ "$(cat not-a-socket)" = data ] || fail "the file was replaced"

# 10. Socket activation (systemd hands over the listening socket).
command -v systemd-socket-activate >/dev/null || fail "systemd-socket-activate is missing"
if true; then
	sed "s|^socket = .*|socket = $WORK/run/activated.sock|" certwiz.conf >act.conf
	systemd-socket-activate -l "$WORK/run/activated.sock" \
		"$CERTWIZD" --config "$WORK/act.conf" 2>act.log &
	ACT=$!
	BG_PIDS="$BG_PIDS $ACT"
	for _ in $(seq 100); do [ -S run/activated.sock ] && break; sleep 0.05; done
	expect_rc 0 "$CERTWIZ" -c act.conf --host "$HOST" status
	grep -q "listening on" act.log || fail "activated service: $(cat act.log)"
fi
unchanged base
expect_rc 0 cw audit verify
echo "service: ok"
