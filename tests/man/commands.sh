#!/bin/sh
# commands.sh: every command and option that patgate --help lists (the
# program's own table) is in man/patgate.8, in the SYNOPSIS and as an
# entry of the command list.
set -u
man="${top_srcdir:-.}/man/patgate.8"
help=$("${top_builddir:-.}/patgate" --help) ||
	{ echo "Bail out! patgate --help failed"; exit 99; }
lines=$(printf '%s\n' "$help" | sed -n 's/^  \([a-z]\)/\1/p' | sed 's/  .*//')
[ -n "$lines" ] || { echo "Bail out! patgate --help lists no command"; exit 99; }
echo "1..$(printf '%s\n' "$lines" | wc -l)"
n=0
printf '%s\n' "$lines" | {
	fails=0
	while IFS= read -r line; do
		n=$((n + 1))
		# The command's words: the leading lowercase words of the line.
		words=$(printf '%s\n' "$line" | sed 's/^\(\([a-z][a-z]* *\)*\).*/\1/; s/ *$//')
		opts=$(printf '%s\n' "$line" | grep -o -- '--[a-z][a-z-]*' | sort -u)
		missing=
		grep -qx "\.Cm $words" "$man" || missing="$missing SYNOPSIS"
		grep -Eq "^\.It Cm $words( |\$)" "$man" || missing="$missing entry"
		for o in $opts; do
			grep -Eq "Fl -${o#--}( |\$)" "$man" || missing="$missing $o"
		done
		if [ -z "$missing" ]; then
			echo "ok $n - $line"
		else
			echo "not ok $n - $line: missing from patgate.8:$missing"
			fails=$((fails + 1))
		fi
	done
	[ "$fails" = 0 ]
}
