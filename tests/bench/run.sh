#!/bin/bash
# run.sh: patgate's throughput and memory against what the machine allows,
# measured side by side in one run: lighttpd + spawn-fcgi (2 workers) and
# a fresh database, loaded with wrk.  Not part of make check.
#   tests/bench/run.sh                   the whole run (about 20 minutes)
#   BENCH_SCALE=200000 BENCH_SCALE_USABLE=20000 tests/bench/run.sh
#                                        a quicker scale step
#   BENCH_QUICK=1 tests/bench/run.sh    throughput only: no memory or scale step
#   BENCH_QUICK=1 BENCH_ROUNDS=1 BENCH_DURATION=3 tests/bench/run.sh
#                                        a try of the mechanics: about a minute at
#                                        a cheap token cost, five at m=19456,t=2,p=1
#   BENCH_ONLY=bound tests/bench/run.sh  only the warm check of a bound token
#                                        against an unbound one (two minutes)
#   BENCH_ONLY=scale tests/bench/run.sh  only the cold check at scale against
#                                        the floor (about five minutes)
# Settings: BENCH_DURATION seconds a measure (10), BENCH_ROUNDS of the floor
# and the fast kinds taken in turn, of creates, of logins, and of the steps
# at scale (5), BENCH_CONNECTIONS (16), BENCH_THREADS wrk threads (2),
# BENCH_SCALE tokens stored for the scale step (1000000), of which
# BENCH_SCALE_USABLE (100000) are made through the API and checked in turn,
# BENCH_COLD distinct tokens checked in turn at 1,000 (2000),
# BENCH_WORKERS (2).  Token and session hashes are made at the program's
# default cost (PATGATE_ARGON2 is unset for the workers and the CLI)
# unless BENCH_ARGON2 names one; PATGATE_PASSWORD_ARGON2 is passed on.
# Prints a table: measure, value, baseline, ratio, target, pass/fail.
# Exit status 0 when every target is met, 1 otherwise.
set -u
case ${BENCH_ONLY:-} in
"" | bound | scale) ;;
*) echo "run.sh: BENCH_ONLY is empty, bound or scale, not $BENCH_ONLY" >&2; exit 99 ;;
esac
RUN_T0=$(date +%s)
export PATGATE_MAX_TOKENS_PER_USER=100000000
export PATGATE_LOG=stderr
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
SCALE=${BENCH_SCALE:-1000000}
SCALE_USABLE=${BENCH_SCALE_USABLE:-100000}
COLD=${BENCH_COLD:-2000}
NWORKERS=${BENCH_WORKERS:-2}
BASE_TOKENS=1000
# Users made through the API hold 100 tokens each, the default cap: a
# create walks its user's tokens, and no real user holds more.
PER_USER=100
. "$(dirname "$0")/../integration/lib.sh"
# lib.sh sets a test cost; what is measured is the default, or BENCH_ARGON2.
if [ -n "${BENCH_ARGON2:-}" ]; then
	export PATGATE_ARGON2=$BENCH_ARGON2
else
	unset PATGATE_ARGON2
fi
BENCH="$top_srcdir/tests/bench"
PATGATE_FCGI=$FCGI
for tool in wrk cc pkg-config; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 99; }
done
[ -x "$PATGATE_FCGI" ] && [ -x "$CLI" ] || { echo "run.sh: build patgate first" >&2; exit 99; }
say() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- helpers

# The two helpers are built here, with the flags of an ordinary build.
cc -O2 -o "$WORK/floor.fcgi" "$BENCH/floor.c" $(pkg-config --cflags --libs fcgi 2>/dev/null || echo -lfcgi) ||
	{ echo "run.sh: cannot build the floor responder" >&2; exit 99; }
cc -O2 -o "$WORK/argon2_time" "$BENCH/argon2_time.c" $(pkg-config --cflags --libs libargon2) ||
	{ echo "run.sh: cannot build argon2_time" >&2; exit 99; }
cc -O2 -o "$WORK/fsync_time" "$BENCH/fsync_time.c" ||
	{ echo "run.sh: cannot build fsync_time" >&2; exit 99; }

