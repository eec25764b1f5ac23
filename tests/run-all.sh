#!/bin/bash
# run-all.sh: set up a Debian 12 machine for patgate (as root), build it, and
# run every test: unit tests and the integration tests behind real lighttpd.
# The last line is "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/deploy/debian-packages.sh" || exit 1
"$top/deploy/build.sh" "$@" || exit 1
make -s -j2 check >"$top/check.out" 2>&1
grep -E '^(FAIL|ERROR|XPASS):' "$top/check.out"
for f in $(grep -lE '^(not ok|Bail out)' tests/unit/*.log tests/integration/*.log tests/deploy/*.log 2>/dev/null); do
	echo "--- $f"
	grep -E '^(# |not ok|Bail out)' "$f" | head -n 40
done
count() { sed -n "s/^# $1: *\([0-9]*\)$/\1/p" "$top/check.out" | tail -n 1; }
pass=$(count PASS)
fail=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
echo "${pass:-0} passed, ${fail} failed"
[ "${pass:-0}" -gt 0 ] && [ "$fail" = 0 ]
