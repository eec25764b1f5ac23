#!/bin/bash
# run.sh: patgate's throughput and memory against what the machine allows,
# measured side by side in one run: lighttpd + spawn-fcgi (2 workers) and
# a fresh database, loaded with wrk.  Not part of make check.
#   tests/bench/run.sh                   the whole run (about 10 minutes)
#   BENCH_SCALE=200000 tests/bench/run.sh    a quicker scale step
#   BENCH_QUICK=1 tests/bench/run.sh    throughput only: no memory or scale step
# Settings: BENCH_DURATION seconds a measure (10), BENCH_ROUNDS of the floor
# and the four fast kinds taken in turn, and of the steps at scale (5),
# BENCH_CONNECTIONS (16),
# BENCH_THREADS wrk threads (2), BENCH_SCALE tokens for the scale step
# (1000000), BENCH_WORKERS (2), PATGATE_ARGON2 (m=19456,t=2,p=1).
# Prints a table: measure, value, baseline, ratio, target, pass/fail.
# Exit status 0 when every target is met, 1 otherwise.
set -u
export PATGATE_ARGON2=${PATGATE_ARGON2:-m=19456,t=2,p=1}
export PATGATE_MAX_TOKENS_PER_USER=100000000
export PATGATE_LOG=stderr
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
SCALE=${BENCH_SCALE:-1000000}
NWORKERS=${BENCH_WORKERS:-2}
BASE_TOKENS=1000
. "$(dirname "$0")/../integration/lib.sh"
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