ROWS=()
FAILED=0
# row MEASURE VALUE BASELINE RATIO TARGET-RATIO [cmp: ge|le|report] [NON2XX]
# A row given NON2XX fails when it is not 0, whatever its ratio.  A report
# row says how close a rate comes to what bounds it, with no target.
row() {
	local verdict cmp=${6:-ge} target
	if [ "$cmp" = report ]; then
		ROWS+=("$1|$2|$3|$4|none|report")
		say "$1: $2 (baseline $3, ratio $4) report"
		return
	fi
	if awk -v r="$4" -v t="$5" -v c="$cmp" 'BEGIN { exit !(c == "ge" ? r >= t : r <= t) }' &&
	    [ "${7:-0}" = 0 ]; then
		verdict=pass
	else
		verdict=FAIL; FAILED=1
	fi
	target="$([ "$cmp" = le ] && echo '<=' || echo '>=') $5${7:+, 0 non-2xx}"
	ROWS+=("$1|$2|$3|$4|$target|$verdict")
	say "$1: $2 (baseline $3, ratio $4) $verdict"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

# wrk_run NAME URL-PATH [env assignments...]: req/s into RPS; fails on
# unexpected statuses and socket errors, which are printed.  Whatever
# happened, the rate wrk saw is in RAW_RPS and the answers outside 2xx
# in NON2XX.
wrk_run() {
	local name=$1 path=$2 out
	shift 2
	# A create or a login at a password cost, queued behind CONNS others
	# on a loaded machine, can take longer than wrk's default 2 s.
	out=$(env BENCH_NTHREADS="$THREADS" "$@" wrk -t "$THREADS" -c "$CONNS" \
		-d "${WRK_DURATION:-$DURATION}s" --timeout 10s --latency \
		-s "$BENCH/req.lua" "http://127.0.0.1:$PORT$path" 2>&1)
	printf '%s\n' "$out" >"$WORK/wrk-$name.out"
	RPS=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	BAD=$(printf '%s\n' "$out" | sed -n 's/^bench: .*unexpected=\([0-9]*\).*/\1/p')
	BUSY=$(printf '%s\n' "$out" | sed -n 's/^bench: .*busy=\([0-9]*\).*/\1/p')
	NON2XX=$(printf '%s\n' "$out" | sed -n 's/^bench: .*non2xx=\([0-9]*\).*/\1/p')
	ERRS=$(printf '%s\n' "$out" | sed -n 's/^ *Socket errors: \(.*\)/\1/p')
	: "${RPS:=0}" "${NON2XX:=-1}"
	RAW_RPS=$RPS
	say "$name: $RPS req/s, unexpected statuses ${BAD:-?} (503: ${BUSY:-?}, non-2xx $NON2XX)${ERRS:+, socket errors $ERRS}"
	if [ "${BAD:-1}" != 0 ] || [ -n "$ERRS" ]; then
		say "$name: failures count against it; wrk said:"; sed 's/^/    /' "$WORK/wrk-$name.out" | head -40 >&2
		RPS=0
	fi
}

# mint_tokens TAG COUNT FILE: COUNT tokens made through the API, PER_USER
# to each of COUNT / PER_USER new users (a session each from the CLI),
# 2 x NWORKERS users at a time, each user's creates on one connection of
# its own curl; the tokens go to FILE.  Sets MINT_S (seconds it took).
mint_tokens() {
	local tag=$1 count=$2 file=$3 users i t0 t1 got
	users=$(( (count + PER_USER - 1) / PER_USER ))
	: >"$file"
	t0=$(date +%s.%N)
	for i in $(seq "$users"); do
		cli user add "$tag$i@example.com" >/dev/null &&
			cli session new "$tag$i@example.com" || return 1
	done >"$WORK/mint-$tag.sessions"
	printf 'url = "http://127.0.0.1:%s/api/v1/user/api-tokens"\n' "$PORT" >"$WORK/mint.url"
	for i in $(seq "$PER_USER"); do cat "$WORK/mint.url"; done >"$WORK/mint.urls"
	# In a subshell: its wait is for the curls alone, not the web server.
	(
		i=0
		while read -r session; do
			i=$((i + 1))
			curl -s --max-time 600 -X POST -H "Authorization: Bearer $session" -H "$CT" \
				--data-binary "$BODY_CREATE" -K "$WORK/mint.urls" |
				jq -r '.data.token // empty' >"$WORK/mint-$tag.$i" &
			[ $((i % (2 * NWORKERS))) = 0 ] && wait
		done <"$WORK/mint-$tag.sessions"
		wait
	)
	for i in $(seq "$users"); do cat "$WORK/mint-$tag.$i"; rm -f "$WORK/mint-$tag.$i"; done |
		head -n "$count" >"$file"
	t1=$(date +%s.%N)
	MINT_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	got=$(wc -l <"$file")
	say "made $got tokens through the API for $users users in $MINT_S s ($(ratio "$got" "$MINT_S") a second, sessions included)"
	[ "$got" = "$count" ] || { echo "run.sh: only $got of $count tokens were made" >&2; return 1; }
}

# use_workers PROGRAM: NWORKERS fresh workers of PROGRAM behind lighttpd.
use_workers() {
	stop_bench_workers
	FCGI=$1
	start_workers "$NWORKERS"
	for _ in $(seq 50); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/health")" = 200 ] && return 0
		sleep 0.1
	done
	echo "run.sh: the workers of $1 do not answer" >&2
	exit 99
}

# stop_bench_workers: TERM, and KILL what has not gone within 3 s.
stop_bench_workers() {
	local p= i busy
	for p in $WORKER_PIDS; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 30); do
		busy=
		for p in $WORKER_PIDS; do kill -0 "$p" 2>/dev/null && busy=1; done
		[ -z "$busy" ] && break
		sleep 0.1
	done
	for p in $WORKER_PIDS; do
		if kill -0 "$p" 2>/dev/null; then
			say "worker $p ignored TERM ($(cat /proc/$p/wchan 2>/dev/null)); killed"
			kill -KILL "$p" 2>/dev/null
		fi
	done
	WORKER_PIDS=
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# regions_kib PID: of that RSS, the environment's shared regions (the
# __db.NNN files every worker maps whole: one copy in memory for all).
regions_kib() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { r = ($6 ~ /\/__db\.[0-9]+$/) }
	    r && /^Rss:/ { k += $2 } END { print k + 0 }' "/proc/$1/smaps"
}

# ---------------------------------------------------------------- set-up

