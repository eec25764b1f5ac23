#!/bin/bash
# lists.sh: a worker answers a list it wrote earlier in the same second
# from memory (src/list_kept.c); every change to what the list shows,
# made through the API, by a check, by the CLI or by the other worker,
# shows on the very next list, and users and queries are kept apart.
# Each case runs its steps within one second, more than once, so that the
# lists before a change were kept when the change came.
. "$(dirname "$0")/lib.sh"
start_guarded_stack 2
API=/api/v1/user/api-tokens

# list SESSION [QUERY]: sets STATUS, BODY and IDS (the ids shown, in order).
list() {
	call GET "$API${2:+?$2}" -H "Authorization: Bearer $1"
	IDS=$(printf '%s' "$BODY" | jq -r '.data[].id' 2>/dev/null | tr '\n' ' ')
}

# lists SESSION [QUERY]: four lists, so that both workers answer (and keep
# what they answered); each must show the same ids, left in IDS.
lists() {
	local i first
	for i in 1 2 3 4; do
		list "$@"
		expect_eq "list $i status" "$STATUS" 200
		[ "$i" = 1 ] && first=$IDS
		expect_eq "list $i the same as the first" "$IDS" "$first"
	done
}

# new_second: wait for a second that has most of itself left.
new_second() {
	local ns
	for _ in $(seq 40); do
		ns=$(date +%N)
		[ "${ns:0:1}" -lt 2 ] && return 0
		sleep 0.05
	done
}

# in_one_second PREPARE STEP: PREPARE, then STEP within a fresh second,
# five times; at least one STEP must begin and end within one second (else
# nothing was tested from memory).
in_one_second() {
	local i t0 one=0
	for i in 1 2 3 4 5; do
		"$1" "$i"
		new_second
		t0=$(date +%s)
		"$2" "$i"
		[ "$(date +%s)" = "$t0" ] && one=$((one + 1))
	done
	[ "$one" -ge 1 ] || fail "no run of $2 fitted in one second"
}

# has ID / lacks ID: in the ids of the last lists.
has() { case " $IDS " in *" $1 "*) ;; *) fail "$2: $1 not listed" ;; esac; }
lacks() { case " $IDS " in *" $1 "*) fail "$2: $1 still listed" ;; esac; }

# last_use ID: its last_used_at in the last list.
last_use() {
	printf '%s' "$BODY" | jq -r --arg id "$1" '.data[] | select(.id == $id) | .last_used_at'
}

# made SESSION NAME: a token made through the API; sets ID and PAT.
made() {
	create "$1" "{\"name\":\"$2\"}"
	expect_eq "create" "$STATUS" 201
	ID=$(printf '%s' "$BODY" | jq -r .data.id)
	PAT=$TOKEN
}

nothing() { :; }
a_token() { made "$ALICE" "kept $1"; }

api_create() {
	lists "$ALICE"
	made "$ALICE" "made between lists $1"
	lists "$ALICE"
	has "$ID" "a token just made"
	expect_eq "its last use" "$(last_use "$ID")" null
}

api_check() {
	lists "$ALICE"
	expect_eq "its last use before a check" "$(last_use "$ID")" null
	call GET /api/v1/auth/check -H "Authorization: Bearer $PAT" \
		-H 'X-Original-Method: GET' -H "X-Original-URI: /protected/read/x"
	expect_eq "check" "$STATUS" 200
	lists "$ALICE"
	expect_match "its last use after a check" "$(last_use "$ID")" '^20[0-9-]*T'
}

api_rotate() {
	local new
	lists "$ALICE"
	has "$ID" "a token before its rotation"
	call POST "$API/$ID/rotate" -H "Authorization: Bearer $ALICE" \
		--data-binary '' -H 'Content-Type:'
	expect_eq "rotate" "$STATUS" 201
	new=$(printf '%s' "$BODY" | jq -r .data.id)
	remember_secret "$(printf '%s' "$BODY" | jq -r .data.token)"
	lists "$ALICE"
	lacks "$ID" "a token rotated away"
	has "$new" "the rotated token"
}

