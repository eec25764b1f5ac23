#!/bin/sh
# page_embed.sh SRCDIR FILE...: print the C source of page_assets[], each
# FILE (a path below SRCDIR, such as www/app.js) as an array of its bytes.
# The build runs it to put the token page into the program; od and sed are
# all it needs.
set -eu
srcdir=$1
shift
printf '/* Made by src/page_embed.sh from the files in www/: edit those. */\n'
printf '#include "src/patgate.h"\n'
n=0
for f in "$@"; do
	printf '\nstatic const unsigned char page_data_%d[] = {\n' "$n"
	od -An -v -tx1 "$srcdir/$f" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/	/'
	printf '};\n'
	n=$((n + 1))
done
printf '\nconst struct page_asset page_assets[] = {\n'
n=0
for f in "$@"; do
	name=${f##*/}
	case $name in
	*.html)	type='text/html; charset=utf-8' ;;
	*.js)	type='text/javascript; charset=utf-8' ;;
	*.css)	type='text/css; charset=utf-8' ;;
	*)	echo "page_embed.sh: no type known for $name" >&2; exit 1 ;;
	esac
	printf '\t{ "%s", "%s", page_data_%d, sizeof(page_data_%d) },\n' \
	    "$name" "$type" "$n" "$n"
	n=$((n + 1))
done
printf '};\n\nconst size_t page_nassets = %d;\n' "$n"
