#!/bin/bash
# run-all.sh: set up a Debian 12 machine for patgate (as root), build it, and
# run every test: unit and integration tests behind real lighttpd (and the
# deploy recipes behind Apache and nginx), make distcheck, then all of them
# again built with ASan and UBSan, then the libFuzzer harnesses for
# FUZZ_SECONDS each.
# PATGATE_QUICK=1 runs only the first pass.  The last line is
# "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/deploy/debian-packages.sh" || exit 1
# --enable-debug: the extra warnings (-Wshadow, -Wcast-qual, -Wformat=2...)
# as errors, so that what the compiler can catch fails the suite.
"$top/deploy/build.sh" --enable-debug "$@" || exit 1
pass=0
fail=0
began=$(date +%s)
# room: the free space where the builds and the tests' databases go.
room() {
	df -h "$top" /tmp | awk 'NR > 1 {printf "%s%s free on %s", (NR > 2 ? ", " : ""), $4, $6}'
}
echo "[all] $(nproc) cores, $(room)"
# elapsed: minutes and seconds since the run began, for the log of a slow
# machine.
elapsed() {
	local t=$(($(date +%s) - began))
	printf '%d min %02d s' $((t / 60)) $((t % 60))
}

# SERIAL: tests that measure throughput, kill workers under load, make
# 100,000 creates, load and prune a million tokens or change the machine's
# core_pattern, run alone after the others.
SERIAL="tests/integration/flood.sh tests/integration/reliability.sh"
SERIAL="$SERIAL tests/integration/log_bound.sh tests/integration/core_secrets.sh"
SERIAL="$SERIAL tests/integration/scale.sh tests/integration/soak.sh"
# The browser test: Chromium takes a core of its own.
SERIAL="$SERIAL tests/integration/page.sh"

# count DIR LABEL: add the counts of DIR/check.out; show what failed.
count() {
	local dir=$1 label=$2 f p n
	grep -E '^(FAIL|ERROR|XPASS):' "$dir/check.out" | sed "s/^/[$label] /"
	p=$(sed -n 's/^# PASS: *\([0-9]*\)$/\1/p' "$dir/check.out" | tail -n 1)
	n=0
	for f in FAIL ERROR XPASS; do
		n=$((n + $(sed -n "s/^# $f: *\([0-9]*\)\$/\1/p" "$dir/check.out" | tail -n 1)))
	done
	[ -n "$p" ] || { echo "[$label] make check did not run"; n=$((n + 1)); p=0; }
	echo "[$label] $p passed, $n failed ($(elapsed) since the start)"
	pass=$((pass + p))
	fail=$((fail + n))
}

# parallel DIR: make check's tests in DIR but SERIAL.
parallel() {
	printf 'print-tests:\n\t@echo $(TESTS)\n' |
		make -s -C "$1" -f Makefile -f - print-tests | tr ' ' '\n' |
		grep -vxF -f <(printf '%s\n' $SERIAL) | tr '\n' ' '
}

# suite DIR LABEL: make check in DIR, two at a time, then SERIAL alone,
# then the deploy tests (make check-deploy: root, Apache, nginx).
suite() {
	local dir=$1 label=$2 f w
	make -s -C "$dir" -j2 check TESTS="$(parallel "$dir")" >"$dir/check.out" 2>&1
	count "$dir" "$label"
	make -s -C "$dir" check TESTS="$SERIAL" >"$dir/check.out" 2>&1
	count "$dir" "$label, alone"
	make -s -C "$dir" -j2 check-deploy >"$dir/check.out" 2>&1
	count "$dir" "$label, deploy"
	# Replication: three sites in network namespaces, alone (it kills
	# and cuts off sites on a timetable); PATGATE_REPL_TESTS=0 leaves it
	# out.
	if [ "${PATGATE_REPL_TESTS:-1}" = 1 ]; then
		make -s -C "$dir" check-repl >"$dir/check.out" 2>&1
		count "$dir" "$label, replication"
	fi
	echo "[$label] $(room)"
	# The slowest tests of the pass (tests/timed.sh notes each one's time).
	echo "[$label] slowest: $(sed -n 's/^# took \([0-9]*\) s: \(.*\)/\1 \2/p' \
	    "$dir"/tests/*/*.log 2>/dev/null | sort -rn | head -n 6 |
	    awk '{printf "%s%s %ss", (NR > 1 ? ", " : ""), $2, $1}')"
	# A process that would not leave on SIGTERM (a test killed it after
	# 10 s) is a failure, though its test went on.
	w=$(grep -h '^# WARNING' "$dir"/tests/*/*.log 2>/dev/null | sed "s/^/[$label] /")
	if [ -n "$w" ]; then
		printf '%s\n' "$w"
		fail=$((fail + $(printf '%s\n' "$w" | wc -l)))
	fi
	for f in $(grep -lE '^(not ok|Bail out)' "$dir"/tests/*/*.log 2>/dev/null); do
		echo "--- [$label] $f"
		grep -E '^(# |not ok|Bail out)' "$f" | head -n 40
	done
}

