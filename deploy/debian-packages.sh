#!/bin/sh
# debian-packages.sh: install what patgate needs to build, serve and test on
# Debian 12 (as root).  Safe to run again.
set -eu
PACKAGES="build-essential autoconf automake pkg-config
	libfcgi-dev libfcgi-bin libjson-c-dev libargon2-dev libdb5.3-dev db5.3-util
	lighttpd spawn-fcgi multiwatch curl jq ca-certificates procps
	clang libclang-rt-14-dev wrk strace socat valgrind"
missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "debian-packages.sh: run as root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
