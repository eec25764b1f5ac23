#!/bin/bash
# soak.sh: a few minutes of mixed load through lighttpd on 2 workers (checks
# of 200 tokens, malformed tokens, lists, creates; a cheap hash), sampling
# each worker's memory and descriptors, the database and its log files,
# and the create rate as the user's tokens grow.  Asserts no worker exit,
# nothing but the intended refusals, bounded latency, flat resources.
# SOAK_SECONDS (150) sets the length.  Timing-sensitive: run it alone.
. "$(dirname "$0")/lib.sh"
export PATGATE_MAX_TOKENS_PER_USER=10000000
export PATGATE_RULES="$WORK/rules"
echo 'GET /protected/read/* read' >"$PATGATE_RULES"
command -v wrk >/dev/null || { echo "1..0 # SKIP wrk is not installed"; exit 0; }
DB_STAT=$(command -v db_stat || command -v db5.3_stat)
SECONDS_TOTAL=${SOAK_SECONDS:-150}
EVERY=15
start_stack 2

# tokens_of_alice: how many tokens alice has, from the index's item count.
tokens_of_alice() {
	"$DB_STAT" -h "$PATGATE_DB" -d user_tokens.db 2>/dev/null |
		awk '/Number of data items in the tree/ { print $1 }'
}