# The bounds (Argon2, fdatasync) are timed right before and right after
# the rounds they are compared with (the machine's load drifts), like the
# floor; the mean of the two is used.
CORES=$(nproc)
HASH_TIMES=(); HASH_TIMES_SCALE=(); PW_HASH_TIMES=()
# argon2_time COST LIST: one hash's median time at COST, appended to LIST.
argon2_time() {
	local t
	t=$("$WORK/argon2_time" "$1" 15)
	eval "$2+=(\$t)"
	say "Argon2id at $1: one hash $t s"
}
SYNC_FLOORS=(); SYNC_FLOORS_SCALE=()
# sync_floor LIST: the floor responder making a durable write per request
# (a 256-byte record into a zeroed file, then fdatasync, as a commit
# writes Berkeley DB's zeroed log), sent the create's request: what a
# create cannot go below behind this web server, on this file system.
# Its rate is appended to LIST.
sync_floor() {
	[ -f "$WORK/floor.sync" ] ||
		dd if=/dev/zero of="$WORK/floor.sync" bs=1M count=8 conv=fsync status=none ||
		{ echo "run.sh: cannot make the synced floor's file" >&2; exit 99; }
	export FLOOR_SYNC_FILE="$WORK/floor.sync"
	use_workers "$WORK/floor.fcgi"
	unset FLOOR_SYNC_FILE
	wrk_run "floor-sync" /api/v1/user/api-tokens BENCH_METHOD=POST \
		BENCH_BODY="$BODY_CREATE" BENCH_HEADERS="$CT
Authorization: Bearer $BENCH_SESSION"
	eval "$1+=(\$RPS)"
	use_workers "$PATGATE_FCGI"
}
FSYNC_RATES=(); FSYNC_RATES_SCALE=()
# fsync_rate LIST: the write + fdatasyncs a second that NWORKERS processes
# make together on the database's file system, appended to LIST.
fsync_rate() {
	local out
	out=$("$WORK/fsync_time" "$PATGATE_DB" 300 "$NWORKERS") || { echo "run.sh: fsync_time failed" >&2; exit 99; }
	eval "$1+=(\${out#* })"
	say "fdatasync on $PATGATE_DB: one ${out% *} s; $NWORKERS writers ${out#* } a second"
}
# used_costs: the Argon2id costs of the hashes written to the log so far,
# the most frequent first.
used_costs() {
	grep -haoE '[$]argon2id[$]v=19[$]m=[0-9]+,t=[0-9]+,p=[0-9]+' "$PATGATE_DB"/log.* |
		sed 's/.*[$]//' | sort | uniq -c | sort -rn | awk '{ print $2 }'
}

cli init 2>/dev/null || { echo "run.sh: patgate init failed" >&2; exit 99; }
cli user add bench@example.com >/dev/null
cli user add lister@example.com >/dev/null
cli user add filler@example.com >/dev/null
BENCH_SESSION=$(cli session new bench@example.com)
LISTER=$(cli session new lister@example.com)
# No password is stored yet: the hashes in the log are the sessions', made
# at the token cost in force (the program's default without BENCH_ARGON2).
TOKEN_COST=$(used_costs | head -n 1)
[ -n "$TOKEN_COST" ] || { echo "run.sh: no session hash found in the log" >&2; exit 99; }
say "token and session hashes: $TOKEN_COST (${BENCH_ARGON2:+from BENCH_ARGON2}${BENCH_ARGON2:-the default})"
LOGIN_EMAIL=login@example.com
LOGIN_PASSWORD="benchmark password 0001"
printf '%s\n' "$LOGIN_PASSWORD" | cli user add "$LOGIN_EMAIL" --password-stdin >/dev/null ||
	{ echo "run.sh: cannot add the login user" >&2; exit 99; }
PW_COST=${PATGATE_PASSWORD_ARGON2:-$(used_costs | grep -vxF "$TOKEN_COST" | head -n 1)}
: "${PW_COST:=$TOKEN_COST}"
say "password hashes: $PW_COST"
cat >"$WORK/rules" <<'RULES'
GET /service/* read
RULES
export PATGATE_RULES="$WORK/rules"
# The store holds BASE_TOKENS tokens for the figures scale is compared with.
cli token bulk filler@example.com $((BASE_TOKENS - 11)) --name "benchmark token 0001" >/dev/null

start_lighttpd
use_workers "$PATGATE_FCGI"
create "$BENCH_SESSION" '{"name":"benchmark token 0001","abilities":["read"]}'
PAT=$TOKEN
for i in $(seq 10); do
	create "$LISTER" "{\"name\":\"benchmark token $(printf %04d "$i")\",\"abilities\":[\"read\"]}"
done
[ -n "$PAT" ] && [ "$(count_tokens lister@example.com)" = 10 ] ||
	{ echo "run.sh: could not create the benchmark's tokens" >&2; exit 99; }
BADCRC="${PAT%?}$([ "${PAT: -1}" = 0 ] && echo 1 || echo 0)"
CHECK=(BENCH_HEADERS="Authorization: Bearer $PAT
X-Original-Method: GET
X-Original-URI: /service/data")
ORIG="X-Original-Method: GET
X-Original-URI: /service/data"
BODY_CREATE='{"name":"benchmark token 0001","abilities":["read"]}'
CREATE_ENV=(BENCH_METHOD=POST BENCH_EXPECT=201 BENCH_BODY="$BODY_CREATE")
CT="Content-Type: application/json"
BODY_LOGIN="{\"email\":\"$LOGIN_EMAIL\",\"password\":\"$LOGIN_PASSWORD\"}"
call POST /api/v1/auth/login -H "$CT" --data-binary "$BODY_LOGIN"
[ "$STATUS" = 200 ] || { echo "run.sh: the login user cannot log in ($STATUS $BODY)" >&2; exit 99; }
# The cold check: COLD tokens made at the cost in force, sent in turn.
COLD_FILE="$WORK/cold.tokens"
if [ -z "${BENCH_ONLY:-}" ]; then
	mint_tokens cold "$COLD" "$COLD_FILE" || exit 99
	COLD_MINT_S=$MINT_S
fi

# ---------------------------------------------------------------- memory
# Fresh workers; RSS after 10,000 requests and after 100,000, a mix of
# creates, checks, refusals and lists.
command -v ab >/dev/null || { echo "run.sh: ab (apache2-utils) is not installed" >&2; exit 99; }
# ab_run NAME N [ab args...]: exactly N requests, two at a time (wrk can
# only run for a duration).  Answers other than 2xx are reported.
ab_run() {
	local name=$1 n=$2 out non2xx
	shift 2
	out=$(ab -q -n "$n" -c 2 "$@" 2>&1)
	printf '%s\n' "$out" >"$WORK/ab-$name.out"
	non2xx=$(printf '%s\n' "$out" | sed -n 's/^Non-2xx responses: *//p')
	say "$name: $n requests, $(printf '%s\n' "$out" | sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p') req/s, non-2xx ${non2xx:-0}"
}
mix() {
	local per=$1 ncreate=$2 url="http://127.0.0.1:$PORT"
	ab_run mem-create "$ncreate" -H "Authorization: Bearer $BENCH_SESSION" \
		-p "$WORK/create.json" -T application/json "$url/api/v1/user/api-tokens"
	ab_run mem-check $((per / 2)) -H "Authorization: Bearer $PAT" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /service/data" "$url/api/v1/auth/check"
	ab_run mem-bad $((per / 4)) -H "Authorization: Bearer $BADCRC" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /service/data" "$url/api/v1/auth/check"
	ab_run mem-list $((per / 4)) -H "Authorization: Bearer $LISTER" "$url/api/v1/user/api-tokens"
}
printf '%s' "$BODY_CREATE" >"$WORK/create.json"
RSS10=(); RSS100=(); REGIONS100=()
if [ -z "${BENCH_QUICK:-}${BENCH_ONLY:-}" ]; then
	say "memory: fresh workers"
	use_workers "$PATGATE_FCGI"
	mix 9900 100
	for p in $WORKER_PIDS; do RSS10+=("$(rss_kib "$p")"); done
	mix 89900 100
	for p in $WORKER_PIDS; do
		RSS100+=("$(rss_kib "$p")")
		REGIONS100+=("$(regions_kib "$p")")
	done
