# Token profile: openCryptoki 3.8 soft token (Debian 12 package
# opencryptoki, token library libpkcs11_sw.so).
# Data only; read by the test harness (module_path), and the record of the
# quirks certwiz handles for this token family.
[token]
family = opencryptoki
library_manufacturer = IBM
manufacturer = IBM Corp.
model = IBM SoftTok
module_path = /usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so
module_path = /usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so
module_path = /usr/lib/s390x-linux-gnu/pkcs11/libopencryptoki.so
# Needs its daemon pkcsslotd (C_Initialize fails without it) and the
# calling user in group pkcs11. Token files: /var/lib/opencryptoki/swtok.
# A fresh token has SO PIN 87654321; PINs are 4 to 8 characters.

[keys]
supported = rsa:2048 rsa:3072 rsa:4096
# No EC mechanism at all in Debian's build of the soft token.
refused = ec:P-256 ec:P-384

[quirks]
# No CKM_SHA256_RSA_PKCS: certwiz hashes on the host and signs a
# DigestInfo with CKM_RSA_PKCS.
hash_on_host = rsa
# The audit key: EC P-256 is not offered, so it is RSA-2048.
audit_key = rsa:2048
keygen_fallback = none
serial_unique = yes
# CKF_USER_PIN_COUNT_LOW and CKF_USER_PIN_FINAL_TRY are set after wrong
# PINs; certwiz refuses to log in on the final try.
pin_counter = flags
# Web servers (libp11's engine) log in again in each worker after the
# fork: the workers' user must be in group pkcs11. Tested: nginx and
# Apache with their workers, reload and respawn (web_workers.sh).
fork = relogin-needs-group-pkcs11
