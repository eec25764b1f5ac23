#!/bin/bash
# run.sh: build the libFuzzer harnesses (clang, ASan, UBSan) in a separate
# build directory and run each for FUZZ_SECONDS (default 60) on a copy of
# its seed corpus.  Prints one TAP line per harness, with its executions.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$top/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
# A clean copy of the sources (make distdir), since the tree itself is built.
if true; then
	rm -rf "$build"
	make -s -C "$top" distdir distdir="$build" >/dev/null ||
		{ echo "Bail out! make distdir failed"; exit 1; }
	(cd "$build" && ./configure --quiet CC=clang --enable-fuzzing >configure.log 2>&1) ||
		{ echo "Bail out! configure --enable-fuzzing failed (see $build/configure.log)"; exit 1; }
fi
cd "$build" || exit 1
make -s -j2 tests/fuzz/fuzz_token tests/fuzz/fuzz_body tests/fuzz/fuzz_request >make.log 2>&1 ||
	{ echo "Bail out! the fuzzers did not build (see $build/make.log)"; exit 1; }
n=0 failed=0
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for h in token body request; do
	n=$((n + 1))
	work=$(mktemp -d)
	cp -r "$top/tests/fuzz/corpus/$h/." "$work/"
	if tests/fuzz/fuzz_$h -max_total_time="$seconds" -max_len=4096 -timeout=10 \
		-artifact_prefix="$build/crash-$h-" "$work" >"fuzz-$h.log" 2>&1; then
		execs=$(sed -n 's/.*stat::number_of_executed_units: *//p; s/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "fuzz-$h.log" | tail -n 1)
		echo "ok $n - fuzz_$h: ${execs:-?} executions in ${seconds} s, nothing found"
	else
		echo "not ok $n - fuzz_$h found a problem: see $build/fuzz-$h.log and crash-$h-*"
		grep -E 'ERROR|SUMMARY|runtime error' "fuzz-$h.log" | head -n 5 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "1..$n"
[ "$failed" = 0 ]
