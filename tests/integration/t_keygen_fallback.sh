#!/bin/bash
# A token that refuses certwiz's key template (as tpm2-pkcs11 refuses the
# public key's CKA_VERIFY) gets one retry without the public key's usage
# attributes, never a weaker private key; a token that refuses that too is
# left as it was. Faults injected by faulty_p11.so over SoftHSM2 (the real
# tpm2-pkcs11 case is in module_path.sh).
source "$(dirname "$0")/lib.sh"
[ -n "${FAULTY_P11_SO:-}" ] && [ -f "$FAULTY_P11_SO" ] || exit 77
CW_MODE=oneshot
setup_env keygen-fallback
cd "$WORK"
sed -i "s|^module = .*|module = $FAULTY_P11_SO|" certwiz.conf
export FAULTY_P11_MODULE=$MODULE

# Refused once: the second try makes the key, as strong as ever.
for code in CKR_TEMPLATE_INCONSISTENT CKR_ATTRIBUTE_VALUE_INVALID CKR_GENERAL_ERROR; do
	rm -f "$SVC_DIR/calls.log"
	FAULTY_P11="C_GenerateKeyPair:1:$code" FAULTY_P11_LOG=$SVC_DIR/calls.log \
		expect_rc 0 cw request --usage Default --offline --out "$code.csr" --json
	[ "$(grep -c C_GenerateKeyPair "$SVC_DIR/calls.log")" = 2 ] || fail "$code: not retried once"
	ID=$(jq -r .cka_id <<<"$OUT")
	OBJ=$(pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" --login \
		--pin "$PIN" --list-objects --type privkey --id "$ID" 2>/dev/null)
	grep -q "Access:     sensitive, always sensitive, never extractable, local" <<<"$OBJ" ||
		fail "$code: private key access flags: $OBJ"
	grep -q "Usage:      sign$" <<<"$OBJ" || fail "$code: private key usage: $OBJ"
	openssl req -in "$code.csr" -noout -verify 2>&1 | grep -q "verify OK" || fail "$code: CSR"
done

# Refused twice: exit 6, nothing on the token, nothing in the store.
snapshot base
rm -f "$SVC_DIR/calls.log"
FAULTY_P11="C_GenerateKeyPair:0:CKR_TEMPLATE_INCONSISTENT" FAULTY_P11_LOG=$SVC_DIR/calls.log \
	refused 6 "C_GenerateKeyPair" cw request --usage Default --offline --out no.csr
[ "$(grep -c C_GenerateKeyPair "$SVC_DIR/calls.log")" = 2 ] || fail "more than one retry"
[ ! -e no.csr ] || fail "a CSR was written"
# A refusal of another kind is not retried.
rm -f "$SVC_DIR/calls.log"
FAULTY_P11="C_GenerateKeyPair:1:CKR_DEVICE_ERROR" FAULTY_P11_LOG=$SVC_DIR/calls.log \
	refused 6 "C_GenerateKeyPair" cw request --usage Default --offline --out no.csr
[ "$(grep -c C_GenerateKeyPair "$SVC_DIR/calls.log")" = 1 ] || fail "CKR_DEVICE_ERROR retried"
echo "keygen fallback: ok"
