# lib.sh: shared set-up for the integration tests: a fresh database, real
# spawn-fcgi workers, a real lighttpd on a free loopback port, curl, and TAP.
# Sourced by each tests/integration/*.sh; needs top_builddir (make check sets it).

set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

# skip_all REASON: skip the whole script (TAP's plan of none), as for a
# program this machine lacks.
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# need_programs PROGRAM...: skip the script unless each is installed.
need_programs() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || skip_all "$c is not installed"
	done
}

for tool in lighttpd spawn-fcgi curl jq db_dump; do
	command -v "$tool" >/dev/null 2>&1 || command -v "db5.3_${tool#db_}" >/dev/null 2>&1 ||
		skip_all "$tool is not installed"
done
DB_DUMP=$(command -v db_dump || command -v db5.3_dump)
FCGI="$top_builddir/patgate.fcgi"
CLI="$top_builddir/patgate"
WORK=$(mktemp -d /tmp/patgate-test.XXXXXX)
export PATGATE_DB="$WORK/db"
export PATGATE_ARGON2="${PATGATE_ARGON2:-m=1024,t=1,p=1}"
SOCK="$WORK/fcgi.sock"
PORT=
LIGHTTPD_PID=
WORKER_PIDS=
TAP_N=0
TAP_FAILED=0
CASE_FAILED=0


