#!/bin/bash
# Every verb's --json output has the shape docs/json.md documents: the key
# paths of the real output (arrays folded to one element) equal those of
# the documented example, except where a documented object or array is
# null or empty in the output. No undocumented field, no documented field
# gone. The scenario uses an offline CA and a real pebble.
source "$(dirname "$0")/lib.sh"
setup_env json
setup_ca
source "$(dirname "$0")/pebble.sh"
setup_pebble
cd "$WORK"
# the offline CA's root ([trust] anchors) and pebble's (its profile's
# roots) both verify assigned chains
mkdir -p json exp

# json NAME RC ARGS...: runs certwiz with --json, keeps stdout as NAME
json() {
	local name=$1 rc=$2
	shift 2
	expect_rc "$rc" cw "$@" --json
	printf '%s\n' "$OUT" >"json/$name.json"
	jq -e . "json/$name.json" >/dev/null || fail "$name: not JSON: $OUT"
}

json tokens 0 tokens
json topology-check 0 topology check topology.json
json topology-show 0 topology show
json request-offline 0 request --usage Default --offline --out a.csr
sign_csr a.csr a.pem 90
cat a.pem ca/int.pem >a.resp
json import 0 import a.resp --usage Default
expect_rc 0 cw request --usage Default --offline --out b.csr
sign_csr b.csr b.pem 90
cat b.pem ca/int.pem >b.resp
expect_rc 0 cw import b.resp
json assign 0 assign 2 --usage Default --effective-at +2d
json request-online 0 request --usage OAuthTokenIssuer --key ec:P-256 --ca pebble --assign
json status 0 status
json view 0 view --usage Default
json export 0 export --usage Default --out exp
# something for refresh to report: a certificate deleted outside certwiz
A_ID=$(jq -r .cka_id json/request-offline.json)
pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
	--delete-object --type cert --id "$A_ID" >/dev/null 2>&1
json refresh 9 refresh
json check 1 check
json init 0 init
json list 0 list
json audit-show 0 audit show
json audit-verify 0 audit verify
json audit-checkpoint 0 audit checkpoint
json audit-anchor 0 audit anchor --out anchor.json
stop_pebble
json request-unreachable 8 request --usage WebServicesInternal --key ec:P-256 --ca pebble
json pending-list 0 pending list
start_pebble
json pending-process 0 pending process
json renew 0 renew --dry-run
json prune 0 prune --dry-run
json remove 0 remove --usage OAuthTokenIssuer

# The documented examples: a line "<!-- shape: NAME -->" before a ```json
# block in docs/json.md. An audit event's target is one opaque object (its
# keys depend on the operation).
mkdir -p doc
awk -v dir=doc '/^<!-- shape: / { name = $3; next }
	name != "" && /^```json/ { out = dir "/" name ".json"; next }
	out != "" && /^```/ { out = ""; name = ""; next }
	out != "" { print > out }' "$SRCDIR/docs/json.md"
for f in json/*.json; do
	name=$(basename "$f" .json)
	[ -f "doc/$name.json" ] || fail "docs/json.md does not document '$name'"
	jq -e . "doc/$name.json" >/dev/null || fail "docs/json.md: '$name' is not JSON"
	diff=$(jq -n --slurpfile a "$f" --slurpfile d "doc/$name.json" '
		def cut: (index(["target"]) // null) as $i
			| if $i == null then . else .[0:$i + 1] end;
		def leaves: [paths((type | IN("object", "array") | not) or length == 0)
			| map(if type == "number" then 0 else . end) | cut] | unique;
		def covered($x; $set): any($set[]; . == $x or
			(length >= ($x | length) and .[0:($x | length)] == $x) or
			(length <= ($x | length) and $x[0:length] == .));
		($a[0] | leaves) as $A | ($d[0] | leaves) as $D |
		{ undocumented: [$A[] | select(covered(.; $D) | not)],
		  missing: [$D[] | select(covered(.; $A) | not)] }
		| select((.undocumented | length) + (.missing | length) > 0)')
	[ -z "$diff" ] || fail "'$name' differs from docs/json.md: $diff"
done
for f in doc/*.json; do
	[ -f "json/$(basename "$f")" ] || fail "docs/json.md documents '$(basename "$f" .json)', which this test does not run"
done
echo "json: $(ls json | wc -l) shapes match docs/json.md"