fi
ARGON2_KIB=$(printf '%s\n' "$TOKEN_COST" | sed -n 's/.*m=\([0-9]*\).*/\1/p')
say "RSS KiB after 10k: ${RSS10[*]}; after 100k: ${RSS100[*]}, of which the shared regions ${REGIONS100[*]}"

# ---------------------------------------------------------------- throughput

# floor [LIST]: one floor run, appended to LIST (FLOORS); patgate serves after.
floor() {
	local -n into=${1:-FLOORS}
	use_workers "$WORK/floor.fcgi"
	wrk_run "floor" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer $PAT"
	into+=("$RPS")
	use_workers "$PATGATE_FCGI"
}
# cold_check NAME FILE LIST: the tokens of FILE checked in turn; the rate
# is appended to LIST, its answers outside 2xx added to COLD_NON2XX<LIST>.
cold_check() {
	wrk_run "$1" /api/v1/auth/check BENCH_TOKENS="$2" BENCH_HEADERS="$ORIG"
	eval "$3+=(\$RAW_RPS); ${3}_NON2XX=\$(( \${${3}_NON2XX:-0} + (NON2XX < 0 ? 1 : NON2XX) ))"
}
# measure_fast TAG: the request kinds the floor is compared with; each
# rate is appended to the list named KIND_RUNS<TAG>.  The workers are
# fresh (a floor run comes before), but the table of verified secrets
# they share outlives them, as it outlives a restart in service, and holds
# a secret while it is used at least once a minute: only the first round's
# cold check finds its tokens unverified.  Being last, the cold check
# leaves no spent Argon2 budget to the others.
measure_fast() {
	local tag=$1
	wrk_run "check$tag" /api/v1/auth/check "${CHECK[@]}"; eval "CHECK_RUNS$tag+=(\$RPS)"
	wrk_run "malformed$tag" /api/v1/auth/check BENCH_EXPECT=401 \
		BENCH_HEADERS="Authorization: Bearer 12|not-a-token
$ORIG"; eval "MALFORMED_RUNS$tag+=(\$RPS)"
	wrk_run "badcrc$tag" /api/v1/auth/check BENCH_EXPECT=401 \
		BENCH_HEADERS="Authorization: Bearer $BADCRC
$ORIG"; eval "BADCRC_RUNS$tag+=(\$RPS)"
	wrk_run "list$tag" /api/v1/user/api-tokens BENCH_HEADERS="Authorization: Bearer $LISTER"
	eval "LIST_RUNS$tag+=(\$RPS)"
	cold_check "cold$tag" "$COLD_FILE" "COLD_RUNS$tag"
}
# measure_create TAG [ROUNDS [PAIR_DB]]: creates at the token cost in
# force, each round appended to CREATE_RUNS<TAG>, with the fdatasync rate
# and the Argon2 hash timed before the first round and after each (into
# FSYNC_RATES<TAG> and HASH_TIMES<TAG>).  With PAIR_DB, each round is
# paired with one against that environment, before it in even rounds and
# after it in odd ones (into CREATE_RUNS_PAIR), so that whatever the
# machine does over those seconds falls on both alike.
measure_create() {
	local tag=$1 rounds=${2:-1} pair=${3:-} r
	fsync_rate "FSYNC_RATES$tag"
	sync_floor "SYNC_FLOORS$tag"
	argon2_time "$TOKEN_COST" "HASH_TIMES$tag"
	for r in $(seq "$rounds"); do
		[ -n "$pair" ] && [ $((r % 2)) = 0 ] && create_round "$tag" "$r" "$pair" _PAIR
		create_round "$tag" "$r" "$PATGATE_DB" "$tag"
		[ -n "$pair" ] && [ $((r % 2)) = 1 ] && create_round "$tag" "$r" "$pair" _PAIR
		fsync_rate "FSYNC_RATES$tag"
		sync_floor "SYNC_FLOORS$tag"
		argon2_time "$TOKEN_COST" "HASH_TIMES$tag"
	done
}
# create_round TAG R DB INTO: one round of creates against environment DB,
# appended to CREATE_RUNS<INTO>.  It spreads its creates over users that
# start with no token, taken in turn, so that a user holds about as many
# as the default cap allows (a create walks its user's tokens): as many
# users as the bound last timed for TAG allows PER_USER creates in the
# round, at most 300.  No more: each session's first check in a worker is
# a hash at the token cost, which at a password-like cost would meet the
# Argon2 throttle.
create_round() {
	local tag=$1 r=$2 db=$3 into=$4 home=$PATGATE_DB i users syncs hash
	eval "syncs=\${FSYNC_RATES$tag[-1]}; hash=\${HASH_TIMES$tag[-1]}"
	users=$(awk -v f="$syncs" -v h="$hash" -v c="$CORES" -v d="$DURATION" -v p="$PER_USER" \
		'BEGIN { b = c / h; if (f < b) b = f; u = int(b * d / p) + 1; print (u > 300 ? 300 : u) }')
	export PATGATE_DB=$db
	[ "$db" = "$home" ] || use_workers "$PATGATE_FCGI"
	for i in $(seq "$users"); do
		cli user add "creator$into.$r.$i@example.com" >/dev/null &&
			cli session new "creator$into.$r.$i@example.com"
	done >"$WORK/creators"
	wrk_run "create$into" /api/v1/user/api-tokens "${CREATE_ENV[@]}" \
		BENCH_TOKENS="$WORK/creators" BENCH_HEADERS="$CT"
	eval "CREATE_RUNS$into+=(\$RPS)"
	export PATGATE_DB=$home
	[ "$db" = "$home" ] || use_workers "$PATGATE_FCGI"
}
# measure_login ROUNDS: logins with the right password, each round
# appended to LOGIN_RUNS, the hash at the password cost timed before the
# first round and after each (into PW_HASH_TIMES).  One user: a success
# clears its email's failures and gives back its address's reservation,
# and no more than NWORKERS attempts are in flight, under both limits.
measure_login() {
	local r
	argon2_time "$PW_COST" PW_HASH_TIMES
	for r in $(seq "$1"); do
		wrk_run "login" /api/v1/auth/login BENCH_METHOD=POST BENCH_BODY="$BODY_LOGIN" \
			BENCH_HEADERS="$CT"
		LOGIN_RUNS+=("$RPS")
		argon2_time "$PW_COST" PW_HASH_TIMES
	done
}
# median [FORMAT]: of the numbers on stdin, printed with FORMAT (%.3f).
median() {
	sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 }
		END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# per_round KIND [FLOORS]: each round's rate over the mean of the floors measured
