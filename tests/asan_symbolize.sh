#!/bin/bash
# asan_symbolize.sh REPORT: print a sanitizer report with its frames named.
#
# The suites run with symbolize=0: a worker that crashes during a kill storm
# must finish its report in microseconds, before the storm's next kill -9,
# and symbolizing in the dying process takes long enough to lose the stack.
# Frames look like "#3 0x7f..  (/path/module+0x1234)"; this names them
# afterwards: addr2line for modules built with debug information, and for
# stripped libraries the exported symbol whose extent holds the offset.
set -u

# name_in_dynsym MODULE OFFSET: "symbol+0xN" or nothing.
name_in_dynsym() {
	local off=$(($2)) addr size type sym
	while read -r addr size type sym; do
		[ -n "$sym" ] || continue
		if [ "$off" -ge $((16#$addr)) ] && [ "$off" -lt $((16#$addr + 16#$size)) ]; then
			printf '%s+0x%x\n' "${sym%%@*}" $((off - 16#$addr))
			return
		fi
	done < <(nm -D -S --defined-only "$1" 2>/dev/null)
}

# name_frame MODULE OFFSET: the best name for one frame, or "?".
name_frame() {
	local name
	name=$(addr2line -f -e "$1" "$2" 2>/dev/null | paste -sd ' ')
	# Without line information addr2line names the nearest symbol before
	# the offset, which for a static function is the wrong one.
	case $name in
	'' | *' ??:0' | *' ??:?') name=$(name_in_dynsym "$1" "$2") ;;
	esac
	echo "${name:-?}"
}

while IFS= read -r line; do
	if [[ $line =~ ^\ *#[0-9]+\ 0x[0-9a-f]+\ +\((.+)\+(0x[0-9a-f]+)\)$ ]]; then
		echo "$line in $(name_frame "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")"
	else
		echo "$line"
	fi
done < <(cat "$1"; echo)
