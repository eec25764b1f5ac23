#!/bin/bash
# scale.sh: the documented scale.  A million tokens loaded and pruned in
# bounded transactions leave an environment that opens and serves; a create
# costs the same with 200,000 revoked tokens behind the user as with 10; the
# cap counts live tokens only, exactly.  Takes some minutes: run it alone.
. "$(dirname "$0")/lib.sh"
export PATGATE_MAX_TOKENS_PER_USER=20
: "${SCALE_TOKENS:=1000000}"
start_stack 2

# elapsed COMMAND...: run it; its wall time in seconds goes to $SECS.
elapsed() {
	local t0 t1 rc
	t0=$(date +%s.%N)
	"$@"
	rc=$?
	t1=$(date +%s.%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%f", b - a }')
	return $rc
}

health() { call GET /api/v1/health; }

million_loaded_and_pruned() {
	local out
	elapsed cli token bulk bob@example.com "$SCALE_TOKENS" --revoked >/dev/null ||
		fail "token bulk $SCALE_TOKENS"
	printf '# token bulk %s --revoked: %.1f s\n' "$SCALE_TOKENS" "$SECS"
	health
	expect_eq "health after the load" "$STATUS" 200
	elapsed "$CLI" prune --days 0 >"$WORK/prune.out" 2>"$WORK/prune.err" ||
		fail "prune: $(cat "$WORK/prune.err")"
	printf '# prune --days 0 of %s: %.1f s\n' "$SCALE_TOKENS" "$SECS"
	expect_eq "tokens pruned" "$(head -n 1 "$WORK/prune.out")" "$SCALE_TOKENS"
	grep -q 'Lock table\|out of memory\|BDB' "$WORK/prune.err" &&
		fail "prune: $(cat "$WORK/prune.err")"
	expect_eq "bob's tokens left" "$(count_tokens bob@example.com)" 0
	health
	expect_eq "health after the prune" "$STATUS" 200
	create "$BOB" '{"name":"after the prune"}'
	expect_eq "create after the prune" "$STATUS" 201
	out=$(cli check 2>&1) || fail "check: $out"
	# The largest transaction held a few hundred locks, not a million.
	out=$(db5.3_stat -h "$PATGATE_DB" -c 2>/dev/null |
		awk '/Maximum number of locks at any one time/ { print $1 }')
	printf '# most locks held at once: %s\n' "$out"
	[ -n "$out" ] && [ "$out" -lt 5000 ] || fail "$out locks held at once"
}

# rate EMAIL N: N creates through the API's create (--each), creates a second.
rate() {
	PATGATE_MAX_TOKENS_PER_USER=${RATE_CAP:-100000} elapsed cli token bulk "$1" "$2" --each \
		>/dev/null || fail "token bulk --each for $1"
	awk -v n="$2" -v s="$SECS" 'BEGIN { printf "%f\n", (s > 0 ? n / s : 0) }'
}

history_costs_nothing() {
	local few many r1 r2 r3 r4 ratio
	cli user add carol@example.com >/dev/null || fail "user add carol"
	cli user add dave@example.com >/dev/null || fail "user add dave"
	cli token bulk carol@example.com 10 --revoked >/dev/null || fail "carol's 10"
	elapsed cli token bulk dave@example.com 200000 --revoked >/dev/null ||
		fail "dave's 200,000"
	printf '# token bulk 200000 --revoked: %.1f s\n' "$SECS"
	# In turns, so that whatever else the machine does weighs on both.
	r1=$(rate carol@example.com 500)
	r2=$(rate dave@example.com 500)
	r3=$(rate carol@example.com 500)
	r4=$(rate dave@example.com 500)
	read -r few many ratio < <(awk -v a="$r1" -v b="$r2" -v c="$r3" -v d="$r4" \
		'BEGIN { f = (a + c) / 2; m = (b + d) / 2; printf "%f %f %f\n", f, m, (f > 0 ? m / f : 0) }')
	printf '# creates/s with 10 revoked behind: %.0f, with 200,000: %.0f, ratio %.2f\n' \
		"$few" "$many" "$ratio"
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.5) }' || fail "ratio $ratio below 0.5"
}

