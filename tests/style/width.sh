#!/bin/sh
# width.sh: every line of the C sources fits in 80 columns (a tab counts
# to the next multiple of 8), except in a table marked by the line
# "/* table: wider than 80 columns */" just above it, which runs to the
# next line that is only "};".  src/page_assets.c is generated: not looked at.
set -u
src="${top_srcdir:-.}/src"
files=$(ls "$src"/*.c "$src"/*.h | grep -v '/page_assets\.c$')
[ -n "$files" ] || { echo "Bail out! no C sources in $src"; exit 99; }
echo "1..$(printf '%s\n' "$files" | wc -l)"
n=0
fails=0
for f in $files; do
	n=$((n + 1))
	long=$(expand -t8 "$f" | awk '
		/^[ ]*\/\* table: wider than 80 columns \*\/[ ]*$/ { table = 1; next }
		table { if ($0 ~ /^};[ ]*$/) table = 0; next }
		length($0) > 80 { printf "%s%d", sep, NR; sep = "," }
		END { if (table) printf "%sunended table", sep }')
	if [ -z "$long" ]; then
		echo "ok $n - ${f#"$src"/}"
	else
		echo "not ok $n - ${f#"$src"/}: past 80 columns at line $long"
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
