#!/bin/bash
# core_secrets.sh: no secret reaches a core file.  Supervised workers behind
# lighttpd mint and check PATs and serve logins and sessions, so secrets pass
# through their memory; then workers die of SIGSEGV and SIGABRT and the CLI
# dies of SIGSEGV halfway through reading a password.  No core file of
# theirs may appear, and no core file anywhere one could land may hold a
# secret.  A control, an ordinary process holding a secret killed the same
# way, must leave a core with the secret in it, or the case is skipped: a
# machine that writes no cores would pass it without proving anything.
#
# Two rounds when /proc/sys/kernel/core_pattern can be written: cores piped
# to a program, as systemd-coredump and apport take them, where the kernel
# ignores RLIMIT_CORE and only the process being not dumpable keeps the core
# away; and cores written to files, where RLIMIT_CORE 0 does too.  The
# pattern is the whole machine's: it is changed only while a process is
# being killed and put back at once, and run-all.sh runs this test alone.
# When it cannot be written, one round with the pattern there is.
. "$(dirname "$0")/lib.sh"
need_programs multiwatch

# An ASan build would report the SIGSEGV as an error of its own.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:handle_abort=0"

PATTERN_FILE=/proc/sys/kernel/core_pattern
OLD_PATTERN=$(cat "$PATTERN_FILE")
PATTERN_CHANGED=0
CAN_SET=0
PATTERN=$OLD_PATTERN	# the round's
CORES="$WORK/cores"
mkdir -p "$CORES"
chmod 0700 "$CORES"
: >"$WORK/minted"

restore_pattern() {
	[ "$PATTERN_CHANGED" = 1 ] && printf '%s\n' "$OLD_PATTERN" >"$PATTERN_FILE"
	PATTERN_CHANGED=0
}
trap 'restore_pattern; cd /; cleanup' EXIT

# A relative pattern ("core") puts a core in the dying process's directory:
# everything here starts in $CORES, lighttpd, multiwatch, workers and CLI.
cd "$CORES" || exit 99
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -Hc)"

# The program a "|" pattern hands cores to: it keeps them in $CORES.
cat >"$WORK/collect" <<EOF
#!/bin/sh
# collect PID NAME: the kernel pipes the core of process PID to stdin.
umask 077
exec cat >"$CORES/core.\$2.\$1"
EOF
chmod 0755 "$WORK/collect"

# arm: the round's pattern, for as long as one kill takes (it is the whole
# machine's); disarm: the old one again.
arm() {
	[ "$CAN_SET" = 1 ] || return 0
	printf '%s\n' "$PATTERN" >"$PATTERN_FILE" 2>/dev/null
	PATTERN_CHANGED=1
	[ "$(cat "$PATTERN_FILE")" = "$PATTERN" ] || fail "core_pattern could not be set to '$PATTERN'"
}
disarm() { restore_pattern; }

