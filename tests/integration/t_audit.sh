#!/bin/bash
# The audit trail: every change and refusal recorded with the caller's
# identity; checkpoints signed on the token; and each kind of tampering,
# done with the sqlite3 shell on a copy of the store, detected and located.
source "$(dirname "$0")/lib.sh"
setup_env audit
setup_ca
cd "$WORK"

expect_rc 0 cw request --usage Default --offline --out a.csr
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
expect_rc 0 cw import a.resp
expect_rc 0 cw assign 1 --usage Default
expect_rc 1 cw assign 1 --usage WebServicesExternal
expect_rc 0 cw request --usage Default --offline --out b.csr
sign_csr b.csr b.pem 90
cat b.pem ca/int.pem >b.resp
expect_rc 0 cw import b.resp
expect_rc 0 cw assign 2 --usage Default --effective-at +1h
expect_rc 0 faketime -f +2h "$CERTWIZ" --no-service --host "$HOST" --pin-file pin refresh
expect_rc 0 cw remove --usage Default
echo wrong >wrong && chmod 600 wrong
expect_rc 6 "$CERTWIZ" --no-service --host "$HOST" --pin-file wrong request --usage Default --offline --out c.csr
CERTWIZ_FAILPOINT=request:sign expect_rc 6 cw request --usage Default --offline --out d.csr