ROWS=()
FAILED=0
# row MEASURE VALUE BASELINE RATIO TARGET-RATIO [cmp: ge|le]
row() {
	local verdict cmp=${6:-ge}
	if awk -v r="$4" -v t="$5" -v c="$cmp" 'BEGIN { exit !(c == "ge" ? r >= t : r <= t) }'; then
		verdict=pass
	else
		verdict=FAIL; FAILED=1
	fi
	ROWS+=("$1|$2|$3|$4|$([ "$cmp" = le ] && echo '<=' || echo '>=') $5|$verdict")
	say "$1: $2 (baseline $3, ratio $4) $verdict"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

# wrk_run NAME URL-PATH [env assignments...]: req/s into RPS; fails on
# unexpected statuses and socket errors, which are printed.
wrk_run() {
	local name=$1 path=$2 out
	shift 2
	out=$(env "$@" wrk -t "$THREADS" -c "$CONNS" -d "${WRK_DURATION:-$DURATION}s" --latency \
		-s "$BENCH/req.lua" "http://127.0.0.1:$PORT$path" 2>&1)
	printf '%s\n' "$out" >"$WORK/wrk-$name.out"
	RPS=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	BAD=$(printf '%s\n' "$out" | sed -n 's/^bench: .*unexpected=\([0-9]*\).*/\1/p')
	BUSY=$(printf '%s\n' "$out" | sed -n 's/^bench: .*busy=\([0-9]*\).*/\1/p')
	ERRS=$(printf '%s\n' "$out" | sed -n 's/^ *Socket errors: \(.*\)/\1/p')
	: "${RPS:=0}"
	say "$name: $RPS req/s, unexpected statuses ${BAD:-?} (503: ${BUSY:-?})${ERRS:+, socket errors $ERRS}"
	if [ "${BAD:-1}" != 0 ] || [ -n "$ERRS" ]; then
		say "$name: failures count against it; wrk said:"; sed 's/^/    /' "$WORK/wrk-$name.out" >&2
		RPS=0
	fi
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

# ---------------------------------------------------------------- set-up

# The Argon2 bound is timed right before and right after the creates it is
# compared with (the machine's load drifts), like the floor; the mean is used.
CORES=$(nproc)
HASH_TIMES=(); HASH_TIMES_SCALE=()
# argon2_time [TAG]: one hash's median time, appended to HASH_TIMES<TAG>.
argon2_time() {
	local t
	t=$("$WORK/argon2_time" "$PATGATE_ARGON2" 15)
	eval "HASH_TIMES${1:-}+=(\$t)"
	say "Argon2id at $PATGATE_ARGON2: one hash $t s"
}

cli init 2>/dev/null || { echo "run.sh: patgate init failed" >&2; exit 99; }
cli user add bench@example.com >/dev/null
cli user add lister@example.com >/dev/null
cli user add filler@example.com >/dev/null
BENCH_SESSION=$(cli session new bench@example.com)
LISTER=$(cli session new lister@example.com)
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
RSS10=(); RSS100=()
if [ -z "${BENCH_QUICK:-}" ]; then
	say "memory: fresh workers"
	use_workers "$PATGATE_FCGI"
	mix 9900 100
	for p in $WORKER_PIDS; do RSS10+=("$(rss_kib "$p")"); done
	mix 89900 100
	for p in $WORKER_PIDS; do RSS100+=("$(rss_kib "$p")"); done
fi
ARGON2_KIB=$(printf '%s\n' "$PATGATE_ARGON2" | sed -n 's/.*m=\([0-9]*\).*/\1/p')
say "RSS KiB after 10k: ${RSS10[*]}; after 100k: ${RSS100[*]}"

# ---------------------------------------------------------------- throughput

# floor [LIST]: one floor run, appended to LIST (FLOORS); patgate serves after.
floor() {
	local -n into=${1:-FLOORS}
	use_workers "$WORK/floor.fcgi"
	wrk_run "floor" /api/v1/auth/check BENCH_HEADERS="Authorization: Bearer $PAT"
	into+=("$RPS")
	use_workers "$PATGATE_FCGI"
}
# measure_fast TAG: the four request kinds the floor is compared with; each
# rate is appended to the list named KIND_RUNS<TAG>.
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
}
# measure_create TAG [ROUNDS]: creates at the configured cost, each round
# appended to CREATE_RUNS<TAG>, with the Argon2 hash timed before the first
# round and after each (into HASH_TIMES<TAG>).
measure_create() {
	local tag=$1 rounds=${2:-1} r session
	argon2_time "$tag"
	for r in $(seq "$rounds"); do
		# Each round's user starts with no token, as the cap walks them.
		cli user add "creator$tag$r@example.com" >/dev/null
		session=$(cli session new "creator$tag$r@example.com")
		wrk_run "create$tag" /api/v1/user/api-tokens "${CREATE_ENV[@]}" \
			BENCH_HEADERS="Authorization: Bearer $session
$CT"
		eval "CREATE_RUNS$tag+=(\$RPS)"
		argon2_time "$tag"
	done
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
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

# The machine's speed drifts (other work shares it): the floor is measured
# between rounds of the four kinds, and each round is compared with the
# floors on either side of it.
ROUNDS=${BENCH_ROUNDS:-5}
FLOORS=()
CHECK_RUNS=(); MALFORMED_RUNS=(); BADCRC_RUNS=(); LIST_RUNS=()
floor
for _ in $(seq "$ROUNDS"); do
	measure_fast ""
	floor
done
CREATE_RUNS=(); CREATE_RUNS_SCALE=()
measure_create "" "$ROUNDS"
FLOOR=$(printf '%s\n' "${FLOORS[@]}" | median)
CHECK_RPS=$(printf '%s\n' "${CHECK_RUNS[@]}" | median)
MALFORMED_RPS=$(printf '%s\n' "${MALFORMED_RUNS[@]}" | median)
BADCRC_RPS=$(printf '%s\n' "${BADCRC_RUNS[@]}" | median)
LIST_RPS=$(printf '%s\n' "${LIST_RUNS[@]}" | median)
say "floor: ${FLOORS[*]} req/s, median $FLOOR"
CREATE_RPS=$(printf '%s\n' "${CREATE_RUNS[@]}" | median)
HASH_S=$(printf '%s\n' "${HASH_TIMES[@]}" | median)
ARGON2_BOUND=$(awk -v c="$CORES" -v s="$HASH_S" 'BEGIN { printf "%.1f", c / s }')
say "one hash ${HASH_TIMES[*]} s, median $HASH_S; bound $CORES cores / that = $ARGON2_BOUND creates/s"
# create_ratio [TAG]: each round's creates over the bound from the hashes
# timed just before and just after it; the median of those.
create_ratio() {
	local -n runs=CREATE_RUNS${1:-} hashes=HASH_TIMES${1:-}
	local r
	for r in "${!runs[@]}"; do
		awk -v n="${runs[$r]}" -v a="${hashes[$r]}" -v b="${hashes[$((r + 1))]}" \
		    -v c="$CORES" 'BEGIN { printf "%.3f\n", n / (c / ((a + b) / 2)) }'
	done | median
}

# ---------------------------------------------------------------- scale
if [ -z "${BENCH_QUICK:-}" ]; then
	db_bytes() { stat -c %s "$PATGATE_DB"/{tokens,token_ids,user_tokens,token_used}.db | awk '{ s += $1 } END { print s }'; }
	stop_bench_workers
	cli prune --days 100000 >/dev/null	# a checkpoint: the files hold every page
	BYTES0=$(db_bytes)
	say "loading $SCALE tokens"
	T0=$(date +%s.%N)
	BULK_PAT=$(cli token bulk filler@example.com "$SCALE" --name "benchmark token 0001")
	T1=$(date +%s.%N)
	BYTES1=$(db_bytes)
	PER_TOKEN=$(( (BYTES1 - BYTES0) / SCALE ))
	LOAD_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
	say "loaded in $LOAD_S s; $PER_TOKEN bytes a token on disk"
	"$CLI" verify "$BULK_PAT" >/dev/null 2>&1 || { echo "run.sh: the bulk loader's token fails" >&2; exit 99; }
	# As at 1,000 tokens, each figure is taken against what the machine
	# allowed at that moment: the check in rounds between floor runs, the
	# creates between hash timings; that ratio is then compared with the
	# one at 1,000 tokens, so the machine's drift is not charged to the store.
	CHECK_RUNS_SCALE=(); LIST_RUNS_SCALE=(); FLOORS_SCALE=()
	floor FLOORS_SCALE
	for _ in $(seq "$ROUNDS"); do
		wrk_run "check_SCALE" /api/v1/auth/check "${CHECK[@]}"; CHECK_RUNS_SCALE+=("$RPS")
		floor FLOORS_SCALE
	done
	# The list at scale only for the record: no target is set on it.
	wrk_run "list_SCALE" /api/v1/user/api-tokens BENCH_HEADERS="Authorization: Bearer $LISTER"
	LIST_RUNS_SCALE+=("$RPS")
	measure_create "_SCALE" "$ROUNDS"
	CHECK_RPS_SCALE=$(printf '%s\n' "${CHECK_RUNS_SCALE[@]}" | median)
	CREATE_RPS_SCALE=$(printf '%s\n' "${CREATE_RUNS_SCALE[@]}" | median)
	LIST_RPS_SCALE=${LIST_RUNS_SCALE[0]}
fi

# ---------------------------------------------------------------- table

CHECK_RPS_SCALE=${CHECK_RPS_SCALE:-0}
row "check, warm valid PAT (req/s)" "$CHECK_RPS" "floor $FLOOR" "$(per_round CHECK_RUNS)" 0.85
row "check, malformed token (req/s)" "$MALFORMED_RPS" "floor $FLOOR" "$(per_round MALFORMED_RUNS)" 0.9
row "check, bad checksum (req/s)" "$BADCRC_RPS" "floor $FLOOR" "$(per_round BADCRC_RUNS)" 0.9
row "list, 10 tokens (req/s)" "$LIST_RPS" "floor $FLOOR" "$(per_round LIST_RUNS)" 0.75
row "create, $PATGATE_ARGON2 (req/s)" "$CREATE_RPS" "argon2 $ARGON2_BOUND" "$(create_ratio)" 0.9
i=0
for p in $WORKER_PIDS; do :; done
for k in "${!RSS100[@]}"; do
	lim=$((ARGON2_KIB + 8192))
	row "worker $k RSS at 100k requests (KiB)" "${RSS100[$k]}" "m+8MiB $lim" "$(ratio "${RSS100[$k]}" "$lim")" 1 le
	row "worker $k RSS growth 10k->100k (KiB)" "$((RSS100[k] - RSS10[k]))" "1 MiB 1024" \
		"$(ratio "$((RSS100[k] - RSS10[k]))" 1024)" 1 le
done
if [ -z "${BENCH_QUICK:-}" ]; then
	CHECK_X_SCALE=$(per_round CHECK_RUNS_SCALE FLOORS_SCALE)
	CREATE_X_SCALE=$(create_ratio _SCALE)
	row "check at $SCALE tokens (x floor)" "$CHECK_X_SCALE" "at $BASE_TOKENS: $(per_round CHECK_RUNS)" \
		"$(ratio "$CHECK_X_SCALE" "$(per_round CHECK_RUNS)")" 0.9
	row "create at $SCALE tokens (x bound)" "$CREATE_X_SCALE" "at $BASE_TOKENS: $(create_ratio)" \
		"$(ratio "$CREATE_X_SCALE" "$(create_ratio)")" 0.9
	row "disk bytes a token, 20-char name" "$PER_TOKEN" "1 KiB 1024" "$(ratio "$PER_TOKEN" 1024)" 1 le
	say "for scale at $SCALE: list $LIST_RPS_SCALE req/s; load took $LOAD_S s"
fi

{
	echo "measure|value|baseline|ratio|target|result"
	echo "-|-|-|-|-|-"
	printf '%s\n' "${ROWS[@]}"
} | column -t -s '|'
echo "($CORES cores, $NWORKERS workers, wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds; value and baseline are medians, a ratio the median of each round's against the floors either side of it)"
echo "(floor runs: ${FLOORS[*]}; check: ${CHECK_RUNS[*]}; malformed: ${MALFORMED_RUNS[*]}; bad checksum: ${BADCRC_RUNS[*]}; list: ${LIST_RUNS[*]}; creates: ${CREATE_RUNS[*]}; one Argon2id hash: ${HASH_TIMES[*]} s)"
[ -n "${BENCH_QUICK:-}" ] ||
	echo "(at $SCALE tokens: floor runs: ${FLOORS_SCALE[*]}; check: ${CHECK_RUNS_SCALE[*]}; list: ${LIST_RUNS_SCALE[*]}; creates: ${CREATE_RUNS_SCALE[*]}; one Argon2id hash: ${HASH_TIMES_SCALE[*]} s)"
exit "$FAILED"
