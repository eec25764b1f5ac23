#!/bin/sh
# variables.sh: every PATGATE_* variable that src/config.c reads has an
# entry in the ENVIRONMENT list of man/patgate.fcgi.8.
set -u
man="${top_srcdir:-.}/man/patgate.fcgi.8"
vars=$(grep -o '"PATGATE_[A-Z0-9_]*"' "${top_srcdir:-.}/src/config.c" |
	tr -d '"' | sort -u)
[ -n "$vars" ] || { echo "Bail out! no PATGATE_* variable in config.c"; exit 99; }
echo "1..$(printf '%s\n' "$vars" | wc -l)"
fails=0
n=0
for v in $vars; do
	n=$((n + 1))
	if grep -qx "\.It Ev $v" "$man"; then
		echo "ok $n - $v"
	else
		echo "not ok $n - $v is not in patgate.fcgi.8"
		fails=$((fails + 1))
	fi
done
[ "$fails" = 0 ]