# just before and just after it; their median is the kind's ratio.
per_round() {
	local -n runs=$1 floors=${2:-FLOORS}
	local r
	for r in "${!runs[@]}"; do
		awk -v m="${runs[$r]}" -v a="${floors[$r]}" -v b="${floors[$((r + 1))]}" \
			'BEGIN { printf "%.3f\n", m / ((a + b) / 2) }'
	done | median
}
# print_table: the rows so far.
print_table() {
	{
		echo "measure|value|baseline|ratio|target|result"
		echo "-|-|-|-|-|-"
		printf '%s\n' "${ROWS[@]}"
	} | column -t -s '|'
}

# The machine's speed drifts (other work shares it): the floor is measured
# between rounds of the four kinds, and each round is compared with the
# floors on either side of it.
ROUNDS=${BENCH_ROUNDS:-5}

# ---------------------------------------------------------------- scale
# measure_scale [cold]: the store grown to SCALE tokens, SCALE_USABLE of
# them made through the API; then, in rounds between floor runs, the warm
# check and the cold check over the usable ones (only the cold one when
# told cold), the list and the creates.
measure_scale() {
	db_bytes() { stat -c %s "$PATGATE_DB"/{tokens,token_ids,user_tokens,token_used}.db | awk '{ s += $1 } END { print s }'; }
	stop_bench_workers
	cli prune --days 100000 >/dev/null	# a checkpoint: the files hold every page
	BYTES0=$(db_bytes)
	# The bulk loader stores tokens whose secrets nobody knows (it prints
	# one): SCALE - SCALE_USABLE of them, then SCALE_USABLE made through
	# the API, whose secrets are kept to be checked in turn.
	BULK_N=$((SCALE - SCALE_USABLE))
	say "loading $BULK_N tokens"
	T0=$(date +%s.%N)
	BULK_PAT=$(cli token bulk filler@example.com "$BULK_N" --name "benchmark token 0001")
	T1=$(date +%s.%N)
	BYTES1=$(db_bytes)
	PER_TOKEN=$(( (BYTES1 - BYTES0) / BULK_N ))
	LOAD_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
	say "loaded in $LOAD_S s; $PER_TOKEN bytes a token on disk"
	"$CLI" verify "$BULK_PAT" >/dev/null 2>&1 || { echo "run.sh: the bulk loader's token fails" >&2; exit 99; }
	use_workers "$PATGATE_FCGI"
	SCALE_FILE="$WORK/scale.tokens"
	mint_tokens usable "$SCALE_USABLE" "$SCALE_FILE" || exit 99
	SCALE_MINT_S=$MINT_S
	# As at 1,000 tokens, each figure is taken against what the machine
	# allowed at that moment: the check in rounds between floor runs, the
	# creates between hash timings; that ratio is then compared with the
	# one at 1,000 tokens, so the machine's drift is not charged to the store.
	CHECK_RUNS_SCALE=(); LIST_RUNS_SCALE=(); FLOORS_SCALE=(); COLD_RUNS_SCALE=()
	floor FLOORS_SCALE
	for _ in $(seq "$ROUNDS"); do
		[ "${1:-}" = cold ] ||
			{ wrk_run "check_SCALE" /api/v1/auth/check "${CHECK[@]}"; CHECK_RUNS_SCALE+=("$RPS"); }
		cold_check "cold_SCALE" "$SCALE_FILE" COLD_RUNS_SCALE
		floor FLOORS_SCALE
	done
	COLD_RPS_SCALE=$(printf '%s\n' "${COLD_RUNS_SCALE[@]}" | median)
	[ "${1:-}" = cold ] && return
	# The list at scale only for the record: no target is set on it.
	wrk_run "list_SCALE" /api/v1/user/api-tokens BENCH_HEADERS="Authorization: Bearer $LISTER"
	LIST_RUNS_SCALE+=("$RPS")
	# A store of BASE_TOKENS beside it, for creates in alternate rounds.
	SMALL_DB="$WORK/db-$BASE_TOKENS"
	( export PATGATE_DB=$SMALL_DB
	  cli init && cli user add filler@example.com &&
		cli token bulk filler@example.com "$BASE_TOKENS" --name "benchmark token 0001" ) >/dev/null 2>&1 ||
		{ echo "run.sh: cannot make the store of $BASE_TOKENS tokens" >&2; exit 99; }
	CREATE_RUNS_PAIR=()
	measure_create "_SCALE" "$ROUNDS" "$SMALL_DB"
	CHECK_RPS_SCALE=$(printf '%s\n' "${CHECK_RUNS_SCALE[@]}" | median)
	CREATE_RPS_SCALE=$(printf '%s\n' "${CREATE_RUNS_SCALE[@]}" | median)
	LIST_RPS_SCALE=${LIST_RUNS_SCALE[0]}
}
# cold_scale_row: the rounds' median against the target, and the first
# round alone for the record: each token's first sight, Argon2 for every
# one (the rounds after find them in the workers' shared table).
cold_scale_row() {
	local round1=("${COLD_RUNS_SCALE[0]}") floors1=("${FLOORS_SCALE[0]}" "${FLOORS_SCALE[1]}")
	row "check, $SCALE_USABLE of $SCALE tokens in turn (req/s)" \
		"$COLD_RPS_SCALE, non-2xx ${COLD_RUNS_SCALE_NON2XX:-0}" "floor $(printf '%s\n' "${FLOORS_SCALE[@]}" | median)" \
		"$(per_round COLD_RUNS_SCALE FLOORS_SCALE)" 0.70 ge "${COLD_RUNS_SCALE_NON2XX:-0}"
	row "check, $SCALE_USABLE of $SCALE in turn, first round: each a first sight (req/s)" \
		"${round1[0]}" "floor $(printf '%s\n' "${floors1[@]}" | median)" \
		"$(per_round round1 floors1)" - report
}
if [ "${BENCH_ONLY:-}" = scale ]; then
	measure_scale cold
	cold_scale_row
	print_table
	echo "($CORES cores, $NWORKERS workers, wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds; the ratio the median of each round's against the floors either side of it)"
	echo "(at $SCALE tokens: floor runs: ${FLOORS_SCALE[*]}; $SCALE_USABLE in turn: ${COLD_RUNS_SCALE[*]}; $SCALE_USABLE made through the API in $SCALE_MINT_S s)"
	echo "(the run took $(( $(date +%s) - RUN_T0 )) s)"
	exit "$FAILED"
