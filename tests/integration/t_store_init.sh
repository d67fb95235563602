#!/bin/bash
# The store never silently becomes another store: only 'certwiz init' makes
# one; a missing, empty or damaged store is refused with its path and the
# remedy, with nothing generated on the token; a configuration that names
# a section or key twice is refused; refresh on a store that does not know
# the token's certwiz keys says so.
source "$(dirname "$0")/lib.sh"
setup_env store-init
cd "$WORK"
DB=state/store.db
R="request --usage OAuthTokenIssuer --key ec:P-256 --offline --out r.csr"

# init ran in setup_env; again, it leaves the store as it is.
expect_rc 0 cw init --json
[ "$(jq -r .created <<<"$OUT")" = false ] || fail "init again: $OUT"
expect_rc 0 cw init
expect_out "exists (schema"
expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --offline --out a.csr --json
A_KEY=$(jq -r .cka_id <<<"$OUT")
snapshot base

refused() { # refused RC TEXT CMD...: exit code, message, no CSR, token as it was
	local rc=$1 text=$2
	shift 2
	expect_rc "$rc" "$@"
	expect_err "$text"
	[ ! -e r.csr ] || fail "r.csr was written"
	token_objects >now.token
	diff -u snap-base.token now.token >&2 || fail "token objects changed"
}
store_files() { ls state | grep -v tokens.lock | sort | tr '\n' ' '; }

# A missing store: refused, and not made again.
mkdir -p away
mv state/store.db* away/
refused 1 "store '$WORK/state/store.db' does not exist: run 'certwiz init'" cw $R
refused 1 "does not exist" cw status
refused 1 "does not exist" cw audit verify
[ -z "$(store_files)" ] || fail "a store appeared: $(store_files)"

# A store truncated to 0 bytes: refused by every command, init included.
install -o "$SVC_USER" -m 600 /dev/null $DB
refused 1 "is empty (0 bytes): restore it from a backup" cw $R
refused 1 "is empty (0 bytes)" cw refresh
refused 1 "exists and is empty (0 bytes)" cw init
[ "$(stat -c %s $DB)" = 0 ] || fail "the empty store was written to"
# An SQLite file that is not a certwiz store.
rm -f state/store.db*
runuser -u "$SVC_USER" -- /usr/bin/sqlite3 $DB 'create table t (x)'
refused 1 "is not a certwiz store (no schema)" cw $R
rm -f state/store.db*
mv away/store.db* state/
expect_rc 0 cw status
unchanged base

# A section or key given twice: refused, whichever is meant.
cp certwiz.conf good.conf
printf '[store]\npath = other/store.db\n' >>certwiz.conf
refused 1 "section [store] is given twice" cw $R
cp good.conf certwiz.conf
sed -i 's|^path = state/store.db|&\npath = other/store.db|' certwiz.conf
refused 1 "'path' is given twice in [store]" cw $R
cp good.conf certwiz.conf
[ ! -e other ] || fail "another store was made"

# A damaged store (the last pages overwritten): reads may go on, writes
# are refused before a key is generated. Where the damage falls (table
# pages or the schema's) decides which check finds it first.
for i in 1 2 3; do
	expect_rc 0 cw request --usage OAuthTokenIssuer --key ec:P-256 --offline --out b$i.csr
done
snapshot base
cp -p $DB damaged-backup.db
pages=$(($(stat -c %s $DB) / 4096))
dd if=/dev/urandom of=$DB bs=4096 seek=$((pages - 2)) count=2 conv=notrunc 2>/dev/null
refused 1 "damaged" cw $R
cp -p damaged-backup.db $DB
rm -f $DB-wal $DB-shm

# A store that does not know the token's keys (an old backup, or a new
# empty store): refresh says so, and exits 9.
mv state/store.db* away/
expect_rc 0 cw init
expect_rc 9 cw refresh --json
jq -e --arg id "$A_KEY" '.problems[] | select(.kind=="unknown-key" and (.detail | contains($id)))' \
	<<<"$OUT" >/dev/null || fail "unknown key not reported: $OUT"
[ "$(jq '[.problems[] | select(.kind=="unknown-key")] | length' <<<"$OUT")" = 4 ] ||
	fail "not every unknown key: $OUT"
expect_err "4 problems need attention"
rm -f state/store.db*
mv away/store.db* state/
expect_rc 0 cw refresh
expect_out "store and tokens agree"
echo "store init: ok"
