#!/bin/bash
# uses.sh: a check's use waits in tokens.pending to be written with others
# (src/store_pending.c), yet shows at once to every reader, through either
# worker, the API and the CLI, and survives kill -9 of every worker.
. "$(dirname "$0")/lib.sh"
start_guarded_stack 2
API=/api/v1/user/api-tokens

# make_tokens N: N tokens of alice's made through the API; their ids in
# IDS and secrets in PATS (in the same order).
make_tokens() {
	local i
	IDS=
	PATS=
	for i in $(seq "$1"); do
		create "$ALICE" "{\"name\":\"used $i\",\"abilities\":[\"read\"]}"
		expect_eq "create $i" "$STATUS" 201
		IDS="$IDS $(printf '%s' "$BODY" | jq -r .data.id)"
		PATS="$PATS $TOKEN"
	done
}

# check_all: one allowed check of each of PATS, one after another.
check_all() {
	local p
	for p in $PATS; do
		curl -sS --max-time 30 -o /dev/null -w '%{http_code}\n' \
			-H "Authorization: Bearer $p" "http://127.0.0.1:$PORT/protected/read/echo.cgi"
	done >"$WORK/codes"
	expect_eq "checks allowed" "$(sort -u "$WORK/codes")" 200
}

# used_everywhere WHAT: each of IDS shows a last use from 127.0.0.1, by id
# (several times, so both workers answer) and in the API's and CLI's lists.
used_everywhere() {
	local id i
	for id in $IDS; do
		for i in 1 2; do
			call GET "$API/$id" -H "Authorization: Bearer $ALICE"
			expect_eq "get $id" "$STATUS" 200
			expect_jq "$1: $id's last use, by id" \
				'(.data.last_used_at | test("^20[0-9-]+T")) and .data.last_used_ips[0].ip == "127.0.0.1"'
		done
	done
	call GET "$API?state=all" -H "Authorization: Bearer $ALICE"
	expect_eq "list" "$STATUS" 200
	for id in $IDS; do
		expect_jq "$1: $id's last use, listed" \
			"[.data[] | select(.id == \"$id\") | .last_used_at | strings] | length == 1"
	done
	cli token list alice@example.com >"$WORK/cli-list" || fail "token list"
	for id in $IDS; do
		[ "$(jq -r --arg id "$id" 'select(.id == $id) | .last_used_at | strings' "$WORK/cli-list")" != "" ] ||
			fail "$1: $id's last use, in the CLI's list"
	done
}

# Each check followed at once by a read of its token: most pairs fall in
# a second whose uses are not yet written, which the read must write.
shown_at_once() {
	local id code
	make_tokens 12
	set -- $PATS
	for id in $IDS; do
		code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
			-H "Authorization: Bearer $1" "http://127.0.0.1:$PORT/protected/read/echo.cgi")
		expect_eq "check" "$code" 200
		call GET "$API/$id" -H "Authorization: Bearer $ALICE"
		expect_jq "$id's use, read right after its check" '.data.last_used_at | test("^20[0-9-]+T")'
		shift
	done
	used_everywhere "right after the checks"
	# The PAT reading itself sees its own use.
	set -- $PATS
	call GET "$API/self" -H "Authorization: Bearer $1"
	expect_eq "self" "$STATUS" 200
	expect_jq "self shows its use" '.data.last_used_at | test("^20[0-9-]+T")'
}

survives_kill() {
	make_tokens 12
	check_all
	stop_workers KILL
	start_workers 2
	used_everywhere "after kill -9 of every worker"
}

# Within the minute a use writes nothing again: the last use stays put.
once_a_minute() {
	local first
	make_tokens 1
	check_all
	call GET "$API/${IDS# }" -H "Authorization: Bearer $ALICE"
	first=$(printf '%s' "$BODY" | jq -r .data.last_used_at)
	expect_match "first use" "$first" '^20[0-9-]+T'
	sleep 1.1
	check_all
	call GET "$API/${IDS# }" -H "Authorization: Bearer $ALICE"
	expect_eq "last use within the minute" "$(printf '%s' "$BODY" | jq -r .data.last_used_at)" "$first"
}

t_case "a check's use shows at once, by id, in lists, to self and to the CLI" shown_at_once
t_case "uses noted before kill -9 of every worker are not lost" survives_kill
t_case "a use within the minute leaves the last use as it was" once_a_minute
t_done
