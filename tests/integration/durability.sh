#!/bin/bash
# durability.sh: a 201 survives kill -9 of every worker.
. "$(dirname "$0")/lib.sh"
start_stack 2

kill_after_201() {
	local tok id
	create "$ALICE" '{"name":"durable"}'
	expect_eq "create" "$STATUS" 201
	tok=$TOKEN
	id=$(printf '%s' "$BODY" | jq -r .data.id)
	stop_workers KILL
	start_workers 2
	cli verify "$tok" >/dev/null || fail "token lost after kill -9"
	create "$ALICE" '{"name":"after restart"}'
	expect_eq "create after restart" "$STATUS" 201
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	expect_jq "listed after restart" "[.data[].id] | index(\"$id\") != null"
}

kill_during_storm() {
	local storm tok n=0 acked=0
	export PORT ALICE
	# Creates from 6 clients while both workers are killed and restarted.
	(seq 60 | xargs -P 6 -I{} sh -c '
		curl -sS --max-time 30 -o "$0/storm.{}" -w "%{http_code}\n" \
			-H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
			--data-binary "{\"name\":\"storm {}\"}" \
			"http://127.0.0.1:$PORT/api/v1/user/api-tokens"' "$WORK" >"$WORK/storm.codes" 2>/dev/null) &
	storm=$!
	sleep 0.3
	stop_workers KILL
	start_workers 2
	wait "$storm"
	for f in "$WORK"/storm.*; do
		[ "$f" = "$WORK/storm.codes" ] && continue
		tok=$(jq -r '.data.token // empty' "$f" 2>/dev/null)
		[ -n "$tok" ] || continue
		acked=$((acked + 1))
		cli verify "$tok" >/dev/null && n=$((n + 1))
	done
	echo "# $acked creates acknowledged around the kill"
	expect_eq "acknowledged tokens that verify" "$n" "$acked"
	# Fresh workers check the session with Argon2 once each; on a loaded
	# machine that may spend a second's budget, answered 503 Retry-After: 1.
	for _ in 1 2 3; do
		create "$ALICE" '{"name":"after the storm"}'
		[ "$STATUS" = 503 ] || break
		sleep 1
	done
	expect_eq "create after the storm" "$STATUS" 201
}

t_case "kill -9 of every worker right after a 201: the token verifies" kill_after_201
t_case "kill -9 during a create storm: every acknowledged token verifies" kill_during_storm
t_done
