#!/bin/bash
# timed.sh TEST [ARGS...]: make check's LOG_COMPILER.  Runs TEST under a
# time limit (PATGATE_TEST_LIMIT seconds, 600 by default) and ends with a
# TAP comment saying how long it took, which run-all.sh gathers.  A test
# past its limit is ended (SIGTERM to its process group, so that its EXIT
# trap stops the workers and servers it started) and fails with "Bail
# out!": one stuck test costs its limit, never the whole run's.
limit=${PATGATE_TEST_LIMIT:-600}
start=$(date +%s)
# timeout gives the test a process group of its own and signals all of it;
# workers (spawn-fcgi makes each a session leader) and servers started with
# setsid are outside it, and left to the test's own EXIT trap, which the
# 40 s before SIGKILL leave time for (stop_workers waits 10 s at most).
# Its output goes through a file, passed on when it ends: a process that
# outlived it (a server in a session of its own) then holds the file, not
# the pipe that make check's driver reads to its end.
out=$(mktemp)
timeout -k 40 "$limit" "$@" >"$out"
rc=$?
cat "$out"
rm -f "$out"
took=$(($(date +%s) - start))
if [ "$rc" = 124 ] || { [ "$rc" = 137 ] && [ "$took" -ge "$limit" ]; }; then
	echo "Bail out! ${1##*/} passed its limit of $limit s and was ended"
fi
echo "# took $took s: ${1##*/}"
exit "$rc"
