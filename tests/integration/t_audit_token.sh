#!/bin/bash
# The audit key on a token of its own ([audit] token) with a PIN of its own
# ([audit] pin_file), so that the servers' token and PIN never reach it;
# its algorithm chosen from what that token offers (RSA where it has no
# EC); verify against the key pinned in the configuration, never a row.
source "$(dirname "$0")/lib.sh"
[ -n "${FAULTY_P11_SO:-}" ] && [ -f "$FAULTY_P11_SO" ] || exit 77
setup_env audit-token
setup_ca
cd "$WORK"
AUDIT_PIN=CANARY-AUDIT-PIN-4711
EXTRA_CANARIES=$AUDIT_PIN
softhsm2-util --init-token --free --label audit-hsm --pin "$AUDIT_PIN" \
	--so-pin "$SO_PIN" >/dev/null
(umask 077 && printf '%s\n' "$AUDIT_PIN" >audit-pin)
chown "$SVC_USER" audit-pin
printf '[audit]\ntoken = pkcs11:token=audit-hsm\npin_file = audit-pin\n' >>certwiz.conf

on_token() { # on_token LABEL PIN: the token's objects, one line each
	pkcs11-tool --module "$MODULE" --token-label "$1" --login --pin "$2" \
		--list-objects 2>/dev/null | grep -E "Object;|label:" | paste - - | sort
}

expect_rc 0 cw request --usage Default --offline --out a.csr
expect_rc 0 cw audit checkpoint --json
# The audit key is on the audit token, labelled certwiz-audit, EC P-256
# (SoftHSM2 has EC); the servers' token holds only the request's pair.
on_token audit-hsm "$AUDIT_PIN" | grep -q "Private Key.*certwiz-audit" ||
	fail "no audit key on the audit token: $(on_token audit-hsm "$AUDIT_PIN")"
on_token audit-hsm "$AUDIT_PIN" | grep -q "EC" || fail "the audit key is not EC"
if on_token "$TOKEN_LABEL" "$PIN" | grep -q certwiz-audit; then
	fail "the audit key is on the servers' token"
fi
expect_rc 0 cw audit verify --json
[ "$(jq -r .audit_key <<<"$OUT")" = token ] || fail "key source: $OUT"

# Pinned in the configuration: verify takes it from there.
AUDIT_ID=$(sqlite3 state/store.db "select value from meta where key='audit_key_id'")
pkcs11-tool --module "$MODULE" --token-label audit-hsm --read-object --type pubkey \
	--id "$AUDIT_ID" -o audit.pub.der 2>/dev/null
openssl pkey -pubin -inform DER -in audit.pub.der -out audit.pub.pem
sed -i "s|^pin_file = audit-pin|&\npublic_key = audit.pub.pem|" certwiz.conf
expect_rc 0 cw audit verify --json
[ "$(jq -r .audit_key <<<"$OUT")" = "[audit] public_key" ] || fail "pinned key not used: $OUT"
# Another key pinned: every checkpoint is refused as not the audit key's.
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout >other.pub.pem
sed -i 's|^public_key = .*|public_key = other.pub.pem|' certwiz.conf
expect_rc 1 cw audit verify --json
[ "$(jq -r .broken.kind <<<"$OUT")" = checkpoint-key ] || fail "wrong key accepted: $OUT"
sed -i '/^public_key = /d' certwiz.conf

# A wrong audit PIN is the audit token's failure, not the servers'.
stop_service
(umask 077 && echo wrong >audit-pin) && chown "$SVC_USER" audit-pin
start_service
expect_rc 0 cw request --usage Default --offline --out b.csr
expect_rc 6 cw audit checkpoint
expect_err "wrong PIN for token 'audit-hsm'"
(umask 077 && printf '%s\n' "$AUDIT_PIN" >audit-pin) && chown "$SVC_USER" audit-pin

# A token without EC (as openCryptoki's soft token): the audit key of a
# new store is RSA, and its checkpoints verify.
stop_service
sed -i "s|^module = .*|module = $FAULTY_P11_SO|; s|^path = .*|path = state/noec.db|" certwiz.conf
sed -i '/^\[audit\]/,$d' certwiz.conf
printf '[audit]\ntoken = pkcs11:token=audit-hsm\npin_file = audit-pin\n' >>certwiz.conf
softhsm2-util --delete-token --token audit-hsm >/dev/null
softhsm2-util --init-token --free --label audit-hsm --pin "$AUDIT_PIN" \
	--so-pin "$SO_PIN" >/dev/null
export FAULTY_P11_MODULE=$MODULE FAULTY_P11_NO_EC=1
start_service
expect_rc 0 cw init
expect_rc 0 cw request --usage Default --key rsa:2048 --offline --out c.csr
expect_rc 0 cw audit checkpoint --json
on_token audit-hsm "$AUDIT_PIN" | grep -q "Private Key.*RSA.*certwiz-audit\|RSA.*certwiz-audit" ||
	fail "the audit key on an EC-less token is not RSA: $(on_token audit-hsm "$AUDIT_PIN")"
expect_rc 0 cw audit verify --json
[ "$(jq -r .checkpoints <<<"$OUT")" = 1 ] || fail "RSA checkpoint: $OUT"
# an EC request on that token is refused cleanly
expect_rc 6 cw request --usage Default --key ec:P-256 --offline --out d.csr
echo "audit token: ok"
