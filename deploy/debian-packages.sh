#!/bin/sh
# debian-packages.sh: install what patgate needs to build, serve and test on
# Debian 12 (as root).  Safe to run again.
#
# The web servers are here because the tests run each deploy/ recipe behind
# the real thing (lighttpd, Apache, nginx), as foreground processes with
# their own configuration; installing them must not start the system
# services, which would take port 80 and, for the second of Apache and nginx,
# fail the installation.
# Chromium, its driver, Selenium and npm (for axe-core) are for the token
# page's browser test, tests/integration/page.sh; HAProxy for the
# replication recipe's test, tests/integration/replication.sh.
set -eu
PACKAGES="build-essential autoconf automake pkg-config
	libfcgi-dev libfcgi-bin libjson-c-dev libargon2-dev libdb5.3-dev db5.3-util
	lighttpd spawn-fcgi multiwatch curl jq ca-certificates procps
	clang libclang-rt-14-dev wrk strace socat valgrind
	apache2 libapache2-mod-fcgid nginx mandoc
	chromium chromium-driver python3-selenium
	msmtp python3-aiosmtpd haproxy iproute2"
# The browser test's chromedriver answers on "localhost", and a bare root
# (a container, a debootstrap) may have no /etc/hosts to name it.
if [ "$(id -u)" = 0 ] && ! getent hosts localhost >/dev/null 2>&1; then
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >>/etc/hosts
fi
missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
# Any npm will do: a machine with a Node.js of its own (whose package
# conflicts with Debian's npm) already has one.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "debian-packages.sh: run as root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Keep the maintainer scripts from starting services, unless the machine
# already has a policy of its own (a container's policy-rc.d, say).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# patgate debian-packages.sh: no service starts while it installs\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
	trap 'rm -f "$policy"; exit 1' INT TERM HUP
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
