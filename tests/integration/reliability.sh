#!/bin/bash
# reliability.sh: four supervised workers under load, crashes, a hostile
# FastCGI peer, and the order of fsync and answer.
. "$(dirname "$0")/lib.sh"
export PATGATE_MAX_TOKENS_PER_USER=1000000
setup_db
start_supervised 4
start_lighttpd

# storm N CLIENTS NAME: N creates from CLIENTS parallel clients; outputs in $WORK/NAME.*
storm() {
	local n=$1 clients=$2 name=$3
	mkdir -p "$WORK/$name"
	export PORT ALICE
	seq "$n" | xargs -P "$clients" -I{} sh -c '
		curl -sS --max-time 30 -o "$0/out.{}" -w "%{http_code} %{time_total}\n" \
			-H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
			--data-binary "{\"name\":\"storm {}\"}" \
			"http://127.0.0.1:$PORT/api/v1/user/api-tokens" 2>/dev/null || echo "000 0"' \
		"$WORK/$name" >"$WORK/$name.codes"
	tokens_of "$WORK/$name" >"$WORK/$name.tokens"
}

# tokens_of DIR: the tokens in the answers saved in DIR/out.* (one a line).
tokens_of() {
	find "$1" -name 'out.*' -exec awk 1 {} + | jq -Rr 'fromjson? | .data.token // empty'
}

# verify_all FILE: how many tokens of FILE patgate verify accepts; a run
# whose open made no progress (exit 75) is made once more, as cli() does.
verify_all() {
	# shellcheck disable=SC2016
	xargs -d '\n' -P 2 -n 1 sh -c '"$0" verify "$1" || { [ $? = 75 ] && "$0" verify "$1"; }' \
		"$CLI" <"$1" 2>>"$WORK/verify.err" | grep -c '"user_id"'
}

# lost_of FILE: the tokens of FILE that patgate verify refuses when asked
# one at a time, after a parallel pass (verify_all) fell short; a refusal
# then is a token lost.  The parallel pass's messages go to the log, so
# that a verify that failed for another reason is seen for what it was.
lost_of() {
	local tok
	grep -v '^patgate: event=' "$WORK/verify.err" 2>/dev/null | sort | uniq -c |
		sed 's/^ */# verify said: /' >&2
	while read -r tok; do
		"$CLI" verify "$tok" >/dev/null 2>>"$WORK/verify.err" || echo "$tok"
	done <"$1"
}

many_workers_2000_creates() {
	local ok
	storm 2000 8 s1
	expect_eq "answers other than 201" "$(grep -vc '^201 ' "$WORK/s1.codes")" 0
	expect_eq "tokens received" "$(grep -c . "$WORK/s1.tokens")" 2000
	expect_eq "distinct numbers" "$(cut -d'|' -f1 "$WORK/s1.tokens" | sort -u | grep -c .)" 2000
	ok=$(verify_all "$WORK/s1.tokens")
	expect_eq "tokens that verify" "$ok" 2000
	cli check >"$WORK/check.out" || fail "patgate check: $(head -3 "$WORK/check.out")"
	echo "# 2000 creates by 8 clients through 4 workers: all 201, all distinct, all verify"
}