fi

# ---------------------------------------------------------------- bindings
# The warm check of a token bound to address blocks, paths and a rate
# limit against that of a token of the same kind without them, in turn:
# unbound, bound, unbound ... ROUNDS bound runs, each compared with the
# unbound runs either side of it, as the fast kinds are with the floor.
# The client's block and the request's pattern come last in their lists,
# so every entry is tried.  The limit is the most allowed, 1,000,000 a
# minute, which a quick machine passes within a few bound runs: each run
# has a bound token of its own, fresh, so that no 429 is ever earned.
BIND_BODY='{"name":"benchmark token 0001","abilities":["read"],
 "allowed_ips":["10.0.0.0/8","2001:db8::/32","127.0.0.0/8"],
 "paths":["/admin/*","/reports/daily","/service/*"],"rate_limit":1000000}'
create "$BENCH_SESSION" "$BODY_CREATE"
UNBOUND_PAT=$TOKEN
create "$BENCH_SESSION" "$BIND_BODY"
BOUND_PAT=$TOKEN
[ "$(printf '%s' "$BODY" | jq -c '[.data.allowed_ips, .data.paths, .data.rate_limit]')" = \
    '[["10.0.0.0/8","2001:db8::/32","127.0.0.0/8"],["/admin/*","/reports/daily","/service/*"],1000000]' ] ||
	{ echo "run.sh: could not create the bound token ($STATUS $BODY)" >&2; exit 99; }
for tok in "$UNBOUND_PAT" "$BOUND_PAT"; do
	call GET /api/v1/auth/check -H "Authorization: Bearer $tok" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /service/data"
	[ "$STATUS" = 200 ] || { echo "run.sh: a benchmark token is refused ($STATUS $BODY)" >&2; exit 99; }
done
UNBOUND_RUNS=(); BOUND_RUNS=()
wrk_run "check-unbound" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer $UNBOUND_PAT
$ORIG"; UNBOUND_RUNS+=("$RPS")
for _ in $(seq "$ROUNDS"); do
	create "$BENCH_SESSION" "$BIND_BODY"
	BOUND_PAT=$TOKEN
	[ "$STATUS" = 201 ] || { echo "run.sh: could not create a bound token ($STATUS $BODY)" >&2; exit 99; }
	# Its first check is the hash; the run measures the warm check.
	call GET /api/v1/auth/check -H "Authorization: Bearer $BOUND_PAT" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /service/data"
	[ "$STATUS" = 200 ] || { echo "run.sh: a bound token is refused ($STATUS $BODY)" >&2; exit 99; }
	wrk_run "check-bound" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer $BOUND_PAT
