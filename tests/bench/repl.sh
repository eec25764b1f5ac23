#!/bin/bash
# repl.sh: what replication costs, measured side by side in one run on one
# machine: a check at a replica of a three-site group against a check at a
# single site, and creates at the group's master (each 201 sent once a
# quorum of sites holds the token) against creates at the single site.
# Each site has its environment, patgate-repd (the group's), workers and
# lighttpd, on loopback ports; the rounds alternate between the two so
# that the machine's drift falls on both.  Not part of make check.
#   tests/bench/repl.sh                    about four minutes
#   BENCH_ROUNDS=1 BENCH_DURATION=3 tests/bench/repl.sh    a try
# Settings: BENCH_DURATION seconds a measure (10), BENCH_ROUNDS (5),
# BENCH_CONNECTIONS (16), BENCH_THREADS wrk threads (2), BENCH_WORKERS a
# site (2).  Hashes at the program's default cost unless BENCH_ARGON2.
# Prints a table (measure, value, baseline, ratio, target, verdict); exit
# status 0 when the targets are met.
set -u
export PATGATE_MAX_TOKENS_PER_USER=100000000
export PATGATE_LOG=stderr
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-5}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
NWORKERS=${BENCH_WORKERS:-2}
. "$(dirname "$0")/../integration/lib.sh"
if [ -n "${BENCH_ARGON2:-}" ]; then export PATGATE_ARGON2=$BENCH_ARGON2; else unset PATGATE_ARGON2; fi
REPD="$top_builddir/patgate-repd"
BENCH="$top_srcdir/tests/bench"
for tool in wrk ss; do
	command -v "$tool" >/dev/null || { echo "repl.sh: $tool is not installed" >&2; exit 99; }
