#!/bin/bash
# A CA's response is accepted as PEM, DER or PKCS#7 (PEM or DER), with or
# without intermediates, in any order; the chain is stored leaf first.
source "$(dirname "$0")/lib.sh"
setup_env import-formats
setup_ca
cd "$WORK"

n=0
for format in pem-leaf pem-any-order der p7b-der p7b-pem; do
	n=$((n + 1))
	expect_rc 0 cw request --usage WebServicesInternal --offline --out "$format.csr" --json
	REQ=$(jq -r .request_id <<<"$OUT")
	ID=$(jq -r .cka_id <<<"$OUT")
	sign_csr "$format.csr" "$format.leaf" 90
	case $format in
	pem-leaf) cp "$format.leaf" "$format.in"; chain=0 ;;
	pem-any-order) cat ca/root.pem "$format.leaf" ca/int.pem >"$format.in"; chain=2 ;;
	der) openssl x509 -in "$format.leaf" -outform DER -out "$format.in"; chain=0 ;;
	p7b-der | p7b-pem)
		cat ca/int.pem "$format.leaf" >"$format.certs"
		openssl crl2pkcs7 -nocrl -certfile "$format.certs" \
			-outform "$([ $format = p7b-der ] && echo DER || echo PEM)" -out "$format.in"
		chain=1 ;;
	esac
	expect_rc 0 cw import "$format.in" --json
	[ "$(jq -r .request_id <<<"$OUT")" = "$REQ" ] || fail "$format: request id"
	[ "$(jq -r .chain_length <<<"$OUT")" = "$chain" ] || fail "$format: chain $chain"
	[ "$(jq -r .cka_id <<<"$OUT")" = "$ID" ] || fail "$format: key"
	[ "$(token_objects | grep -c "ID: *$ID")" = 3 ] || fail "$format: objects"
done
expect_rc 0 cw list --json
[ "$(jq '[.requests[] | select(.state=="issued")] | length' <<<"$OUT")" = $n ] || fail "issued count"
[ "$(jq '.certificates | length' <<<"$OUT")" = $n ] || fail "certificate count"
echo "import formats: ok"