api_revoke() {
	lists "$ALICE"
	lists "$ALICE" state=revoked
	lacks "$ID" "a token not yet revoked, in the revoked list"
	call DELETE "$API/$ID" -H "Authorization: Bearer $ALICE"
	expect_eq "revoke" "$STATUS" 200
	lists "$ALICE"
	lacks "$ID" "a token revoked"
	lists "$ALICE" state=revoked
	has "$ID" "a revoked token, in the revoked list"
}

api_changes() {
	in_one_second nothing api_create
	in_one_second a_token api_check
	in_one_second a_token api_rotate
	in_one_second a_token api_revoke
}

cli_bulk() {
	local before
	lists "$BOB"
	before=$(printf '%s' "$IDS" | wc -w)
	cli token bulk bob@example.com 3 --name "bulk $1" >/dev/null || fail "token bulk"
	lists "$BOB"
	expect_eq "tokens after a bulk load" "$(printf '%s' "$IDS" | wc -w)" $((before + 3))
}

cli_revoke() {
	lists "$BOB"
	ID=${IDS%% *}
	lists "$BOB" state=revoked
	cli token revoke "$ID" >/dev/null || fail "token revoke"
	lists "$BOB"
	lacks "$ID" "a token revoked by the CLI"
	lists "$BOB" state=revoked
	has "$ID" "a token revoked by the CLI, in the revoked list"
}

cli_prune() {
	lists "$BOB" state=revoked
	has "$ID" "a revoked token before the prune"
	lists "$BOB" state=all
	cli prune --days 0 >/dev/null || fail "prune"
	lists "$BOB" state=revoked
	lacks "$ID" "a pruned token"
	lists "$BOB" state=all
	lacks "$ID" "a pruned token, in the list of all"
}

# revoke_one: one of bob's live tokens revoked by the CLI, into ID.
revoke_one() {
	list "$BOB"
	ID=${IDS%% *}
	cli token revoke "$ID" >/dev/null || fail "token revoke"
}

cli_changes() {
	in_one_second nothing cli_bulk
	in_one_second nothing cli_revoke
	in_one_second revoke_one cli_prune
}

users_and_queries_apart() {
	local mine theirs
	create "$ALICE" '{"name":"alice only"}'
	mine=$(printf '%s' "$BODY" | jq -r .data.id)
	create "$BOB" '{"name":"bob only"}'
	theirs=$(printf '%s' "$BODY" | jq -r .data.id)
	new_second
	for _ in 1 2 3; do
		lists "$ALICE"
		has "$mine" "alice's list"
		lacks "$theirs" "alice's list"
		lists "$BOB"
		has "$theirs" "bob's list"
		lacks "$mine" "bob's list"
		lists "$ALICE" state=revoked
		lacks "$mine" "alice's revoked list"
		lists "$ALICE" 'last_used_before=2000-01-01T00:00:00Z'
		has "$mine" "alice's list of tokens unused since 2000"
	done
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $BOB"
	expect_eq "logout" "$STATUS" 200
	list "$BOB"
	expect_eq "a list after logout" "$STATUS" 401
	list "$BOB"
	expect_eq "a list after logout, again" "$STATUS" 401
}

# Active and expired lists move with the clock, and are never kept.
clock_lists_follow_the_clock() {
	local id at
	at=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
	create "$ALICE" "{\"name\":\"short\",\"expires_at\":\"$at\"}"
	expect_eq "create a token about to expire" "$STATUS" 201
	id=$(printf '%s' "$BODY" | jq -r .data.id)
	lists "$ALICE" state=active
	has "$id" "the active list, before it expires"
	lists "$ALICE" state=expired
	lacks "$id" "the expired list, before it expires"
	for _ in $(seq 40); do
		[ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \> "$at" ] && break
		sleep 0.1
	done
	lists "$ALICE" state=active
	lacks "$id" "the active list, once it expired"
	lists "$ALICE" state=expired
	has "$id" "the expired list, once it expired"
	lists "$ALICE"
	has "$id" "the default list, which shows expired tokens"
}

t_case "API changes (create, check, rotate, revoke) show on the next list of either worker" api_changes
t_case "CLI changes (bulk, revoke, prune) show on the next list" cli_changes
t_case "each user and each query has its own list; a list after logout is refused" users_and_queries_apart
t_case "active and expired lists follow the clock" clock_lists_follow_the_clock
t_done
