#!/bin/bash
# Installs the Debian 12 packages certwiz needs to build, test and run its
# demo, when they are missing, and makes the service's user. Needs root (or
# sudo).
set -eu
packages=(
	build-essential cmake pkg-config
	libp11-kit-dev libssl-dev libsqlite3-dev libjansson-dev libinih-dev
	libcmocka-dev libcurl4-openssl-dev libmicrohttpd-dev libidn2-dev
	p11-kit softhsm2 opensc gnutls-bin openssl sqlite3 jq faketime bsdutils
	libengine-pkcs11-openssl nginx-light apache2 curl pebble strace systemd
	opencryptoki libtpm2-pkcs11-1 libtpm2-pkcs11-tools
	python3-tpm2-pkcs11-tools swtpm swtpm-tools tpm2-tools tpm2-abrmd
	libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 dbus certmonger iproute2
)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# The service's user: certwizd runs as it (the demo and the tests start
# certwizd, which becomes this user).
if ! getent passwd certwiz >/dev/null; then
	$SUDO useradd --system --user-group --home-dir /var/lib/certwiz \
		--no-create-home --shell /usr/sbin/nologin certwiz
fi
# The default admin group ([policy] admin_group): certwiz refuses a
# configuration whose group does not exist.
getent group certwiz-admins >/dev/null || $SUDO groupadd --system certwiz-admins
# openCryptoki serves only members of group pkcs11 (its package makes the
# group): the service's user must be one to use an openCryptoki token.
add_to_pkcs11() {
	if getent group pkcs11 >/dev/null && ! id -nG certwiz | grep -qw pkcs11; then
		$SUDO usermod -a -G pkcs11 certwiz
	fi
}
add_to_pkcs11
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
# Packages such as nginx start their service when installed; the tests
# run their own servers on 127.0.0.1 only, so forbid that while installing.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e $policy ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
	$SUDO chmod 755 $policy
	own_policy=1
fi
trap 'if [ -n "$own_policy" ]; then $SUDO rm -f $policy; fi' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
add_to_pkcs11