# The sequence of events, as an auditor reads it.
audit_ops >ops.txt
# (init records the store's creation and the configuration it was made
# with; setup_ca then added [trust] anchors)
cat >expected-ops.txt <<OPS
store-created success
configuration-changed success
topology-changed success
configuration-changed success
key-generated success
request-created success
certificate-imported success
request-issued success
assignment-made success
assign failure
key-generated success
request-created success
certificate-imported success
request-issued success
assignment-scheduled success
assignment-activated success
assignment-removed success
token-login failure
request failure
key-destroyed success
request failure
OPS
diff -u expected-ops.txt ops.txt || fail "audit events differ"
# Identity from the kernel, not from the environment.
expect_rc 0 env USER=mallory LOGNAME=mallory "$CERTWIZ" --host "$HOST" audit show --json
# (changes to the configuration and topology are the service's own
# findings, recorded as its user)
CALLER='[.events[] | select(.operation | endswith("-changed") | not)]'
[ "$(jq -r "$CALLER | map(.user) | unique | join(\",\")" <<<"$OUT")" = "$(id -un)" ] || fail "user"
[ "$(jq -r "$CALLER | map(.uid) | unique | join(\",\")" <<<"$OUT")" = "$(id -u)" ] || fail "uid"
[ "$(jq -r '[.events[] | select(.operation | endswith("-changed")) | .user] | unique | join(",")' <<<"$OUT")" = "$SVC_USER" ] ||
	fail "configuration changes not recorded as the service's"
jq -e '.events[] | select(.operation=="assign" and .outcome=="failure") | .reason | contains("lacks name")' \
	<<<"$OUT" >/dev/null || fail "refusal reason not recorded"
jq -e '.events[] | select(.operation=="token-login") | .target.token_serial' <<<"$OUT" >/dev/null ||
	fail "token login failure without the token"
expect_rc 0 "$CERTWIZ" --host "$HOST" audit show --since -1h --json
[ "$(jq '.events | length' <<<"$OUT")" = "$(wc -l <ops.txt)" ] || fail "--since"

# Checkpoint, verify, export.
expect_rc 0 cw audit checkpoint --json
CP_SEQ=$(jq -r .seq <<<"$OUT")
expect_rc 0 cw request --usage Default --offline --out e.csr
expect_rc 0 cw audit checkpoint
expect_rc 0 cw audit verify --json
[ "$(jq -r .ok <<<"$OUT")" = true ] || fail "verify: $OUT"
[ "$(jq -r .checkpoints <<<"$OUT")" = 2 ] || fail "checkpoints"
EVENTS=$(jq -r .events <<<"$OUT")
expect_rc 0 cw audit export --out trail.jsonl
[ "$(wc -l <trail.jsonl)" = "$EVENTS" ] || fail "export lines"
jq -e -s 'all(.[]; .seq and .time and .uid != null and .operation and .outcome and .hash and .prev_hash)' \
	trail.jsonl >/dev/null || fail "export fields"
# The audit key is on the token, sign only; its public key verifies offline.
AUDIT_ID=$(sqlite3 state/store.db "select value from meta where key='audit_key_id'")
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --read-object --type pubkey \
	--id "$AUDIT_ID" -o audit.pub.der 2>/dev/null
openssl pkey -pubin -inform DER -in audit.pub.der -out audit.pub.pem
expect_rc 0 "$CERTWIZ" --host "$HOST" audit verify --key audit.pub.pem

# Tampering, each on a fresh copy of the store.
tampered() { # tampered KIND SEQ SQL: verify names the kind and the place
	local kind=$1 seq=$2 sql=$3
	rm -f state/t.db state/t.db-wal state/t.db-shm
	sqlite3 state/store.db ".backup state/t.db"
	sqlite3 state/t.db "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;
		DROP TRIGGER checkpoints_append_only_update; DROP TRIGGER checkpoints_append_only_delete; $sql"
	sed 's|^path = .*|path = state/t.db|' certwiz.conf >t.conf
	expect_rc 1 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit verify --json
	[ "$(jq -r .broken.kind <<<"$OUT")" = "$kind" ] || fail "$kind not detected: $OUT"
	[ "$(jq -r .broken.seq <<<"$OUT")" = "$seq" ] || fail "$kind at the wrong place: $OUT"
}
tampered modified 5 "UPDATE audit SET reason = 'nothing happened' WHERE seq = 5"
tampered modified 3 "UPDATE audit SET target = replace(target, 'Default', 'default') WHERE seq = 4;
	UPDATE audit SET user = 'mallory' WHERE seq = 3"
tampered missing 6 "DELETE FROM audit WHERE seq = 6"
tampered modified 6 "UPDATE audit SET seq = seq + 1000 WHERE seq > 5;
	UPDATE audit SET seq = seq - 999 WHERE seq > 1000;
	INSERT INTO audit SELECT 6, time, uid, user, host, 'assignment-removed', target, outcome,
		reason, hash, hash FROM audit WHERE seq = 5"
tampered broken-link 4 "UPDATE audit SET seq = -4 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5;
	UPDATE audit SET seq = 5 WHERE seq = -4"
tampered truncated $((CP_SEQ - 2)) "DELETE FROM audit WHERE seq >= $((CP_SEQ - 2))"
tampered checkpoint-signature "$CP_SEQ" "UPDATE audit_checkpoints SET time = '2030-01-01T00:00:00Z' WHERE id = 1"
tampered checkpoint-mismatch 3 "UPDATE audit_checkpoints SET seq = 3 WHERE id = 1"
tampered checkpoint-order "$CP_SEQ" "INSERT INTO audit_checkpoints (seq, hash, time, token_serial, cka_id,
	public_key, signature) SELECT seq, hash, time, token_serial, cka_id, public_key, signature
	FROM audit_checkpoints WHERE id = 1"
# A checkpoint signed with another key (valid signature, wrong key).
openssl ecparam -name prime256v1 -genkey -noout -out forger.key 2>/dev/null
LAST=$(sqlite3 state/store.db "select seq || ' ' || hash || ' ' || time from audit_checkpoints where id = 2")
set -- $LAST
printf 'certwiz audit checkpoint\nseq %s\nhash %s\ntime %s\n' "$1" "$2" "$3" >forged.msg
openssl dgst -sha256 -sign forger.key -out forged.sig forged.msg
openssl pkey -in forger.key -pubout -outform DER -out forger.pub.der
tampered checkpoint-key "$1" "UPDATE audit_checkpoints SET public_key = X'$(xxd -p forger.pub.der | tr -d '\n')',
	signature = X'$(xxd -p forged.sig | tr -d '\n')' WHERE id = 2"

# A key given twice in a target (what 'audit show' parses differs from
# the text): not the form certwiz writes, so it is refused.
tampered modified 4 "UPDATE audit SET target = replace(target, '{\"', '{\"usage\":\"x\",\"') WHERE seq = 4"
# Every checkpoint and event deleted: the audit key exists, nothing is
# signed.
tampered no-checkpoint 1 "DELETE FROM audit_checkpoints; DELETE FROM audit"

# What someone who holds the store and the PIN (root) can still do: drop
# the triggers, delete an event, chain the rest again and sign a new
# checkpoint with the audit key. The trail then verifies on its own; the
# anchor the auditor kept off the host catches it.
expect_rc 0 cw audit anchor --out anchor.json --json
ANCHOR_SEQ=$(jq -r .seq <<<"$OUT")
jq -e '.format == "certwiz-audit-anchor/1" and (.signature | length) > 0' anchor.json >/dev/null ||
	fail "anchor: $(cat anchor.json)"
expect_rc 0 cw audit verify --anchor anchor.json --json
[ "$(jq -r .anchor <<<"$OUT")" = "$ANCHOR_SEQ" ] || fail "anchor not checked: $OUT"
rechain() { # rechain DB FROM: events FROM.. get new hashes, chained
	local db=$1 from=$2 prev seq canon hash
	prev=$(sqlite3 "$db" "select coalesce((select hash from audit where seq = $from - 1),
		'0000000000000000000000000000000000000000000000000000000000000000')")
	for seq in $(sqlite3 "$db" "select seq from audit where seq >= $from order by seq"); do
		canon=$(sqlite3 "$db" "select json_object('host', host, 'operation', operation,
			'outcome', outcome, 'reason', reason, 'seq', seq, 'target', json(target),
			'time', time, 'uid', uid, 'user', user) from audit where seq = $seq" | jq -S -c .)
		hash=$(printf '%s%s' "$prev" "$canon" | sha256sum | cut -d' ' -f1)
		sqlite3 "$db" "UPDATE audit SET prev_hash = '$prev', hash = '$hash' WHERE seq = $seq"
		prev=$hash
	done
}
rm -f state/t.db state/t.db-wal state/t.db-shm
sqlite3 state/store.db ".backup state/t.db"
sqlite3 state/t.db "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;
	DROP TRIGGER checkpoints_append_only_update; DROP TRIGGER checkpoints_append_only_delete;
	DELETE FROM audit_checkpoints; DELETE FROM audit WHERE seq = 5;
	UPDATE audit SET seq = seq - 1 WHERE seq > 5"
rechain state/t.db 5
sed 's|^path = .*|path = state/t.db|' certwiz.conf >t.conf
expect_rc 0 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit checkpoint
expect_rc 0 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit verify
expect_rc 1 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit verify \
	--anchor anchor.json --json
[ "$(jq -r .broken.kind <<<"$OUT")" = anchor-mismatch ] || fail "rewrite not caught by the anchor: $OUT"
# A trail cut short of the anchor (with the checkpoints that covered the
# tail): it verifies on its own, not against the anchor.
rm -f state/t.db state/t.db-wal state/t.db-shm
sqlite3 state/store.db ".backup state/t.db"
sqlite3 state/t.db "DROP TRIGGER audit_append_only_delete; DROP TRIGGER checkpoints_append_only_delete;
	DELETE FROM audit WHERE seq >= $ANCHOR_SEQ; DELETE FROM audit_checkpoints WHERE seq >= $ANCHOR_SEQ"
expect_rc 0 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit verify
expect_rc 1 "$CERTWIZ" --no-service -c t.conf --host "$HOST" --pin-file pin audit verify \
	--anchor anchor.json --json
[ "$(jq -r .broken.kind <<<"$OUT")" = truncated ] || fail "truncation not caught by the anchor: $OUT"
# An anchor altered (its hash's first digit, changed whatever it was) no
# longer verifies.
jq '.hash = (if .hash[0:1] == "0" then "1" else "0" end) + .hash[1:]' \
	anchor.json >bad-anchor.json
cmp -s anchor.json bad-anchor.json && fail "the anchor was not altered"
expect_rc 1 cw audit verify --anchor bad-anchor.json --json
[ "$(jq -r .broken.kind <<<"$OUT")" = anchor-signature ] || fail "forged anchor: $OUT"

# Control characters in an event (a failure quoting a file name) never
# reach the terminal as such.
NAME=$(printf 'evil\033[2J\nname.pem')
echo junk >"$NAME"
expect_rc 1 cw import "$NAME"
expect_rc 0 cw audit show
if printf '%s' "$OUT" | grep -q $'\033'; then fail "an escape reached 'audit show'"; fi
grep -q 'evil\\x1b\[2J\\x0aname.pem' <<<"$OUT" || fail "the name is not shown escaped: $(tail -3 <<<"$OUT")"

# An event that cannot be written stops the change it records.
snapshot base
sqlite3 state/store.db "CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END"
expect_rc 1 cw assign 1 --usage Default
expect_err "cannot write the audit event"
sqlite3 state/store.db "DROP TRIGGER fail_audit"
unchanged base
# The triggers keep the trail append-only against mistakes.
sqlite3 state/store.db "DELETE FROM audit WHERE seq = 1" 2>err.txt && fail "delete allowed"
grep -q "append-only" err.txt || fail "trigger message"
echo "audit: ok"