# SCALE_LIVE (100,000) live tokens behind one user against 1,000 behind
# another, the cap raised past both: the cap's count is one record, so a
# create costs the same.  In turns, as above.
live_costs_nothing() {
	local few many r1 r2 r3 r4 ratio live=${SCALE_LIVE:-100000}
	cli user add fay@example.com >/dev/null || fail "user add fay"
	cli user add gus@example.com >/dev/null || fail "user add gus"
	export RATE_CAP=1000000 PATGATE_MAX_TOKENS_PER_USER=1000000
	cli token bulk fay@example.com 1000 >/dev/null || fail "fay's 1,000"
	elapsed cli token bulk gus@example.com "$live" >/dev/null ||
		fail "gus's $live"
	printf '# token bulk %s (live): %.1f s\n' "$live" "$SECS"
	# Three turns of 2,000 each: a round of 500 lasts some 50 ms, where
	# one stall of the machine moves the ratio by a tenth.
	local i fays= guss=
	for i in 1 2 3; do
		fays="$fays $(rate fay@example.com 2000)"
		guss="$guss $(rate gus@example.com 2000)"
	done
	read -r few many ratio < <(echo "$fays" "$guss" | awk '{ for (i = 1; i <= 3; i++) { f += $i; m += $(i + 3) }
		printf "%f %f %f\n", f / 3, m / 3, (f > 0 ? m / f : 0) }')
	printf '# creates/s with 1,000 live tokens behind: %.0f, with %s: %.0f, ratio %.2f\n' \
		"$few" "$live" "$many" "$ratio"
	expect_eq "gus's live tokens" "$(count_tokens gus@example.com)" $((live + 6000))
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.5) }' || fail "ratio $ratio below 0.5"
	export PATGATE_MAX_TOKENS_PER_USER=20
	unset RATE_CAP
}

# The cap, at 20: expired and revoked tokens are not counted, nor history.
cap_exact() {
	local i soon id
	cli user add erin@example.com >/dev/null || fail "user add erin"
	cli token bulk erin@example.com 5000 --revoked >/dev/null || fail "erin's history"
	ERIN=$(cli session new erin@example.com)
	remember_secret "$ERIN"
	soon=$(date -u -d '@'$(( $(date +%s) + 4 )) +%Y-%m-%dT%H:%M:%SZ)
	for i in 1 2 3; do
		create "$ERIN" "{\"name\":\"soon $i\",\"expires_at\":\"$soon\"}"
		expect_eq "create expiring $i" "$STATUS" 201
	done
	for i in $(seq 4 20); do
		create "$ERIN" "{\"name\":\"live $i\"}"
		expect_eq "create $i" "$STATUS" 201
		[ "$i" = 4 ] && id=$(printf '%s' "$BODY" | jq -r .data.id)
	done
	create "$ERIN" '{"name":"21st"}'
	expect_error 409
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ERIN"
	expect_eq "revoke one" "$STATUS" 200
	create "$ERIN" '{"name":"in the revoked one'"'"'s place"}'
	expect_eq "create after a revoke" "$STATUS" 201
	create "$ERIN" '{"name":"21st again"}'
	expect_error 409
	sleep 5
	for i in 1 2 3; do
		create "$ERIN" "{\"name\":\"after expiry $i\"}"
		expect_eq "create after expiry $i" "$STATUS" 201
	done
	create "$ERIN" '{"name":"21st after expiry"}'
	expect_error 409
	cli prune --days 0 >/dev/null || fail "prune"
	create "$ERIN" '{"name":"21st after the prune"}'
	expect_error 409
	expect_eq "erin's tokens left" "$(count_tokens erin@example.com)" 20
}

t_case "1,000,000 revoked tokens loaded, pruned in batches: health 200, a create 201" million_loaded_and_pruned
t_case "a create with 200,000 revoked tokens behind the user is as fast as with 10" history_costs_nothing
t_case "a create with 100,000 live tokens behind the user is as fast as with 1,000" live_costs_nothing
t_case "409 exactly at PATGATE_MAX_TOKENS_PER_USER; expired, revoked and pruned not counted" cap_exact
t_done
