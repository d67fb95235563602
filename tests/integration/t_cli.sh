#!/bin/bash
# The command line contract: help from one source, the committed man page
# equal to it, usage errors exit 2, topology errors name the key path.
source "$(dirname "$0")/lib.sh"
setup_env cli
cd "$WORK"

"$CERTWIZ" help --man | diff -u "$SRCDIR/docs/certwiz.1" - ||
	fail "docs/certwiz.1 is stale: run 'certwiz help --man > docs/certwiz.1'"
expect_rc 0 "$CERTWIZ" --help
HELP=$OUT
for v in tokens topology request import list; do
	grep -q "^  $v " <<<"$HELP" || fail "--help lacks $v"
	expect_rc 0 "$CERTWIZ" "$v" --help
	grep -q "^usage: certwiz \[global options\] $v" <<<"$OUT" || fail "$v --help"
done
expect_rc 0 "$CERTWIZ" --version
expect_rc 2 "$CERTWIZ"
expect_rc 2 "$CERTWIZ" frobnicate
expect_err "unknown command 'frobnicate'"
expect_rc 2 "$CERTWIZ" --bogus list
expect_rc 2 "$CERTWIZ" list --bogus
expect_rc 2 "$CERTWIZ" list extra
expect_rc 2 "$CERTWIZ" topology
expect_rc 2 "$CERTWIZ" topology check
expect_rc 2 "$CERTWIZ" help nope

# topology check: a good document, per host and for all hosts.
expect_rc 0 "$CERTWIZ" --host fe02.contoso.test topology check topology.json --json
[ "$(jq -r '.hosts[0].usages | length' <<<"$OUT")" = 4 ] || fail "usages of fe02"
jq -e '.hosts[0].usages[0].names | index("fe02.contoso.test")' <<<"$OUT" >/dev/null ||
	fail "\${host} not expanded"
expect_rc 0 "$CERTWIZ" topology check "$SRCDIR/examples/topology-web.json" --all
grep -q "name     www1.example.test" <<<"$OUT" || fail "web topology"
expect_rc 1 "$CERTWIZ" --host nope.test topology check topology.json
expect_err "not in the topology"
# Bad documents: file, key path, reason.
jq '.usages.Default.names[2] = "sip.${nope}"' topology.json >bad1.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check bad1.json
expect_err "bad1.json: usages.Default.names[2]: unknown variable: nope"
jq '.hosts["fe01.contoso.test"].usages[1] = "Missing"' topology.json >bad2.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check bad2.json
expect_err "hosts[\"fe01.contoso.test\"].usages[1]: usage 'Missing' is not defined"
jq '.usages.Default.key = "rsa:1024"' topology.json >bad3.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check bad3.json
expect_err "usages.Default.key: bad key spec"
printf '{"version": 1,\n "hosts": {,}}\n' >bad4.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check bad4.json
expect_err "bad4.json:2:"
jq '.usages.Default.names[0] = "bad name"' topology.json >bad5.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check bad5.json
expect_err "'bad name' is not a valid DNS name"

# Variables that refer to themselves, directly or in a cycle: the key
# path and the chain, not a crash.
cat >self.json <<'JSON'
{"version":1,"vars":{"a":"x${a}","b":"${c}.test","c":"y${b}"},
 "hosts":{"fe01.contoso.test":{"usages":["U","V"]}},
 "usages":{"U":{"subject":"CN=u","names":["${a}"]},
           "V":{"subject":"CN=v","names":["n.${b}"]}}}
JSON
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check self.json
expect_err "usages.U.names[0]: a variable refers to itself: a -> a"
sed -i 's/"U","V"/"V"/' self.json
expect_rc 1 "$CERTWIZ" --host "$HOST" topology check self.json
expect_err "usages.V.names[0]: a variable refers to itself: b -> c -> b"

# Configuration errors carry file:line.
printf '[store]\npath = x.db\n[tokn]\nuri = y\n' >bad.conf
expect_rc 1 "$CERTWIZ" --no-service -c bad.conf list
expect_err "bad.conf:4: unknown section [tokn]"
expect_rc 1 "$CERTWIZ" --no-service -c missing.conf list
expect_err "cannot read configuration"

# An empty store lists nothing, as text and JSON.
expect_rc 0 cw list --json
[ "$(jq -c . <<<"$OUT")" = '{"requests":[],"keys":[],"certificates":[]}' ] || fail "empty list"
echo "cli: ok"