# core_dirs [PATTERN]: where a core could land under PATTERN (the round's).
core_dirs() {
	local p=${1:-$PATTERN}
	echo "$CORES"
	case $p in
	'|'*) ;;
	/*) p=$(dirname "$p"); [[ $p == *%* ]] || [ ! -d "$p" ] || echo "$p" ;;
	esac
}

# cores_of PID: the core files of process PID made since $WORK/stamp.  When
# the pattern names no pid, any core made since then.
cores_of() {
	local d f by_pid=0
	if [[ $PATTERN == *%p* ]] || [ "$(cat /proc/sys/kernel/core_uses_pid)" = 1 ]; then
		by_pid=1
	fi
	for d in $(core_dirs); do
		for f in "$d"/*; do
			{ [ -f "$f" ] && [ "$f" -nt "$WORK/stamp" ]; } || continue
			if [ "$by_pid" = 0 ] || [[ .$(basename "$f"). == *".$1."* ]]; then
				echo "$f"
			fi
		done
	done
}

# await_core PID: wait up to 3 s for a core of PID, whole (its size steady).
# Prints its files; nothing when none came.
await_core() {
	local i got size last=-1
	for i in $(seq 30); do
		got=$(cores_of "$1")
		if [ -n "$got" ]; then
			# shellcheck disable=SC2086
			size=$(cat $got | wc -c)
			[ "$size" = "$last" ] && { echo "$got"; return; }
			last=$size
		fi
		sleep 0.1
	done
	echo "$got"
}

# gone PID: wait until PID has died.
gone() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	fail "process $1 did not die"
}

# A user with a password, for logins.
CAROL_PW="carol pw $(head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
printf '%s\n' "$CAROL_PW" >>"$WORK/minted"
setup_db
printf '%s\n' "$CAROL_PW" | cli user add carol@example.com --password-stdin >/dev/null ||
	{ echo "Bail out! user add carol"; exit 99; }
start_supervised 2
start_lighttpd

# traffic: secrets through the workers: creates, PAT checks, a login and
# its session at work, a logout.
traffic() {
	local i s tokens=
	for i in 1 2 3 4; do
		create "$ALICE" "{\"name\":\"core $i\"}"
		expect_eq "create $i" "$STATUS" 201
		tokens="$tokens $TOKEN"
	done
	for i in $tokens; do
		call GET /api/v1/auth/check -H "Authorization: Bearer $i" -H "X-Original-Method: GET" -H "X-Original-URI: /x"
		[ "$STATUS" = 200 ] || [ "$STATUS" = 403 ] || fail "check of a PAT: $STATUS"
	done
	printf '{"email":"carol@example.com","password":"%s"}' "$CAROL_PW" >"$WORK/login.json"
	call POST /api/v1/auth/login -H 'Content-Type: application/json' --data-binary @"$WORK/login.json"
	rm -f "$WORK/login.json"
	expect_eq "login" "$STATUS" 200
	s=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	remember_secret "$s"
	create "$s" '{"name":"by a login session"}'
	expect_eq "create with the login session" "$STATUS" 201
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $s"
	expect_eq "list" "$STATUS" 200
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $s"
	expect_eq "logout" "$STATUS" 200
}

ROUND_OK=0

# control: bash holding a secret, killed by SIGSEGV, must leave a core with
# the secret in it.
control() {
	local secret pid cores
	ROUND_OK=0
	secret="control $(head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
	printf '%s\n' "$secret" >"$WORK/control.secret"
	touch "$WORK/stamp"
	sleep 0.01
	arm
	bash -c 'read -r s; kill -SEGV $$' <<<"$secret" &
	pid=$!
	{ wait "$pid"; } 2>/dev/null	# no "Segmentation fault" on the test's stderr
	cores=$(await_core "$pid")
	disarm
	if [ -z "$cores" ]; then
		CASE_SKIP="no core even from an ordinary process (core_pattern '$PATTERN', ulimit -c $(ulimit -c))"
		return
	fi
	# shellcheck disable=SC2086
	if grep -qaF -f "$WORK/control.secret" $cores; then
		ROUND_OK=1
		echo "# control: $(basename $cores), $(cat $cores | wc -c) bytes, holds its secret"
	else
		fail "the control's core $cores does not hold its secret: the search would miss one"
	fi
	# shellcheck disable=SC2086
	rm -f $cores
}

# kill_workers: both supervised workers, one by SIGSEGV, one by SIGABRT,
# after traffic put secrets in their memory; neither leaves a core.
kill_workers() {
	local p sig=SEGV cores
	traffic
	KILLED=
	for p in $(worker_pids); do
		touch "$WORK/stamp"
		arm
		kill -"$sig" "$p"
		gone "$p"
		cores=$(await_core "$p")
		disarm
		if [ "$ROUND_OK" = 1 ] && [ -n "$cores" ]; then
			fail "worker $p killed by SIG$sig left a core: $cores"
		fi
		KILLED="$KILLED $p"
		sig=ABRT
	done
	[ "$(echo "$KILLED" | wc -w)" = 2 ] || fail "killed $(echo "$KILLED" | wc -w) workers, not 2"
	[ "$ROUND_OK" = 1 ] || CASE_SKIP="cores cannot be seen here (see the control)"
}

# come_back: multiwatch starts two new workers, and a create answers 201.
come_back() {
	local i now p
	for i in $(seq 100); do
		now=$(worker_pids)
		[ "$(echo "$now" | wc -w)" -ge 2 ] && break
		sleep 0.1
	done
	expect_eq "workers alive" "$(echo "$now" | wc -w)" 2
	for p in $now; do
		[[ " $KILLED " == *" $p "* ]] && fail "worker $p was killed but is still listed"
	done
	create "$ALICE" '{"name":"after the crash"}'
	expect_eq "a create after the crash" "$STATUS" 201
	cli verify "$TOKEN" >/dev/null || fail "the token made after the crash does not verify"
}

# kill_cli: patgate user passwd, with half a password read from a pipe, dies
# of SIGSEGV; no core.
kill_cli() {
	local pw pid i rc=0 cores read0
	pw="cli pw $(head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
	printf '%s\n' "$pw" >>"$WORK/minted"
	rm -f "$WORK/pw.fifo"
	mkfifo "$WORK/pw.fifo"
	touch "$WORK/stamp"
	"$CLI" user passwd carol@example.com <"$WORK/pw.fifo" 2>>"$WORK/cli.err" &
	pid=$!
	exec 7>"$WORK/pw.fifo"
	# Once it waits on the empty pipe, its database work is done: then
	# what it reads is the password.
	for i in $(seq 50); do
		[[ $(cat "/proc/$pid/wchan" 2>/dev/null) == pipe* ]] && break
		sleep 0.05
	done
	read0=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2>/dev/null)
	printf '%s' "$pw" >&7	# no newline: the CLI waits for the rest
	for i in $(seq 50); do
		[ "$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2>/dev/null)" -ge $((${read0:-0} + ${#pw})) ] 2>/dev/null && break
		sleep 0.05
	done
	arm
	kill -SEGV "$pid"
	{ wait "$pid"; } 2>/dev/null || rc=$?
	exec 7>&-
	cores=$(await_core "$pid")
	disarm
	expect_eq "the CLI's end" "$rc" $((128 + 11))
	if [ "$ROUND_OK" = 1 ] && [ -n "$cores" ]; then
		fail "the CLI killed by SIGSEGV left a core: $cores"
	fi
	[ "$ROUND_OK" = 1 ] || CASE_SKIP="cores cannot be seen here (see the control)"
}

# no_secret_in_cores: every file where a core could land, searched for every
# secret minted (PATs, sessions, passwords).
no_secret_in_cores() {
	local d f n=0
	for d in $(core_dirs "$OLD_PATTERN"); do
		for f in "$d"/*; do
			{ [ -f "$f" ] && [ "$f" -nt "$WORK/start" ]; } || continue
			n=$((n + 1))
			echo "# searched: $f"
			if grep -qaF -f "$WORK/minted" "$f"; then fail "a secret is in $f"; fi
		done
	done
	echo "# $(grep -c . "$WORK/minted") secrets searched for in $n files where cores land"
}

touch "$WORK/start"
round() {
	local name=$1
	t_case "$name: control: an ordinary process killed by SIGSEGV leaves a core, its secret in it" control
	t_case "$name: workers killed by SIGSEGV and SIGABRT, secrets in memory, leave no core" kill_workers
	t_case "$name: multiwatch restarts them and a create answers 201" come_back
	t_case "$name: the CLI killed by SIGSEGV halfway through a password leaves no core" kill_cli
}

# Writing the pattern there is back tells whether it can be changed.
if printf '%s\n' "$OLD_PATTERN" >"$PATTERN_FILE" 2>/dev/null; then
	CAN_SET=1
	PATTERN="|$WORK/collect %p %e"
	round "cores piped to a program"
	PATTERN="$CORES/core.%e.%p"
	round "cores written to files"
else
	round "core_pattern '$OLD_PATTERN'"
fi
t_case "no core file anywhere one could land holds a secret" no_secret_in_cores
t_done