done
[ -x "$REPD" ] && [ -x "$FCGI" ] || { echo "repl.sh: build patgate first" >&2; exit 99; }
say() { echo "bench: $*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# free_port: a TCP port below the kernel's range for outgoing connections
# that no socket uses.
free_port() {
	local p
	while :; do
		p=$((10000 + RANDOM % 20000))
		ss -Htan | awk '{ print $4 }' | grep -q ":$p\$" || { echo "$p"; return; }
	done
}
RPORTS=("" "$(free_port)" "$(free_port)" "$(free_port)")
PIDS=
bench_cleanup() {
	local p
	# shellcheck disable=SC2086
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 1
	# shellcheck disable=SC2086
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	cleanup
}
trap bench_cleanup EXIT

# at SITE COMMAND...: COMMAND with SITE's settings (0: the single site,
# 1-3: the group's).
# (AT_EXEC=exec: in place of the shell, so that $! is the program's pid.)
at() {
	local i=$1 j peers=
	shift
	if [ "$i" = 0 ]; then
		${AT_EXEC:-} env PATGATE_DB="$WORK/single" "$@"
		return
	fi
	for j in 1 2 3; do
		[ "$j" = "$i" ] || peers="$peers${peers:+,}127.0.0.1:${RPORTS[$j]}"
	done
	${AT_EXEC:-} env PATGATE_DB="$WORK/g$i" PATGATE_REPL_SELF="127.0.0.1:${RPORTS[$i]}" \
		PATGATE_REPL_PEERS="$peers" PATGATE_REPL_STALE=5 "$@"
}

# front SITE: NWORKERS workers and a lighttpd for SITE; its port in
# HTTP[SITE].
declare -a HTTP
front() {
	local i=$1 port out
	port=$(free_port)
	out=$(at "$i" spawn-fcgi -s "$WORK/s$i.sock" -M 0600 -F "$NWORKERS" -- "$FCGI" 2>"$WORK/workers$i.err") ||
		{ echo "repl.sh: spawn-fcgi: $out" >&2; exit 99; }
	PIDS="$PIDS $(printf '%s\n' "$out" | sed -n 's/.*PID: \([0-9]*\).*/\1/p' | tr '\n' ' ')"
	mkdir -p "$WORK/www"
	cat >"$WORK/lighttpd$i.conf" <<EOF
server.document-root = "$WORK/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$WORK/lighttpd$i.err"
server.modules += ("mod_fastcgi")
fastcgi.server = ( "/api/" => (( "socket" => "$WORK/s$i.sock", "check-local" => "disable" )) )
EOF
	lighttpd -D -f "$WORK/lighttpd$i.conf" </dev/null >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	HTTP[$i]=$port
}

# get SITE PATH [curl args...]: STATUS and BODY.
get() {
	local i=$1 p=$2
	shift 2
	BODY=$(curl -s --max-time 10 -w '\n%{http_code}' "$@" "http://127.0.0.1:${HTTP[$i]}$p")
	STATUS=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}

# wrk_at NAME SITE PATH [env...]: req/s into RPS (0 with any unexpected
# status or socket error).
wrk_at() {
	local name=$1 i=$2 path=$3 out bad errs
	shift 3
	out=$(env BENCH_NTHREADS="$THREADS" "$@" wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" \
		--timeout 10s -s "$BENCH/req.lua" "http://127.0.0.1:${HTTP[$i]}$path" 2>&1)
	printf '%s\n' "$out" >"$WORK/wrk-$name.out"
	RPS=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	bad=$(printf '%s\n' "$out" | sed -n 's/^bench: .*unexpected=\([0-9]*\).*/\1/p')
	errs=$(printf '%s\n' "$out" | sed -n 's/^ *Socket errors: \(.*\)/\1/p')
	say "$name: ${RPS:-0} req/s, unexpected statuses ${bad:-?}${errs:+, socket errors $errs}"
	if [ "${bad:-1}" != 0 ] || [ -n "$errs" ]; then
		sed 's/^/    /' "$WORK/wrk-$name.out" | head -20 >&2
		RPS=0
	fi
	: "${RPS:=0}"
}

cat >"$WORK/rules" <<'RULES'
GET /service/* read
RULES
export PATGATE_RULES="$WORK/rules"
CT="Content-Type: application/json"
BODY_CREATE='{"name":"benchmark token 0001","abilities":["read"]}'

# The single site.
at 0 "$CLI" init 2>>"$WORK/cli.err" || { echo "repl.sh: init failed" >&2; exit 99; }
# The group: three repds; the master is the one whose log says so.
for i in 1 2 3; do
	mkdir -p "$WORK/g$i"
	(AT_EXEC=exec at "$i" "$REPD" >/dev/null 2>"$WORK/repd$i.err") &
	PIDS="$PIDS $!"
done
MASTER=
for _ in $(seq 150); do
	for i in 1 2 3; do
		[ "$(sed -n 's/.*: role \([a-z]*\),.*/\1/p' "$WORK/repd$i.err" | tail -n 1)" = master ] && MASTER=$i
	done
	[ -n "$MASTER" ] && break
	sleep 0.2
done
[ -n "$MASTER" ] || { echo "repl.sh: the group elected no master" >&2; exit 99; }
REPLICA=$((MASTER % 3 + 1))
# The master's log line may come a moment before it takes writes.
for _ in $(seq 20); do at "$MASTER" "$CLI" init 2>>"$WORK/cli.err" && break; sleep 0.5; done
[ -e "$WORK/g$MASTER/tokens.db" ] || { echo "repl.sh: init at the master failed: $(tail -n 3 "$WORK/cli.err")" >&2; exit 99; }
for s in 0 "$MASTER"; do
	for u in $(seq 0 20); do
		at "$s" "$CLI" user add "user$u@example.com" >/dev/null 2>>"$WORK/cli.err" &&
			at "$s" "$CLI" session new "user$u@example.com" 2>>"$WORK/cli.err" ||
			{ echo "repl.sh: users at site $s: $(tail -n 2 "$WORK/cli.err")" >&2; exit 99; }
	done >"$WORK/sessions$s"
done
for s in 0 "$MASTER" "$REPLICA"; do front "$s"; done
for s in 0 "$MASTER" "$REPLICA"; do
	for _ in $(seq 100); do get "$s" /api/v1/health; [ "$STATUS" = 200 ] && break; sleep 0.1; done
	[ "$STATUS" = 200 ] || { echo "repl.sh: site $s: health $STATUS $BODY" >&2; exit 99; }
done
# One token at each: the single site's, and the group's made at the master.
declare -a PAT
for s in 0 "$MASTER"; do
	get "$s" /api/v1/user/api-tokens -X POST -H "Authorization: Bearer $(head -n 1 "$WORK/sessions$s")" \
		-H "$CT" --data-binary "$BODY_CREATE"
	[ "$STATUS" = 201 ] || { echo "repl.sh: create at site $s: $STATUS $BODY" >&2; exit 99; }
	PAT[$s]=$(printf '%s' "$BODY" | jq -r .data.token)
done
for _ in $(seq 50); do
	get "$REPLICA" /api/v1/auth/check -H "Authorization: Bearer ${PAT[$MASTER]}" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /service/data"
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
[ "$STATUS" = 200 ] || { echo "repl.sh: the token does not pass at the replica: $STATUS $BODY" >&2; exit 99; }
say "group: master site $MASTER, replica site $REPLICA; $ROUNDS rounds of ${DURATION} s, $NWORKERS workers a site"

SINGLE_CHECKS=(); REPLICA_CHECKS=(); CHECK_RATIOS=()
SINGLE_CREATES=(); QUORUM_CREATES=(); CREATE_RATIOS=()
for r in $(seq "$ROUNDS"); do
	wrk_at "check-single" 0 /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer ${PAT[0]}
X-Original-Method: GET
X-Original-URI: /service/data"
	a=$RPS
	wrk_at "check-replica" "$REPLICA" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer ${PAT[$MASTER]}
X-Original-Method: GET
X-Original-URI: /service/data"
	SINGLE_CHECKS+=("$a"); REPLICA_CHECKS+=("$RPS"); CHECK_RATIOS+=("$(ratio "$RPS" "$a")")
	wrk_at "create-single" 0 /api/v1/user/api-tokens BENCH_METHOD=POST BENCH_EXPECT=201 \
		BENCH_BODY="$BODY_CREATE" BENCH_TOKENS="$WORK/sessions0" BENCH_HEADERS="$CT"
	a=$RPS
	wrk_at "create-quorum" "$MASTER" /api/v1/user/api-tokens BENCH_METHOD=POST BENCH_EXPECT=201 \
		BENCH_BODY="$BODY_CREATE" BENCH_TOKENS="$WORK/sessions$MASTER" BENCH_HEADERS="$CT"
	SINGLE_CREATES+=("$a"); QUORUM_CREATES+=("$RPS"); CREATE_RATIOS+=("$(ratio "$RPS" "$a")")
done

m() { printf '%s\n' "$@" | median; }
CHECK_RATIO=$(m "${CHECK_RATIOS[@]}")
CREATE_RATIO=$(m "${CREATE_RATIOS[@]}")
verdict=pass
awk -v r="$CHECK_RATIO" 'BEGIN { exit !(r >= 0.9) }' || verdict=FAIL
printf '%-52s | %-10s | %-18s | %-6s | %-7s | %s\n' measure value baseline ratio target verdict
printf '%-52s | %-10s | %-18s | %-6s | %-7s | %s\n' "check at a replica, warm valid PAT (req/s)" \
	"$(m "${REPLICA_CHECKS[@]}")" "single $(m "${SINGLE_CHECKS[@]}")" "$CHECK_RATIO" ">= 0.9" "$verdict"
printf '%-52s | %-10s | %-18s | %-6s | %-7s | %s\n' "create at the master, quorum-acknowledged (req/s)" \
	"$(m "${QUORUM_CREATES[@]}")" "single $(m "${SINGLE_CREATES[@]}")" "$CREATE_RATIO" none report
echo "(checks single: ${SINGLE_CHECKS[*]}; at the replica: ${REPLICA_CHECKS[*]})"
echo "(creates single: ${SINGLE_CREATES[*]}; at the master: ${QUORUM_CREATES[*]}; ratios are the median of each round's)"
echo "($(nproc) cores; three sites and the single one on this machine, wrk -t$THREADS -c$CONNS -d${DURATION}s)"
[ "$verdict" = pass ]
