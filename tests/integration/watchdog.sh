#!/bin/bash
# watchdog.sh: the request watchdog ends no worker whose request was only
# paused (SIGSTOP past the timeout, as a stopped machine would be), and a
# storage failure is explained in the web server's error log.
. "$(dirname "$0")/lib.sh"
export PATGATE_REQUEST_TIMEOUT=8

# stalled_worker: the pid of a worker sleeping inside a create's transaction.
stalled_worker() {
	local p
	for _ in $(seq 50); do
		sleep 0.1
		for p in $WORKER_PIDS; do
			# 230: clock_nanosleep, the test stall inside the transaction
			if [ "$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" = 230 ]; then
				echo "$p"
				return 0
			fi
		done
	done
	return 1
}

stopped_past_the_timeout() {
	local victim bg p
	( create "$ALICE" '{"name":"paused"}'; echo "$STATUS" >"$WORK/paused.status" ) &
	bg=$!
	victim=$(stalled_worker) || { fail "no worker stalled in a create"; wait "$bg"; return; }
	kill -STOP "$victim"
	sleep $((PATGATE_REQUEST_TIMEOUT + 3))
	kill -CONT "$victim"
	wait "$bg"
	expect_eq "the paused create's answer" "$(cat "$WORK/paused.status")" 201
	kill -0 "$victim" 2>/dev/null || fail "worker $victim exited after SIGCONT"
	! grep -q "no progress\|timed out" "$WORK/lighttpd.err" ||
		fail "the watchdog fired: $(grep -m1 "no progress\|timed out" "$WORK/lighttpd.err")"
	for p in $WORKER_PIDS; do
		kill -0 "$p" 2>/dev/null || fail "worker $p is gone"
	done
	create "$ALICE" '{"name":"after the pause"}'
	expect_eq "a create after the pause" "$STATUS" 201
}

storage_failure_logged() {
	local status
	stop_workers
	# A database file the store cannot read: not a Berkeley DB file.
	mv "$PATGATE_DB/tokens.db" "$WORK/tokens.db.saved"
	head -c 8192 /dev/zero | tr '\0' x >"$PATGATE_DB/tokens.db"
	: >"$WORK/lighttpd.err"
	start_workers 2
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	status=$STATUS
	expect_eq "status" "$status" 500
	grep -q "patgate.*cannot open the database" "$WORK/lighttpd.err" ||
		fail "no word of the failure in the web server's log: $(grep -v event= "$WORK/lighttpd.err" | head -3)"
	grep -q "patgate: db: .*tokens.db" "$WORK/lighttpd.err" ||
		fail "Berkeley DB's own message is not in the web server's log"
	stop_workers
	mv "$WORK/tokens.db.saved" "$PATGATE_DB/tokens.db"
	start_workers 2
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	expect_eq "status with the file back" "$STATUS" 200
}

# cli_open_blocked: the CLI whose open waits on another process (here the
# registry's lock, byte 1 of __db.register, which every open takes and a
# process stuck inside its own open holds) gives up after the timeout with
# exit 75 and a message, rather than hang; once the hold is gone the next
# run answers.
cli_open_blocked() {
	local out rc t0 took
	/usr/bin/python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 1)
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))' "$PATGATE_DB/__db.register" "$WORK/held" 30 &
	local holder=$!
	for _ in $(seq 100); do [ -e "$WORK/held" ] && break; sleep 0.05; done
	t0=$(date +%s)
	out=$(PATGATE_REQUEST_TIMEOUT=3 timeout 25 "$CLI" user list 2>&1 >/dev/null)
	rc=$?
	took=$(($(date +%s) - t0))
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	expect_eq "exit status" "$rc" 75
	expect_match "message" "$out" "did not open.*run the command again"
	[ "$took" -le 10 ] || fail "gave up after $took s, not about 3"
	expect_match "the next run answers" "$("$CLI" user list 2>>"$WORK/cli.err")" "alice@example.com"
}

setup_db
PATGATE_TEST_STALL_MS=1500 start_workers 2
start_lighttpd

t_case "SIGSTOP past the timeout in a request, then SIGCONT: answered, worker alive" stopped_past_the_timeout
t_case "the store cannot open: the 500 is explained in the web server's log" storage_failure_logged
t_case "a CLI whose open is held up: exit 75 and a message after the timeout, not a hang" cli_open_blocked
t_done