cleanup() {
	stop_supervised
	stop_workers
	[ -n "$LIGHTTPD_PID" ] && end_pid "$LIGHTTPD_PID" lighttpd
	# The verified-token tables the environments' processes shared: memory
	# named after each environment's directory (src/cache_share.c).
	find "$WORK" -type d -printf '%D-%i\n' 2>/dev/null | while read -r di; do
		rm -f /dev/shm/patgate-cache-*-"$di"
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# wait_gone PID TRIES: until process PID has left, looking TRIES times
# 0.05 s apart; false when it is still there.
wait_gone() {
	local i
	for i in $(seq "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	! kill -0 "$1" 2>/dev/null
}

# end_pid PID NAME: SIGTERM a child and reap it, waiting at most 10 s
# before SIGKILL (said in the log as a WARNING, which run-all.sh counts).
end_pid() {
	kill "$1" 2>/dev/null || return 0
	if ! wait_gone "$1" 200; then
		echo "# WARNING: $2 ($1) did not leave on SIGTERM within 10 s; killed"
		kill -9 "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# ---------------------------------------------------------------- TAP

# t_case NAME FUNCTION: run one test case and print its TAP line.
t_case() {
	local name=$1
	shift
	CASE_FAILED=0
	CASE_SKIP=
	"$@"
	TAP_N=$((TAP_N + 1))
	if [ -n "$CASE_SKIP" ] && [ "$CASE_FAILED" = 0 ]; then
		echo "ok $TAP_N - $name # SKIP $CASE_SKIP"
	elif [ "$CASE_FAILED" = 0 ]; then
		echo "ok $TAP_N - $name"
	else
		echo "not ok $TAP_N - $name"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

t_done() {
	t_case "no secret of this script's tokens and sessions in any log or database file" no_secret_leaked
	echo "1..$TAP_N"
	[ "$TAP_FAILED" = 0 ]
}

# Every secret minted through create() or setup_db, searched for in the
# web server's and the workers' logs, the CLI's stderr and the database.
no_secret_leaked() {
	local f
	[ -s "$WORK/minted" ] || return 0
	for f in "$WORK"/*.err "$WORK"/*.log "$PATGATE_DB"/*; do
		[ -f "$f" ] || continue
		if grep -qaF -f "$WORK/minted" "$f"; then
			fail "a secret is in $(basename "$f")"
		fi
	done
}

# remember_secret TOKEN: note the 40 random characters of a PAT or session.
remember_secret() {
	[ -n "$1" ] && printf '%s\n' "${1: -48:40}" >>"$WORK/minted"
}

# fail MESSAGE: mark the current case failed.
fail() {
	echo "# FAIL: $*"
	CASE_FAILED=1
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$(printf %.200s "$2")', want '$3'"
}

# expect_match WHAT GOT REGEX
expect_match() {
	[[ $2 =~ $3 ]] || fail "$1: '$(printf %.200s "$2")' does not match /$3/"
}

# expect_jq WHAT FILTER: the filter, run on BODY, must print true.
expect_jq() {
	local got
	got=$(printf '%s' "$BODY" | jq -e "$2" 2>/dev/null)
	[ "$got" = true ] || fail "$1: jq '$2' on $(printf %.200s "$BODY")"
}

# ---------------------------------------------------------------- the stack

# cli ARGS: the CLI.  Exit 75 says the database did not open (it waited on
# a process killed by a test) and asks for another run, which recovers it;
# the test runs it once more, as an operator would, and says so.
cli() {
	local rc
	"$CLI" "$@" 2>>"$WORK/cli.err"
	rc=$?
	[ "$rc" = 75 ] || return "$rc"
	echo "# patgate $1: exit 75 (the open made no progress); once more" >&2
	"$CLI" "$@" 2>>"$WORK/cli.err"
}

# Make a database with two users, alice and bob, each with a session.
setup_db() {
	cli init 2>/dev/null || { echo "Bail out! patgate init failed"; exit 99; }
	ALICE_ID=$(cli user add alice@example.com --name Alice)
	BOB_ID=$(cli user add bob@example.com --name Bob)
	ALICE=$(cli session new alice@example.com)
	BOB=$(cli session new bob@example.com)
	[ -n "$ALICE" ] && [ -n "$BOB" ] || { echo "Bail out! no sessions"; exit 99; }
	remember_secret "$ALICE"
	remember_secret "$BOB"
}

# start_workers [N]: spawn-fcgi with N (default 2) workers on the unix socket.
start_workers() {
	local n=${1:-2} out
	rm -f "$SOCK"
	out=$(spawn-fcgi -s "$SOCK" -M 0660 -F "$n" -- "$FCGI" 2>&1) ||
		{ echo "Bail out! spawn-fcgi: $out"; exit 99; }
	WORKER_PIDS=$(printf '%s\n' "$out" | sed -n 's/.*PID: \([0-9]*\).*/\1/p' | tr '\n' ' ')
}

# start_supervised N: spawn-fcgi hands the socket to multiwatch, which keeps
# N workers alive (restarting any that dies, without giving up).
SUPERVISOR_PID=
start_supervised() {
	local n=${1:-4}
	need_programs multiwatch
	rm -f "$SOCK"
	spawn-fcgi -n -s "$SOCK" -M 0660 -- "$(command -v multiwatch)" -f "$n" -r 1000000 -t 1000 \
		-- "$FCGI" >/dev/null 2>>"$WORK/workers.err" &
	SUPERVISOR_PID=$!
	for _ in $(seq 100); do
		[ "$(worker_pids | wc -w)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "Bail out! multiwatch did not start $n workers"
	exit 99
}

# stop_supervised: stop multiwatch and its workers; after 3 s, by force
# (a worker respawned while multiwatch was stopping would keep it waiting).
stop_supervised() {
	local kids i
	[ -n "$SUPERVISOR_PID" ] || return 0
	kids=$(worker_pids)
	kill "$SUPERVISOR_PID" 2>/dev/null
	for i in $(seq 30); do
		kill -0 "$SUPERVISOR_PID" 2>/dev/null || break
		sleep 0.1
	done
	kids="$kids $(worker_pids)"
	# shellcheck disable=SC2086
	kill -9 "$SUPERVISOR_PID" $kids 2>/dev/null
	wait "$SUPERVISOR_PID" 2>/dev/null
	SUPERVISOR_PID=
}

# worker_pids: the supervised workers now alive.
worker_pids() {
	cat "/proc/$SUPERVISOR_PID/task/$SUPERVISOR_PID/children" 2>/dev/null
}

# stop_workers [SIGNAL]
# Workers still there 10 s later (one deadline for all) are killed, and
# said so: a test never waits for ever on a worker that does not leave,
# and run-all.sh counts the warning as a failure.
stop_workers() {
	local sig=${1:-TERM} p i left
	for p in $WORKER_PIDS; do kill "-$sig" "$p" 2>/dev/null; done
	for i in $(seq 200); do
		left=
		for p in $WORKER_PIDS; do
			kill -0 "$p" 2>/dev/null && left="$left $p"
		done
		[ -z "$left" ] && break
		sleep 0.05
	done
	for p in $left; do
		echo "# WARNING: worker $p did not leave on SIG$sig within 10 s; killed"
		kill -9 "$p" 2>/dev/null
	done
	WORKER_PIDS=
}

# lighttpd with the API behind FastCGI; extra config lines from $LIGHTTPD_EXTRA.
# With GUARD=1, /protected/ is guarded by patgate as a FastCGI authorizer in
# front of the echo backend (a CGI program) at protected/{,read/,write/}echo.cgi.
start_lighttpd() {
	local try d guard=
	mkdir -p "$WORK/www"
	if [ "${GUARD:-0}" = 1 ]; then
		for d in protected protected/read protected/write; do
			mkdir -p "$WORK/www/$d"
			cp "$top_srcdir/tests/integration/echo-backend.cgi" "$WORK/www/$d/echo.cgi"
		done
		guard=",
  \"/protected/\" => (( \"socket\" => \"$SOCK\", \"check-local\" => \"disable\",
                      \"mode\" => \"authorizer\", \"docroot\" => \"$WORK/www\" ))"
	fi
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
		cat >"$WORK/lighttpd.conf" <<EOF
server.document-root = "$WORK/www"
server.port = $PORT
server.bind = "127.0.0.1"
server.errorlog = "$WORK/lighttpd.err"
server.pid-file = "$WORK/lighttpd.pid"
server.modules += ("mod_fastcgi", "mod_cgi")
server.max-request-size = 1024
cgi.assign = (".cgi" => "")
fastcgi.server = (
  "/api/" => (( "socket" => "$SOCK", "check-local" => "disable" ))$guard
)
${LIGHTTPD_EXTRA:-}
EOF
		lighttpd -D -f "$WORK/lighttpd.conf" >"$WORK/lighttpd.out" 2>&1 &
		LIGHTTPD_PID=$!
		for _ in $(seq 50); do
			if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then return 0; fi
			kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$LIGHTTPD_PID" 2>/dev/null
		wait "$LIGHTTPD_PID" 2>/dev/null
		LIGHTTPD_PID=
	done
	echo "Bail out! lighttpd did not start: $(cat "$WORK/lighttpd.out")"
	exit 99
}

start_stack() {
	setup_db
	start_workers "${1:-2}"
	start_lighttpd
}

# start_guarded_stack [N]: start_stack with GUARD=1 and the rules the
# guarding tests share: GET /protected/read/* needs read, any method on
# /protected/write/* write, the rest of /protected/ admin.
start_guarded_stack() {
	export PATGATE_RULES="$WORK/rules"
	printf '%s\n' '# method path ability' 'GET /protected/read/* read' \
		'*   /protected/write/* write' '*   /protected/* admin' >"$PATGATE_RULES"
	GUARD=1
	start_stack "$@"
}

# ---------------------------------------------------------------- requests

# call METHOD PATH [curl args...]: sets STATUS and BODY; headers in $WORK/headers.
call() {
	local m=$1 p=$2
	shift 2
	STATUS=$(curl -sS --max-time 30 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
		-X "$m" "$@" "http://127.0.0.1:$PORT$p")
	BODY=$(cat "$WORK/body")
}

# header NAME: a header of the last response.
header() {
	grep -i "^$1:" "$WORK/headers" | head -n 1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}

# create SESSION JSON [curl args...]: POST a create; sets STATUS, BODY, TOKEN.
create() {
	local sess=$1 json=$2
	shift 2
	call POST /api/v1/user/api-tokens -H "Authorization: Bearer $sess" \
		-H 'Content-Type: application/json' --data-binary "$json" "$@"
	TOKEN=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	remember_secret "$TOKEN"
}

# expect_error STATUS: the last response is that status with a JSON message.
expect_error() {
	expect_eq "status" "$STATUS" "$1"
	expect_jq "JSON message" '(.message | type) == "string" and (.message | length) > 0'
	expect_match "content-type" "$(header Content-Type)" '^application/json'
}

# count_tokens EMAIL: how many token records the user has (revoked ones too).
count_tokens() {
	cli token list "$1" | grep -c .
}

# forge TOKEN [K]: the same number, another secret with a correct checksum
# (the K-th, from 0, of 25 such, all different).
forge() {
	local n=${1%%|*} secret=${1#*|} core fake c
	core=${secret: -48:40}
	c=ABCDEFGHIJKLMNOPQRSTUVWXYZ
	c=${c//${core:0:1}/}	# the letters but the real first character
	fake="${c:${2:-0}:1}${core:1}"
	printf '%s|%s%s%s' "$n" "${secret:0:${#secret}-48}" "$fake" \
		"$(printf '%s' "$fake" | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')"
}

# pat_ok TOKEN: is it a well-formed PAT with the right CRC-32?
pat_ok() {
	local tok=$1 secret core crc
	[[ $tok =~ ^[1-9][0-9]*\|(.*)$ ]] || return 1
	secret=${BASH_REMATCH[1]}
	[ ${#secret} -ge 48 ] || return 1
	core=${secret: -48:40}
	crc=${secret: -8}
	[[ $core =~ ^[A-Za-z0-9]{40}$ ]] || return 1
	[ "$(printf '%s' "$core" | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')" = "$crc" ]
}
