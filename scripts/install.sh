#!/bin/bash
# Installs certwiz on this machine, as root: the packages it needs, a
# release build, the binaries (certwiz in bin, certwizd in sbin), the man
# pages and the systemd units under PREFIX (default /usr/local); the
# service's user 'certwiz' and the admin group; /etc/certwiz (root, 0755)
# with an example configuration if there is none; /var/lib/certwiz (the
# service's, 0700); and enables certwizd.socket (started at once when
# systemd runs this machine).
set -eu
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
[ "$(id -u)" = 0 ] || { echo "install.sh: run it as root" >&2; exit 1; }
scripts/deps.sh
BUILD=build-release scripts/build.sh -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_TESTING=OFF
cmake --install build-release
install -d -o root -g root -m 0755 /etc/certwiz
install -d -o certwiz -g certwiz -m 0700 /var/lib/certwiz
if [ ! -e /etc/certwiz/certwiz.conf ]; then
	install -o root -g root -m 0644 examples/certwiz.conf /etc/certwiz/certwiz.conf
	echo "install.sh: edit /etc/certwiz/certwiz.conf (token, PIN file, topology)"
fi
systemctl daemon-reload 2>/dev/null || true
systemctl enable certwizd.socket
if [ -d /run/systemd/system ]; then
	systemctl restart certwizd.socket
fi
echo "install.sh: certwiz installed; add administrators with: usermod -aG certwiz-admins USER"