# sample: a line "t anon1 anon2 fds1 fds2 dbkib logs tokens" (anon: private
# resident KiB), -1 for a gone worker.
sample() {
	local p rss fds line="$1"
	for p in $WORKER_PIDS; do
		# Private memory: the shared cache's pages count in VmRSS as touched.
		rss=$(awk '/^RssAnon/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		line="$line ${rss:--1}"
	done
	for p in $WORKER_PIDS; do
		fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
		kill -0 "$p" 2>/dev/null || fds=-1
		line="$line $fds"
	done
	echo "$line $(du -sk "$PATGATE_DB" | cut -f1) $(ls "$PATGATE_DB" | grep -c '^log\.') $(tokens_of_alice)"
}

seed_tokens() {
	export PORT ALICE
	seq 200 | xargs -P 4 -I{} sh -c '
		curl -sS --max-time 30 -H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
			--data-binary "{\"name\":\"soak {}\"}" "http://127.0.0.1:$PORT/api/v1/user/api-tokens"; echo' |
		jq -r '.data.token // empty' >"$WORK/tokens"
	expect_eq "seed tokens" "$(grep -c . "$WORK/tokens")" 200
	remember_all <"$WORK/tokens"
}

# seed_lister: bob's ten tokens, the list the load reads.
seed_lister() {
	local i
	for i in $(seq 10); do
		curl -sS --max-time 30 -H "Authorization: Bearer $BOB" -H "Content-Type: application/json" \
			--data-binary "{\"name\":\"listed $i\"}" "http://127.0.0.1:$PORT/api/v1/user/api-tokens" |
			jq -r '.data.token // empty'
	done >"$WORK/bob-tokens"
	expect_eq "bob's tokens" "$(grep -c . "$WORK/bob-tokens")" 10
	remember_all <"$WORK/bob-tokens"
}

remember_all() {
	local t
	while read -r t; do remember_secret "$t"; done
}

write_lua() {
	cat >"$WORK/mix.lua" <<LUA
local toks = {}
for line in io.lines("$WORK/tokens") do toks[#toks + 1] = line end
-- Creates go to alice, whose tokens grow; lists to bob, whose ten do not,
-- so the create rate measures a create's own cost as alice's history grows
-- (a list's cost grows with what it lists, as it must).
local sess = "$ALICE"
local lister = "$BOB"
local threads = {}
local i = 0
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function request()
	i = i + 1
	local k = i % 20
	if k < 14 then
		return wrk.format("GET", "/api/v1/auth/check", {["Authorization"] = "Bearer " .. toks[(i % #toks) + 1],
			["X-Original-Method"] = "GET", ["X-Original-URI"] = "/protected/read/x"})
	elseif k < 17 then
		return wrk.format("GET", "/api/v1/auth/check", {["Authorization"] = "Bearer 1|garbage" .. i,
			["X-Original-Method"] = "GET", ["X-Original-URI"] = "/protected/read/x"})
	elseif k < 19 then
		return wrk.format("GET", "/api/v1/user/api-tokens?x=" .. i, {["Authorization"] = "Bearer " .. lister})
	end
	return wrk.format("POST", "/api/v1/user/api-tokens", {["Authorization"] = "Bearer " .. sess,
		["Content-Type"] = "application/json"}, '{"name":"soak create"}')
end
function response(status, headers, body)
	counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
	local all = {}
	for _, t in ipairs(threads) do
		for s, n in pairs(t:get("counts")) do all[s] = (all[s] or 0) + n end
	end
	for s, n in pairs(all) do io.write(string.format("status %d %d\n", s, n)) end
	io.write(string.format("latency p99_us %d max_us %d\n", latency:percentile(99), latency.max))
	io.write(string.format("errors timeout %d connect %d read %d write %d\n", summary.errors.timeout,
		summary.errors.connect, summary.errors.read, summary.errors.write))
end
LUA
}

mixed_load_holds() {
	local wrkpid t=0 total s200 s201 s401 other p99 max errs w rc
	seed_tokens
	seed_lister
	write_lua
	wrk -t2 -c8 -d"${SECONDS_TOTAL}s" --timeout 30s -s "$WORK/mix.lua" \
		"http://127.0.0.1:$PORT/" >"$WORK/wrk.out" 2>&1 &
	wrkpid=$!
	sample 0 >"$WORK/samples"
	while kill -0 "$wrkpid" 2>/dev/null && [ "$t" -lt $((SECONDS_TOTAL + 60)) ]; do
		sleep "$EVERY"
		t=$((t + EVERY))
		[ "$t" -le "$SECONDS_TOTAL" ] && sample "$t" >>"$WORK/samples"
	done
	wait "$wrkpid"
	sed 's/^/# sample t anonKiB anonKiB fds fds dbKiB logs tokens: /' "$WORK/samples"
	grep -E '^(status|latency|errors)|Requests/sec' "$WORK/wrk.out" | sed 's/^/# /'
	s200=$(awk '$1 == "status" && $2 == 200 { print $3 }' "$WORK/wrk.out")
	s201=$(awk '$1 == "status" && $2 == 201 { print $3 }' "$WORK/wrk.out")
	s401=$(awk '$1 == "status" && $2 == 401 { print $3 }' "$WORK/wrk.out")
	other=$(awk '$1 == "status" && $2 != 200 && $2 != 201 && $2 != 401 { n += $3 } END { print n + 0 }' "$WORK/wrk.out")
	total=$(( ${s200:-0} + ${s201:-0} + ${s401:-0} + other ))
	[ "$total" -gt 1000 ] || { fail "only $total answers"; return; }
	expect_eq "answers other than 200, 201, 401" "$other" 0
	# The malformed tokens are 3 in 20 of the requests, and all refused.
	w=$(( total * 3 / 20 ))
	[ $(( ${s401:-0} - w )) -le $((total / 500 + 20)) ] && [ $(( w - ${s401:-0} )) -le $((total / 500 + 20)) ] ||
		fail "401s: $s401, the malformed share is $w"
	errs=$(awk '$1 == "errors" { print $3 + $5 + $7 + $9 }' "$WORK/wrk.out")
	expect_eq "wrk errors (timeouts, resets)" "${errs:-none}" 0
	p99=$(awk '$1 == "latency" { print int($3 / 1000) }' "$WORK/wrk.out")
	max=$(awk '$1 == "latency" { print int($5 / 1000) }' "$WORK/wrk.out")
	# Bounds for a shared 2-core machine: seconds mean something stalled.
	[ "${p99:-99999}" -lt 500 ] || fail "latency p99 ${p99} ms"
	[ "${max:-99999}" -lt 2000 ] || fail "slowest answer ${max} ms"
	# Warmed up after a minute: the cache's pages and the memo are in use.
	awk -v warm=$((60 / EVERY)) '
		NR == 1 { next }
		{ for (i = 2; i <= 5; i++) if ($i < 0) dead = $1 }
		NR == warm + 1 { r1 = $2; r2 = $3; f1 = $4; f2 = $5; d0 = $6; k0 = $8; t0 = $1 }
		{ if ($7 > logs) logs = $7; last = $0; r1l = $2; r2l = $3; f1l = $4; f2l = $5; dl = $6; kl = $8; tl = $1 }
		END {
			if (dead != "") { print "a worker is gone at t=" dead; bad = 1 }
			if (r1l - r1 > 2048 || r2l - r2 > 2048) { print "private memory grew " r1l - r1 " and " r2l - r2 " KiB after warm-up"; bad = 1 }
			if (f1l - f1 > 4 || f2l - f2 > 4) { print "descriptors grew " f1l - f1 " and " f2l - f2; bad = 1 }
			if (logs > 4) { print logs " log files at once"; bad = 1 }
			# The database grows with the tokens made, by their records, not more.
			if (kl > k0 && (dl - d0) * 1024 / (kl - k0) > 2048) { print "database grew " (dl - d0) " KiB for " kl - k0 " tokens"; bad = 1 }
			exit bad
		}' "$WORK/samples" >"$WORK/flat.out" || fail "$(cat "$WORK/flat.out")"
	# Creates keep their pace as the user's tokens grow: the last interval's
	# rate against the first after warm-up.
	awk -v pace="${SOAK_CREATE_PACE:-0.6}" 'NR >= 2 { t[NR] = $1; k[NR] = $8; n = NR }
		END {
			first = (k[3] - k[2]) / (t[3] - t[2]); last = (k[n] - k[n - 1]) / (t[n] - t[n - 1])
			printf "# creates/s: %.1f at %d tokens, %.1f at %d tokens\n", first, k[2], last, k[n - 1]
			exit !(last >= first * pace)
		}' "$WORK/samples" >"$WORK/rate.out"
	rc=$?
	cat "$WORK/rate.out"
	[ "$rc" = 0 ] || fail "the create rate fell below ${SOAK_CREATE_PACE:-0.6} of its first pace as the tokens grew"
	# The program's own lines ("patgate: ...", "patgate.fcgi: ..."), not
	# every line that names the socket's directory.
	! grep -v 'event=' "$WORK/lighttpd.err" | grep -Eq 'patgate(\.fcgi)?: ' ||
		fail "patgate complained: $(grep -v 'event=' "$WORK/lighttpd.err" | grep -Em3 'patgate(\.fcgi)?: ')"
}

t_case "mixed load on 2 workers: no exit, flat resources, bounded latency, steady creates" mixed_load_holds
t_done