$ORIG"; BOUND_RUNS+=("$RPS")
	wrk_run "check-unbound" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer $UNBOUND_PAT
$ORIG"; UNBOUND_RUNS+=("$RPS")
done
BOUND_RPS=$(printf '%s\n' "${BOUND_RUNS[@]}" | median)
UNBOUND_RPS=$(printf '%s\n' "${UNBOUND_RUNS[@]}" | median)
bound_row() {
	row "check, warm PAT with 3 ips, 3 paths, rate_limit (req/s)" "$BOUND_RPS" \
		"unbound $UNBOUND_RPS" "$(per_round BOUND_RUNS UNBOUND_RUNS)" 0.9
}
BOUND_NOTE="(warm check, bound: ${BOUND_RUNS[*]}; the same without bindings, either side: ${UNBOUND_RUNS[*]})"
if [ -n "${BENCH_ONLY:-}" ]; then
	bound_row
	print_table
	echo "($CORES cores, $NWORKERS workers, wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds; value and baseline are medians, the ratio the median of each bound run's against the unbound runs either side of it)"
	echo "$BOUND_NOTE"
	echo "(the run took $(( $(date +%s) - RUN_T0 )) s)"
	exit "$FAILED"
fi

FLOORS=()
CHECK_RUNS=(); MALFORMED_RUNS=(); BADCRC_RUNS=(); LIST_RUNS=(); COLD_RUNS=()
floor
for _ in $(seq "$ROUNDS"); do
	measure_fast ""
	floor
done
CREATE_RUNS=(); CREATE_RUNS_SCALE=(); LOGIN_RUNS=()
measure_create "" "$ROUNDS"
measure_login "$ROUNDS"
FLOOR=$(printf '%s\n' "${FLOORS[@]}" | median)
CHECK_RPS=$(printf '%s\n' "${CHECK_RUNS[@]}" | median)
MALFORMED_RPS=$(printf '%s\n' "${MALFORMED_RUNS[@]}" | median)
BADCRC_RPS=$(printf '%s\n' "${BADCRC_RUNS[@]}" | median)
LIST_RPS=$(printf '%s\n' "${LIST_RUNS[@]}" | median)
say "floor: ${FLOORS[*]} req/s, median $FLOOR"
COLD_RPS=$(printf '%s\n' "${COLD_RUNS[@]}" | median)
CREATE_RPS=$(printf '%s\n' "${CREATE_RUNS[@]}" | median)
HASH_S=$(printf '%s\n' "${HASH_TIMES[@]}" | median %.6f)
ARGON2_BOUND=$(awk -v c="$CORES" -v s="$HASH_S" 'BEGIN { printf "%.1f", c / s }')
FSYNC_BOUND=$(printf '%s\n' "${FSYNC_RATES[@]}" | median)
say "one hash at $TOKEN_COST ${HASH_TIMES[*]} s, median $HASH_S; $CORES cores / that = $ARGON2_BOUND creates/s"
say "fdatasyncs a second, $NWORKERS writers: ${FSYNC_RATES[*]}, median $FSYNC_BOUND"
SYNC_FLOOR=$(printf '%s\n' "${SYNC_FLOORS[@]}" | median)
say "the floor with a synced write a request: ${SYNC_FLOORS[*]} req/s, median $SYNC_FLOOR"
# A create is one hash at the token cost and one synchronous commit behind
# the web server: the lower of cores / one hash and the synced floor
# bounds it.
CREATE_BOUND_BY=$(awk -v f="$SYNC_FLOOR" -v a="$ARGON2_BOUND" 'BEGIN { print (f <= a ? "synced-floor" : "argon2") }')
say "creates are bound by $CREATE_BOUND_BY"
# create_ratio [TAG]: each round's creates over the lower bound (the
# synced floor or Argon2) from the runs just before and just after it;
# the median.
create_ratio() {
	local -n runs=CREATE_RUNS${1:-} hashes=HASH_TIMES${1:-} syncs=SYNC_FLOORS${1:-}
	local r
	for r in "${!runs[@]}"; do
		awk -v n="${runs[$r]}" -v a="${hashes[$r]}" -v b="${hashes[$((r + 1))]}" \
		    -v f="${syncs[$r]}" -v g="${syncs[$((r + 1))]}" -v c="$CORES" 'BEGIN {
			h = c / ((a + b) / 2); s = (f + g) / 2
			printf "%.3f\n", n / (s < h ? s : h) }'
	done | median
}
# pair_ratio: each round's creates at scale over those of the round paired
# with it at BASE_TOKENS; the median.
pair_ratio() {
	local r
	for r in "${!CREATE_RUNS_PAIR[@]}"; do
		ratio "${CREATE_RUNS_SCALE[$r]}" "${CREATE_RUNS_PAIR[$r]}"; echo
	done | median
}
LOGIN_RPS=$(printf '%s\n' "${LOGIN_RUNS[@]}" | median)
PW_HASH_S=$(printf '%s\n' "${PW_HASH_TIMES[@]}" | median %.6f)
LOGIN_BOUND=$(awk -v c="$CORES" -v s="$PW_HASH_S" 'BEGIN { printf "%.1f", c / s }')
# login_ratio: each round's logins over cores / one hash at the password
# cost timed just before and just after it; the median.
login_ratio() {
	local r
	for r in "${!LOGIN_RUNS[@]}"; do
		awk -v n="${LOGIN_RUNS[$r]}" -v a="${PW_HASH_TIMES[$r]}" -v b="${PW_HASH_TIMES[$((r + 1))]}" \
		    -v c="$CORES" 'BEGIN { printf "%.3f\n", n / (c / ((a + b) / 2)) }'
	done | median
}

