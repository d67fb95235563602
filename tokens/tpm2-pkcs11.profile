# Token profile: tpm2-pkcs11 1.9 (Debian 12 package libtpm2-pkcs11-1) on a
# TPM 2.0 (measured on swtpm 0.7 through tpm2-abrmd).
# Data only; read by the test harness (module_path), and the record of the
# quirks certwiz handles for this token family.
[token]
family = tpm2-pkcs11
# The library's C_GetInfo manufacturer; the token's manufacturer and model
# are the TPM's (swtpm: "IBM", "SW   TPM").
library_manufacturer = tpm2-software.github.io
module_path = /usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
module_path = /usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so
module_path = /usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1
# Needs TPM2_PKCS11_STORE (the store tpm2_ptool made; without it the
# module silently makes one in $HOME, so certwiz refuses to load it) and
# TPM2_PKCS11_TCTI (a resource manager: tpm2-abrmd or the kernel's
# /dev/tpmrm0; without one, transient objects fill the TPM).
environment = TPM2_PKCS11_STORE TPM2_PKCS11_TCTI

[keys]
# Key specs certwiz offers that this token generates; the others are
# refused (exit 6) before anything is made.
supported = ec:P-256 ec:P-384 rsa:2048 rsa:3072
refused = rsa:4096

[quirks]
# C_GenerateKeyPair with CKA_VERIFY=TRUE on the public key fails with
# CKR_GENERAL_ERROR (0x5): the module maps it to the TPM's decrypt bit and
# finds the pair inconsistent. certwiz retries once with a public template
# without CKA_VERIFY/CKA_ENCRYPT (the private key's template is unchanged)
# and reads every private attribute back before keeping the pair.
keygen_fallback = public-without-verify
# CKM_SHA256_RSA_PKCS and CKM_ECDSA_SHA256 are present, and certwiz uses
# them. Raw CKM_RSA_PKCS (a DigestInfo made on the host) fails for a
# sign-only key: the module runs it as a TPM decryption, which the key
# refuses ("inconsistent attributes"). Servers sign with RSA-PSS instead
# (GnuTLS does, TLS 1.2 and 1.3): a client that offers only PKCS#1 v1.5
# signatures cannot use an RSA key on this token.
hash_on_host = no
rsa_pkcs_raw = no
# Every token has the serial 0000000000000000: certwiz tells tokens apart
# by label as well (two tokens of one store keep two rows).
serial_unique = no
# No CKF_USER_PIN_* flags: wrong PINs count against the TPM's own
# dictionary-attack lockout (swtpm: 3 failures lock it for 1000 s).
# certwiz never tries a PIN twice in one command.
pin_counter = none
# The token's model is padded with NUL bytes, not spaces: p11-kit and
# GnuTLS compare the padded field, so certwiz's URIs carry no model=.
model_padding = nul
# libp11's OpenSSL engine cannot be used with this module: once an engine
# is loaded in a process, tpm2-tss's own OpenSSL calls fail ("Could not
# create rsa key", tpm2-tss issue 3151) and every login fails. Servers
# built on GnuTLS (or an OpenSSL without that engine) serve its keys.
openssl_engine = no
# Web servers: not through libp11's engine (above). GnuTLS's gnutls-serv
# serves EC keys (module_path.sh; RSA keys too, with RSA-PSS, tried by
# hand); each process opens its own connection to the resource manager.
fork = own-connection-per-process