# The browser test's axe-core, fetched by npm once for every pass.
export PATGATE_AXE_DIR="$top/tests/.cache/axe"
suite "$top" plain

# make distcheck, one test: the tarball builds out of tree from a read-only
# source, passes make check (but SERIAL, run above) and installs and
# uninstalls cleanly.
if make -s -j2 distcheck TESTS="$(parallel "$top")" >"$top/distcheck.out" 2>&1; then
	pass=$((pass + 1))
	echo "[distcheck] passed ($(elapsed) since the start)"
else
	fail=$((fail + 1))
	echo "[distcheck] failed; see distcheck.out"
	grep -E '^(FAIL|ERROR):|Error|error:' "$top/distcheck.out" | head -n 20 | sed 's/^/# /'
	# What the failing tests said, from the tree distcheck leaves behind.
	for f in $(find "$top"/patgate-*/_build -name '*.log' 2>/dev/null |
	    xargs -r grep -lE '^(not ok|Bail out)'); do
		echo "--- [distcheck] $f"
		grep -E '^(# |not ok|Bail out)' "$f" | tail -n 40
	done
fi

if [ "${PATGATE_QUICK:-0}" != 1 ]; then
	# Every test again with AddressSanitizer and UBSan, in a clean copy.
	asan="$top/build-asan"
	rm -rf "$asan" /tmp/patgate-asan
	mkdir -p /tmp/patgate-asan
	if make -s distdir distdir="$asan" >/dev/null &&
	    (cd "$asan" && ./configure --quiet --enable-asan && make -s -j2) >"$top/asan-build.log" 2>&1; then
		# symbolize=0: a report is written whole in microseconds, before a
		# kill storm can cut it short; asan_symbolize.sh names the frames.
		export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=0:symbolize=0:log_path=/tmp/patgate-asan/report"
		export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=0:log_path=/tmp/patgate-asan/report"
		# The sanitizers look at the code paths, not at scale or time:
		# a fifth of the million tokens and a minute of soak cover them.  A
		# minute of sanitized creates is too short and slow to judge their
		# pace by (the plain pass does): only a collapse fails it here.
		# Likewise the holder's share beside forged secrets, each an
		# instrumented Argon2 run here (0.62 of the malformed case seen).
		# A kill storm's slowest request waits for an instrumented
		# recovery: bounded at 12 s rather than 7.  An
		# instrumented Argon2's time wanders more (its 19 MiB go through
		# the sanitizer's allocator): the login timing medians, 70 to 84
		# ms for both sides in earlier runs, were once 47 against 69 ms.
		# There the case fails only on a gap nearer a skipped Argon2.
		SCALE_TOKENS=200000 SOAK_SECONDS=60 SOAK_CREATE_PACE=0.3 \
		    FLOOD_FORGED_SHARE=40 KILL_STORM_WAIT=12 \
		    LOGIN_TIMING_SPREAD=0.6 suite "$asan" asan
		unset ASAN_OPTIONS UBSAN_OPTIONS
		# A sanitizer report from any process (a worker's goes nowhere else)
		# fails.  Two kinds are expected and only shown: libfcgi refusing the
		# hostile record's 1 GiB allocation, and Berkeley DB's own failchk
		# (which only a replicated open runs now) crashing on the lock
		# table of a worker killed mid-update.
		expected=
		unexpected=
		for raw in /tmp/patgate-asan/report.*; do
			[ -f "$raw" ] || continue
			r=/tmp/patgate-asan/named.${raw##*.}
			bash "$top/tests/asan_symbolize.sh" "$raw" >"$r"
			if { grep -q 'failed to allocate 0x' "$r" && ! grep -q 'ERROR:' "$r"; } ||
			    { grep -q '#0 .*libdb-5\.3\.so' "$r" && grep -qE '__env_failchk_int|__txn_failchk' "$r"; }; then
				expected="$expected $r"
			else
				unexpected="$unexpected $r"
			fi
		done
		[ -n "$expected" ] && echo "[asan] $(echo $expected | wc -w) expected reports (libfcgi's refused allocation; Berkeley DB failchk after kill -9, replicated)"
		if [ -z "$unexpected" ]; then
			pass=$((pass + 1))
			echo "[asan] no unexpected sanitizer report from any process ($(elapsed))"
		else
			fail=$((fail + 1))
			echo "[asan] sanitizer reports:"
			# shellcheck disable=SC2086
			head -n 30 $unexpected | sed 's/^/# /'
		fi
	else
		echo "[asan] the ASan build failed; see asan-build.log"
		fail=$((fail + 1))
	fi

	# The fuzzers, each for FUZZ_SECONDS (60 by default).
	bash "$top/tests/fuzz/run.sh" | tee "$top/fuzz.out"
	pass=$((pass + $(grep -c '^ok ' "$top/fuzz.out")))
	fail=$((fail + $(grep -c -e '^not ok ' -e '^Bail out' "$top/fuzz.out")))
fi

echo "[all] took $(elapsed)"
echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" = 0 ]
