#!/bin/bash
# log_bound.sh: checkpoints and log removal keep the log directory bounded.
# 100,000 creates, each its own transaction through store_token_create (as
# a worker makes them), then 5,000 more by 100 short runs (as plain-CGI
# requests and CLI runs make them): the log files (log.* in $PATGATE_DB)
# never total more than LOG_BOUND, the database checks clean (and a damaged
# page would not), and the first and the last token still verify.
#
# The creates skip the fsync (patgate token bulk --each): at 1-4 ms an
# fsync here, 100,000 synchronous commits would take minutes, and the log
# they write is the same.  The users take turns, 50 tokens each, because a
# create walks its user's tokens to apply the cap.
. "$(dirname "$0")/lib.sh"

LOG_BOUND=$((4 * 1024 * 1024))	# bytes; README.md states it
USERS=2000
PER_USER=50
export PATGATE_MAX_TOKENS_PER_USER=$PER_USER

cli init 2>/dev/null || { echo "Bail out! patgate init failed"; exit 99; }

# log_bytes: the log files' total size now.
log_bytes() {
	# A file removed between the glob and stat is simply not counted.
	stat -c %s "$PATGATE_DB"/log.* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# log_names: the log files there are now, one a line.
log_names() {
	local f
	for f in "$PATGATE_DB"/log.*; do [ -f "$f" ] && basename "$f"; done
}

# sample_logs FILE: until killed, keep the largest log_bytes seen in FILE.
sample_logs() {
	local max=0 now
	while :; do
		now=$(log_bytes)
		if [ "$now" -gt "$max" ]; then max=$now; echo "$max" >"$1"; fi
		sleep 0.1
	done
}

# add_users PREFIX N: users PREFIX1@example.com .. PREFIXN@example.com.
add_users() {
	local i
	for i in $(seq "$2"); do
		cli user add "$1$i@example.com" >/dev/null || { fail "user add $1$i"; return 1; }
	done
}

short_runs() {
	local i now max=0
	add_users s 100 || return
	for i in $(seq 100); do
		cli token bulk "s$i@example.com" "$PER_USER" --each >/dev/null ||
			{ fail "run $i of token bulk --each failed: $(tail -n 1 "$WORK/cli.err")"; return; }
		now=$(log_bytes)
		[ "$now" -gt "$max" ] && max=$now
	done
	echo "# 5,000 creates by 100 runs of 50: log files at most $max bytes after a run, $(log_bytes) at the end"
	[ "$max" -le "$LOG_BOUND" ] || fail "the log files reached $max bytes, more than $LOG_BOUND"
}

hundred_thousand() {
	local sampler t0 t1 max now
	add_users u "$USERS" || return
	echo 0 >"$WORK/log.max"
	sample_logs "$WORK/log.max" &
	sampler=$!
	t0=$(date +%s.%N)
	# shellcheck disable=SC2046
	cli token bulk $(seq -f 'u%g@example.com' "$USERS") $((USERS * PER_USER)) --each \
		>"$WORK/bulk.out"
	BULK_RC=$?
	t1=$(date +%s.%N)
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	FIRST=$(sed -n 1p "$WORK/bulk.out")
	LAST=$(sed -n 2p "$WORK/bulk.out")
	remember_secret "$FIRST"
	remember_secret "$LAST"
	expect_eq "token bulk --each exit status" "$BULK_RC" 0
	expect_eq "tokens printed" "$(grep -c . "$WORK/bulk.out")" 2
	now=$(log_bytes)
	max=$(cat "$WORK/log.max")
	echo "# $((USERS * PER_USER)) creates in one run: $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s;" \
		"log files $now bytes ($(log_names | grep -c .) files) at the end," \
		"at most $max bytes seen along the way; 1 MiB files written in all:" \
		"$(log_names | sed 's/^log\.0*//' | sort -n | tail -n 1)"
	[ "$now" -le "$LOG_BOUND" ] || fail "the log files hold $now bytes, more than $LOG_BOUND"
	[ "$max" -le "$LOG_BOUND" ] || fail "the log files reached $max bytes, more than $LOG_BOUND"
}

# The creates went through the cap: every user holds the cap, and one more is refused.
cap_applied() {
	local rc=0
	cli token bulk u1@example.com 1 --each >/dev/null || rc=$?
	expect_eq "a create over the cap" "$rc" 1
	expect_match "its message" "$(tail -n 1 "$WORK/cli.err")" "holds $PER_USER live tokens, the cap"
	expect_eq "u1's tokens" "$(count_tokens u1@example.com)" "$PER_USER"
	expect_eq "u$USERS's tokens" "$(count_tokens "u$USERS@example.com")" "$PER_USER"
}

check_clean() {
	local out
	out=$(cli check) || fail "patgate check: $(printf '%s' "$out" | head -n 3)"
	expect_eq "patgate check" "$(printf '%s\n' "$out" | head -n 1)" "ok: $((USERS * PER_USER + 100 * PER_USER)) tokens, every database verified"
	expect_eq "its count of hashes at another cost" "$(printf '%s\n' "$out" | sed -n 2p)" \
		"cost: 0 PAT and 0 session hashes of another cost than $PATGATE_ARGON2"
}

first_and_last_verify() {
	local out
	out=$(cli verify "$FIRST") || fail "the first token does not verify: $(tail -n 1 "$WORK/cli.err")"
	expect_match "the first token's answer" "$out" '"abilities":\["\*"\]'
	out=$(cli verify "$LAST") || fail "the last token does not verify: $(tail -n 1 "$WORK/cli.err")"
	expect_match "the last token's answer" "$out" '"abilities":\["\*"\]'
	expect_eq "the first token's number" "${FIRST%%|*}" $((100 * PER_USER + 1))
	expect_eq "the last token's number" "${LAST%%|*}" $((USERS * PER_USER + 100 * PER_USER))
}

# The clean check above means something: damage in the middle of tokens.db fails it.
check_sees_damage() {
	local size out rc=0
	size=$(stat -c %s "$PATGATE_DB/tokens.db")
	# 128 KiB of 0xff cover at least one whole page, whatever the page size.
	head -c 131072 /dev/zero | tr '\0' '\377' |
		dd of="$PATGATE_DB/tokens.db" bs=65536 seek=$((size / 2 / 65536)) conv=notrunc 2>/dev/null
	out=$(cli check) || rc=$?
	expect_eq "patgate check on a damaged tokens.db: exit status" "$rc" 1
	expect_match "what it says" "$out" '^tokens\.db: .*DB_VERIFY_BAD'
}

t_case "5,000 creates by 100 short runs: the log files stay within $LOG_BOUND bytes" short_runs
t_case "$((USERS * PER_USER)) creates, a transaction each: the log files stay within $LOG_BOUND bytes" hundred_thousand
t_case "the creates were held to the per-user cap" cap_applied
t_case "patgate check is clean afterwards" check_clean
t_case "the first and the last token still verify" first_and_last_verify
t_case "patgate check fails on a damaged page" check_sees_damage
t_done