[ -z "${BENCH_QUICK:-}" ] && measure_scale

# ---------------------------------------------------------------- table

CHECK_RPS_SCALE=${CHECK_RPS_SCALE:-0}
row "check, $COLD tokens in turn, cold (req/s)" "$COLD_RPS, non-2xx ${COLD_RUNS_NON2XX:-0}" "floor $FLOOR" \
	"$(per_round COLD_RUNS)" 0.75 ge "${COLD_RUNS_NON2XX:-0}"
row "check, warm valid PAT (req/s)" "$CHECK_RPS" "floor $FLOOR" "$(per_round CHECK_RUNS)" 0.85
bound_row
row "check, malformed token (req/s)" "$MALFORMED_RPS" "floor $FLOOR" "$(per_round MALFORMED_RUNS)" 0.9
row "check, bad checksum (req/s)" "$BADCRC_RPS" "floor $FLOOR" "$(per_round BADCRC_RUNS)" 0.9
row "list, 10 tokens (req/s)" "$LIST_RPS" "floor $FLOOR" "$(per_round LIST_RUNS)" 0.75
if [ "$CREATE_BOUND_BY" = argon2 ]; then CREATE_BASE="argon2 $ARGON2_BOUND"; else CREATE_BASE="synced floor $SYNC_FLOOR"; fi
row "create, $TOKEN_COST (req/s)" "$CREATE_RPS" "$CREATE_BASE" "$(create_ratio)" - report
row "login, $PW_COST (req/s)" "$LOGIN_RPS" "argon2 $LOGIN_BOUND" "$(login_ratio)" 0.9
i=0
for p in $WORKER_PIDS; do :; done
for k in "${!RSS100[@]}"; do
	lim=$((ARGON2_KIB + 8192))
	# The shared regions are one copy for all the workers, mapped whole
	# by each (src/store_resident.c): a worker's own memory is the rest.
	own=$((RSS100[k] - REGIONS100[k]))
	row "worker $k RSS at 100k requests, beside the shared regions (KiB)" "$own" \
		"m+8MiB $lim" "$(ratio "$own" "$lim")" 1 le
	row "worker $k RSS growth 10k->100k (KiB)" "$((RSS100[k] - RSS10[k]))" "1 MiB 1024" \
		"$(ratio "$((RSS100[k] - RSS10[k]))" 1024)" 1 le
done
if [ -z "${BENCH_QUICK:-}" ]; then
	CHECK_X_SCALE=$(per_round CHECK_RUNS_SCALE FLOORS_SCALE)
	CREATE_X_SCALE=$(create_ratio _SCALE)
	cold_scale_row
	row "check at $SCALE tokens (x floor)" "$CHECK_X_SCALE" "at $BASE_TOKENS: $(per_round CHECK_RUNS)" \
		"$(ratio "$CHECK_X_SCALE" "$(per_round CHECK_RUNS)")" 0.9
	row "create at $SCALE tokens against at $BASE_TOKENS, rounds in turn (req/s)" "$CREATE_RPS_SCALE" \
		"at $BASE_TOKENS: $(printf '%s\n' "${CREATE_RUNS_PAIR[@]}" | median %.1f)" "$(pair_ratio)" 0.9
	row "create at $SCALE tokens (x bound) against at $BASE_TOKENS (x bound), minutes apart" \
		"$CREATE_X_SCALE" "$(create_ratio)" "$(ratio "$CREATE_X_SCALE" "$(create_ratio)")" - report
	row "disk bytes a token, 20-char name" "$PER_TOKEN" "1 KiB 1024" "$(ratio "$PER_TOKEN" 1024)" 1 le
	say "for scale at $SCALE: list $LIST_RPS_SCALE req/s; bulk load of $BULK_N took $LOAD_S s, $SCALE_USABLE through the API $SCALE_MINT_S s"
fi

print_table
echo "($CORES cores, $NWORKERS workers, wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds; value and baseline are medians, a ratio the median of each round's against the floors either side of it)"
echo "(floor runs: ${FLOORS[*]}; cold check: ${COLD_RUNS[*]}; check: ${CHECK_RUNS[*]}; malformed: ${MALFORMED_RUNS[*]}; bad checksum: ${BADCRC_RUNS[*]}; list: ${LIST_RUNS[*]})"
echo "(creates: ${CREATE_RUNS[*]}; synced floor: ${SYNC_FLOORS[*]}; fdatasyncs a second, $NWORKERS writers: ${FSYNC_RATES[*]}; one Argon2id hash at $TOKEN_COST: ${HASH_TIMES[*]} s; creates bound by $CREATE_BOUND_BY)"
echo "(logins: ${LOGIN_RUNS[*]}; one Argon2id hash at $PW_COST: ${PW_HASH_TIMES[*]} s; $COLD cold tokens made through the API in $COLD_MINT_S s)"
echo "$BOUND_NOTE"
[ -n "${BENCH_QUICK:-}" ] ||
	echo "(at $SCALE tokens: floor runs: ${FLOORS_SCALE[*]}; $SCALE_USABLE in turn: ${COLD_RUNS_SCALE[*]}; check: ${CHECK_RUNS_SCALE[*]}; list: ${LIST_RUNS_SCALE[*]}; creates: ${CREATE_RUNS_SCALE[*]}; at $BASE_TOKENS in the rounds between: ${CREATE_RUNS_PAIR[*]}; synced floor: ${SYNC_FLOORS_SCALE[*]}; fdatasyncs: ${FSYNC_RATES_SCALE[*]}; one Argon2id hash: ${HASH_TIMES_SCALE[*]} s; $SCALE_USABLE made through the API in $SCALE_MINT_S s)"
echo "(the run took $(( $(date +%s) - RUN_T0 )) s)"
exit "$FAILED"
