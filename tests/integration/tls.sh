# A TLS certificate for servers the tests and benchmarks run on
# 127.0.0.1 (sourced).

# tls_server_cert DIR CN: a throwaway TLS root named CN (DIR/tls-root.pem
# and .key) and a server certificate it issues for localhost and
# 127.0.0.1 (DIR/tls.pem and .key), valid two days.
tls_server_cert() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/tls-root.key" -out "$d/tls-root.pem" -days 2 \
		-subj "/CN=$2" 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/tls.key" -out "$d/tls.csr" -subj /CN=localhost 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/tls.ext"
	openssl x509 -req -in "$d/tls.csr" -CA "$d/tls-root.pem" \
		-CAkey "$d/tls-root.key" -CAcreateserial -days 2 \
		-extfile "$d/tls.ext" -out "$d/tls.pem" 2>/dev/null
}
