#!/bin/sh
# build.sh: configure and build patgate in the source tree (extra arguments
# go to ./configure).
set -eu
cd "$(dirname "$0")/.."
[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
	./configure --quiet "$@"
fi
make -s -j"$(nproc)"