kill_storm() {
	local before acked failed killed=0 listed p t0 stop clients= ok
	before=$(count_tokens alice@example.com)
	mkdir -p "$WORK/ks"
	export PORT ALICE
	stop=$(( $(date +%s) + 12 ))
	for c in 1 2 3 4 5 6 7 8; do
		( i=0
		  while [ "$(date +%s)" -lt "$stop" ]; do
			i=$((i + 1))
			curl -sS --max-time 30 -o "$WORK/ks/out.$c.$i" -w "%{http_code} %{time_total}\n" \
				-H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
				--data-binary "{\"name\":\"kill storm $c.$i\"}" \
				"http://127.0.0.1:$PORT/api/v1/user/api-tokens" 2>/dev/null || echo "000 0"
		  done >"$WORK/ks/codes.$c" ) &
		clients="$clients $!"
	done
	while [ "$(date +%s)" -lt $((stop - 1)) ]; do
		sleep 0.2
		p=$(worker_pids | tr ' ' '\n' | grep . | shuf -n 1)
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null && killed=$((killed + 1))
	done
	# shellcheck disable=SC2086
	wait $clients
	tokens_of "$WORK/ks" >"$WORK/ks.tokens"
	acked=$(grep -c . "$WORK/ks.tokens")
	failed=$(cat "$WORK"/ks/codes.* | grep -vc '^201 ')
	echo "# kill storm: $acked creates acknowledged, $failed refused or cut, $killed workers killed"
	[ "$killed" -ge 40 ] || fail "only $killed workers killed"
	[ "$acked" -ge 40 ] || fail "only $acked creates acknowledged during the storm"
	# A request behind a worker killed holding a mutex waits for the next
	# open to recover the environment and for the stuck worker to see it
	# (2 s) and leave: bounded (KILL_STORM_WAIT seconds, 7 here and more
	# under the sanitizers; 2.1 to 2.9 s seen in both), never hung, and
	# well short of the 8 s watchdog that ended every stall when an open
	# ran failchk (which hung; 8 to 21 s seen then).
	echo "# slowest answers during the storm: $(cat "$WORK"/ks/codes.* | sort -k2 -rn | head -n 3 | awk '{printf "%s%s s (%s)", (NR > 1 ? ", " : ""), $2, $1}')"
	awk -v lim="${KILL_STORM_WAIT:-7}" '$2 > lim { bad++ } END { exit bad > 0 }' "$WORK"/ks/codes.* ||
		fail "a request waited over ${KILL_STORM_WAIT:-7} s"
	# No manual step: the service answers again by itself.
	t0=$(date +%s)
	until create "$ALICE" '{"name":"after the storm"}' && [ "$STATUS" = 201 ]; do
		[ $(($(date +%s) - t0)) -lt 10 ] || { fail "no 201 within 10 s after the storm"; break; }
		sleep 0.3
	done
	ok=$(verify_all "$WORK/ks.tokens")
	if [ "$ok" != "$acked" ]; then
		echo "# $((acked - ok)) acknowledged tokens failed the parallel verify; each again alone"
		lost_of "$WORK/ks.tokens" >"$WORK/ks.lost" 2>"$WORK/ks.why"
		cat "$WORK/ks.why"
		expect_eq "acknowledged tokens lost" "$(grep -c . "$WORK/ks.lost")" 0
	fi
	listed=$(count_tokens alice@example.com)
	listed=$((listed - before - 1))
	[ "$listed" -ge "$acked" ] && [ "$listed" -le $((acked + failed)) ] ||
		fail "stored $listed, acknowledged $acked, refused $failed"
	cli check >"$WORK/check.out" || fail "patgate check after the storm: $(head -3 "$WORK/check.out")"
}

