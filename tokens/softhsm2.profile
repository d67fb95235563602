# Token profile: SoftHSM2 2.6 (Debian 12 package softhsm2).
# Data only; read by the demo and the test harness (module_path), and the
# record of the quirks certwiz handles for this token family.
[token]
family = softhsm2
manufacturer = SoftHSM project
model = SoftHSM v2
library_manufacturer = SoftHSM
# First existing path wins.
module_path = /usr/lib/softhsm/libsofthsm2.so
module_path = /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so
module_path = /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so

[keys]
# Key specs certwiz offers that this token generates (all of them).
supported = ec:P-256 ec:P-384 rsa:2048 rsa:3072 rsa:4096
refused =

[quirks]
# No CKM_ECDSA_SHA256/384: certwiz hashes on the host and signs with
# CKM_ECDSA (chosen at run time from C_GetMechanismInfo).
hash_on_host = ecdsa
# CKM_SHA256_RSA_PKCS is present: RSA signs the CSR in one call.
# CKA_SENSITIVE defaults to false: certwiz always sets it explicitly.
sensitive_default = false
# No PIN retry counter or lockout: CKF_USER_PIN_* flags never appear.
pin_counter = none
# An initialised token moves to another slot: select by label/serial.
slot_stable = false
# Every C_FindObjects checks each object file of the token (linear in the
# object count): refresh takes one inventory of the token instead of a
# lookup per key (src/token/inventory.c, by manufacturer ID).
find_scans_all_objects = yes
# The file backend rewrites token.object in place (truncate, then write):
# a process killed between the two leaves an uninitialised token (PINs and
# label gone). Debian's build has no db backend. Keep copies of the token
# directory; certwiz's crash tests kill only its own writes
# (tests/integration/crash_sweep.sh).
token_file_rewrite_in_place = yes
keygen_fallback = none
serial_unique = yes
# Web servers (libp11's engine) log in again in each worker after the
# fork: the workers' user must read and write the token folder (a shared
# group, setgid folders); SoftHSM2 makes every new object file 0600, so
# each new key needs the group bits again (export --server says when).
# Tested: nginx (master, two workers, reload, respawn) and Apache (event
# MPM), tests/integration/web_workers.sh.
fork = relogin-needs-token-folder-access