fsync_before_201() {
	local pids args p line201 pid sync
	# The workers make themselves not dumpable: only root may trace them.
	[ "$(id -u)" = 0 ] || { CASE_SKIP="strace needs root to attach to the workers"; return 0; }
	pids=$(worker_pids)
	args=
	for p in $pids; do args="$args -p $p"; done
	# shellcheck disable=SC2086
	strace -qq -f -e trace=fdatasync,fsync,write,writev,pwrite64 -s 48 -o "$WORK/strace.out" $args &
	local tracer=$!
	sleep 1
	create "$ALICE" '{"name":"traced"}'
	expect_eq "create" "$STATUS" 201
	sleep 0.5
	kill "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	line201=$(grep -n 'Status: 201' "$WORK/strace.out" | head -n 1)
	[ -n "$line201" ] || { fail "no traced write of the 201"; return; }
	pid=$(printf '%s' "$line201" | cut -d: -f2 | awk '{print $1}')
	sync=$(head -n "${line201%%:*}" "$WORK/strace.out" | grep -c "^$pid .*\(fdatasync\|fsync\)(")
	[ "$sync" -ge 1 ] || fail "the 201 was written before any fsync by worker $pid"
	echo "# worker $pid: $(grep -c "^$pid .*fdatasync(" "$WORK/strace.out") fdatasync before writing the 201"
}

hostile_fastcgi_record() {
	local i t0
	for i in 1 2 3; do
		# BEGIN_REQUEST, then PARAMS whose name and value lengths claim 1 GiB each.
		printf '\x01\x01\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01\x04\x00\x01\x00\x0a\x00\x00\xc0\x00\x00\x00\xc0\x00\x00\x00AB\x01\x04\x00\x01\x00\x00\x00\x00' |
			timeout 5 socat -t 2 - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1
	done
	t0=$(date +%s)
	until create "$ALICE" '{"name":"still here"}' && [ "$STATUS" = 201 ]; do
		[ $(($(date +%s) - t0)) -lt 10 ] || { fail "no 201 within 10 s after the hostile records"; break; }
		sleep 0.3
	done
	expect_eq "workers back" "$(worker_pids | wc -w)" 4
	expect_eq "socket mode" "$(stat -c %a "$SOCK")" 660
}

backup_under_load() {
	local bg acked_before copy="$WORK/backup"
	storm 50 4 pre
	cp "$WORK/pre.tokens" "$WORK/acked-before"
	( storm 300 4 during ) &
	bg=$!
	sleep 0.5
	cli backup "$copy" || fail "backup failed"
	wait "$bg"
	acked_before=$(grep -c . "$WORK/acked-before")
	expect_eq "tokens acknowledged before the backup, verified from the copy" \
		"$(PATGATE_DB="$copy" verify_all "$WORK/acked-before")" "$acked_before"
	PATGATE_DB="$copy" "$CLI" check >"$WORK/copy-check.out" 2>&1 || fail "the copy does not check: $(head -3 "$WORK/copy-check.out")"
	expect_eq "copy directory mode" "$(stat -c %a "$copy")" 700
	[ -z "$(find "$copy" -type f ! -perm 600)" ] || fail "a file of the copy is not 0600"
}

# The backup's copy with its B-tree root overwritten: the check names the file
# and stops there, for its walk would read that page and fail or crash.
check_stops_at_a_damaged_root() {
	local copy="$WORK/backup" pagesize out rc=0
	[ -f "$copy/tokens.db" ] || { fail "no copy left by the backup case"; return; }
	# Nothing has the copy open: without its regions the check reads every
	# page from the file, not from a cache that still holds the root whole.
	rm -f "$copy"/__db.*
	# The meta page's page size (bytes 20-23); page 1 is the root.
	pagesize=$(od -An -tu4 -j20 -N4 "$copy/tokens.db" | tr -d ' ')
	head -c "$pagesize" /dev/zero | tr '\0' '\377' |
		dd of="$copy/tokens.db" bs="$pagesize" seek=1 conv=notrunc 2>/dev/null
	out=$(PATGATE_DB="$copy" "$CLI" check 2>"$WORK/damaged.err") || rc=$?
	expect_eq "patgate check on a damaged root: exit status" "$rc" 1
	expect_match "what it says" "$out" '^tokens\.db: .*DB_VERIFY_BAD'
	expect_eq "nothing but that line" "$(printf '%s\n' "$out" | grep -c .)" 1
	if grep -qE "could not run|transaction failed" "$WORK/damaged.err"; then
		fail "the check walked the damaged file: $(grep -m1 -E "could not run|transaction failed" "$WORK/damaged.err")"
	fi
}

no_hang_when_a_lock_holder_dies() {
	local p victim= t0 took first
	# Restart the workers so that each create stalls 3 s with its locks held.
	stop_supervised
	PATGATE_TEST_STALL_MS=3000 start_supervised 4
	( create "$ALICE" '{"name":"dies holding locks"}' ) &
	first=$!
	for _ in $(seq 40); do
		sleep 0.1
		for p in $(worker_pids); do
			# 230: clock_nanosleep, the stall inside the transaction
			[ "$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" = 230 ] && victim=$p
		done
		[ -n "$victim" ] && break
	done
	[ -n "$victim" ] || { fail "no worker stalled in a create"; return; }
	kill -9 "$victim"
	# Every other worker serves again within 10 s; no request waits longer.
	t0=$(date +%s%N)
	until call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" && [ "$STATUS" = 200 ]; do
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] || break
		sleep 0.2
	done
	took=$(( ($(date +%s%N) - t0) / 1000000 ))
	expect_eq "list after the holder died" "$STATUS" 200
	[ "$took" -lt 10000 ] || fail "the list was refused for $took ms"
	t0=$(date +%s%N)
	until create "$ALICE" '{"name":"after the holder died"}' && [ "$STATUS" = 201 ]; do
		[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 10000 ] || break
		sleep 0.2
	done
	expect_eq "create after the holder died" "$STATUS" 201
	echo "# a worker killed holding a write transaction: list answered after $took ms, create after $(( ($(date +%s%N) - t0) / 1000000 )) ms (3000 ms of it the test stall)"
	wait "$first"
	cli check >"$WORK/check.out" || fail "patgate check: $(head -3 "$WORK/check.out")"
}

db_verify_clean() {
	local f dbv
	stop_supervised
	dbv=$(command -v db_verify || command -v db5.3_verify)
	for f in "$PATGATE_DB"/*.db; do
		"$dbv" -q -h "$PATGATE_DB" "$(basename "$f")" || fail "db_verify $(basename "$f")"
	done
	start_supervised 4
}

t_case "4 workers, 8 clients, 2000 creates: all distinct, all verify" many_workers_2000_creates
t_case "kill -9 a worker every 200 ms during creates: 0 lost, nothing half-stored" kill_storm
t_case "strace: the commit is fsynced before the 201 is written" fsync_before_201
t_case "a FastCGI record with huge parameter lengths does not take the service down" hostile_fastcgi_record
t_case "patgate backup under load: every earlier token verifies from the copy" backup_under_load
t_case "patgate check on a copy with a damaged root: names the file, walks nothing" check_stops_at_a_damaged_root
t_case "db_verify is clean after the storms" db_verify_clean
t_case "a worker killed holding a write transaction: others serve within 10 s" no_hang_when_a_lock_holder_dies
t_done
