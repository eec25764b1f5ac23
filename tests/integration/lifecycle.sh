#!/bin/bash
# lifecycle.sh: list, revoke, expiry, last use, the per-user cap, the current
# user, health, and the audit trail, behind lighttpd.
. "$(dirname "$0")/lib.sh"
export PATGATE_MAX_TOKENS_PER_USER=5
start_stack 2

list() { call GET /api/v1/user/api-tokens -H "Authorization: Bearer $1"; }
id_of() { printf '%s' "$BODY" | jq -r .data.id; }

list_order_and_isolation() {
	local a1 a2 a3 b1
	CAROL_ID=$(cli user add carol@example.com --name Carol)
	CAROL=$(cli session new carol@example.com)
	DAVE=$(cli user add dave@example.com >/dev/null; cli session new dave@example.com)
	list "$DAVE"
	expect_eq "status" "$STATUS" 200
	expect_jq "empty list" '. == {"data":[]}'
	create "$DAVE" '{"name":"first"}'; a1=$(id_of)
	create "$CAROL" '{"name":"carol only"}'; b1=$(id_of)
	create "$DAVE" '{"name":"second","abilities":["read"]}'; a2=$(id_of)
	create "$DAVE" '{"name":"third"}'; a3=$(id_of)
	list "$DAVE"
	expect_eq "status" "$STATUS" 200
	expect_match "no-store" "$(header Cache-Control)" no-store
	expect_jq "oldest first, own only" "[.data[].id] == [\"$a1\",\"$a2\",\"$a3\"]"
	expect_jq "fields" '.data | all(keys == ["abilities","created_at","expires_at","id","last_used_at","last_used_ips","name"])'
	expect_jq "no token value" '[.. | strings | select(test("^[0-9]+\\|"))] == []'
	expect_jq "abilities" '.data[1].abilities == ["read"]'
	list "$CAROL"
	expect_jq "carol sees only hers" "[.data[].id] == [\"$b1\"]"

}

revoke() {
	local id tok
	create "$ALICE" '{"name":"to revoke"}'
	id=$(id_of); tok=$TOKEN
	cli verify "$tok" >/dev/null || fail "fresh token refused"
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '. == {"message":"Token revoked"}'
	cli verify "$tok" >/dev/null && fail "revoked token still verifies"
	list "$ALICE"
	expect_jq "gone from the list" "[.data[].id] | index(\"$id\") == null"
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_error 404
	call DELETE "/api/v1/user/api-tokens/00000000-0000-4000-8000-000000000000" -H "Authorization: Bearer $ALICE"
	expect_error 404
	call DELETE "/api/v1/user/api-tokens/not-a-uuid" -H "Authorization: Bearer $ALICE"
	expect_error 404
	call DELETE "/api/v1/user/api-tokens/$id" 
	expect_error 401
}

revoke_other_users() {
	local id tok msg
	create "$ALICE" '{"name":"alice keeps"}'
	id=$(id_of); tok=$TOKEN
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $BOB"
	expect_error 404
	msg=$(printf '%s' "$BODY" | jq -r .message)
	call DELETE "/api/v1/user/api-tokens/00000000-0000-4000-8000-000000000001" -H "Authorization: Bearer $BOB"
	expect_eq "same answer as an unknown id" "$(printf '%s' "$BODY" | jq -r .message)" "$msg"
	cli verify "$tok" >/dev/null || fail "bob's DELETE changed alice's token"
	list "$ALICE"
	expect_jq "still listed" "[.data[].id] | index(\"$id\") != null"
}

expiry() {
	local soon tok id
	soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
	create "$ALICE" "{\"name\":\"short\",\"expires_at\":\"$soon\"}"
	expect_eq "status" "$STATUS" 201
	expect_jq "expires_at echoed" ".data.expires_at == \"$soon\""
	tok=$TOKEN; id=$(id_of)
	cli verify "$tok" >/dev/null || fail "fresh token refused"
	sleep 3
	cli verify "$tok" >/dev/null && fail "expired token still verifies"
	grep -q "event=token.check.failed token=${tok%%|*} reason=expired" "$WORK/cli.err" ||
		fail "no audit line for the expiry refusal"
	list "$ALICE"
	expect_jq "expired tokens are still listed" "[.data[] | select(.id == \"$id\") | .expires_at] == [\"$soon\"]"
	create "$ALICE" "{\"name\":\"offset\",\"expires_at\":\"$(date -d '+1 day' +%Y-%m-%dT%H:%M:%S+00:00)\"}"
	expect_eq "offset form accepted" "$STATUS" 201
	expect_jq "stored in UTC" '.data.expires_at | test("Z$")'
}

last_used() {
	local id tok first
	create "$BOB" '{"name":"use me"}'
	id=$(id_of); tok=$TOKEN
	list "$BOB"
	expect_jq "null before use" "[.data[] | select(.id == \"$id\") | .last_used_at] == [null]"
	cli verify "$tok" >/dev/null || fail "verify"
	list "$BOB"
	first=$(printf '%s' "$BODY" | jq -r ".data[] | select(.id == \"$id\") | .last_used_at")
	expect_match "set by a check" "$first" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
	sleep 1.2
	cli verify "$tok" >/dev/null || fail "second verify"
	list "$BOB"
	expect_jq "not rewritten within the minute" "[.data[] | select(.id == \"$id\") | .last_used_at] == [\"$first\"]"
}

cap() {
	local i ids before soon
	EVE=$(cli user add eve@example.com >/dev/null; cli session new eve@example.com)
	soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
	create "$EVE" "{\"name\":\"expires\",\"expires_at\":\"$soon\"}"
	for i in 2 3 4 5; do create "$EVE" "{\"name\":\"t$i\"}"; done
	expect_eq "fifth create" "$STATUS" 201
	list "$EVE"; before=$(printf '%s' "$BODY" | jq -c '[.data[].id]')
	create "$EVE" '{"name":"one too many"}'
	expect_error 409
	list "$EVE"
	expect_eq "nothing deleted or added" "$(printf '%s' "$BODY" | jq -c '[.data[].id]')" "$before"
	sleep 3
	create "$EVE" '{"name":"room after expiry"}'
	expect_eq "an expired token frees a place" "$STATUS" 201
	create "$EVE" '{"name":"full again"}'
	expect_error 409
	call DELETE "/api/v1/user/api-tokens/$(printf '%s' "$before" | jq -r '.[1]')" -H "Authorization: Bearer $EVE"
	create "$EVE" '{"name":"room after revoke"}'
	expect_eq "a revoked token frees a place" "$STATUS" 201
}

current_user() {
	call GET /api/user -H "Authorization: Bearer $ALICE"
	expect_eq "status" "$STATUS" 200
	expect_jq "fields" "keys == [\"created_at\",\"email\",\"id\",\"name\"] and .id == \"$ALICE_ID\" and .email == \"alice@example.com\" and .name == \"Alice\""
	expect_jq "created_at" '.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")'
	call GET /api/user
	expect_error 401
	create "$ALICE" '{"name":"pat"}'
	call GET /api/user -H "Authorization: Bearer $TOKEN"
	expect_error 401
}

health() {
	call GET /api/v1/health
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '. == {"status":"ok","role":"single"}'
	mv "$PATGATE_DB" "$PATGATE_DB.away"
	call GET /api/v1/health
	expect_eq "directory gone" "$STATUS" 503
	mv "$PATGATE_DB.away" "$PATGATE_DB"
	call GET /api/v1/health
	expect_eq "directory back" "$STATUS" 200
	call POST /api/v1/health --data-binary ""
	expect_error 405
}

audit() {
	local id tok n
	create "$BOB" '{"name":"audited"}'
	id=$(id_of); tok=$TOKEN; n=${tok%%|*}
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $BOB"
	cli verify "$tok" >/dev/null
	sleep 0.3
	grep -q "event=token.create token=$n id=$id user=$BOB_ID addr=127.0.0.1" "$WORK/lighttpd.err" ||
		fail "no create line"
	grep -q "event=token.revoke token=$n id=$id user=$BOB_ID addr=127.0.0.1" "$WORK/lighttpd.err" ||
		fail "no revoke line"
	grep -q "event=token.create.refused reason=limit" "$WORK/lighttpd.err" || fail "no cap line"
	grep -q "event=token.check.failed token=$n reason=revoked" "$WORK/cli.err" || fail "no failed-check line"
	for f in "$WORK/lighttpd.err" "$WORK/cli.err"; do
		grep -qF "${tok#*|}" "$f" && fail "a secret in $(basename "$f")"
		grep -qF "$ALICE" "$f" && fail "a session token in $(basename "$f")"
	done
}

cli_lifecycle() {
	local id tok out
	create "$ALICE" '{"name":"cli revoke"}'
	id=$(id_of); tok=$TOKEN
	out=$(cli token list alice@example.com | jq -r "select(.id == \"$id\") | .name")
	expect_eq "token list" "$out" "cli revoke"
	cli token list alice@example.com | grep -q '"token"' && fail "a token value in token list"
	cli token revoke "$id" || fail "token revoke"
	cli verify "$tok" >/dev/null && fail "still verifies"
	cli token revoke "$id" && fail "revoked twice"
	expect_eq "user list" "$(cli user list | jq -r .email | sort | head -n 2 | tr '\n' ' ')" "alice@example.com bob@example.com "
	out=$(cli prune --days 0)
	[ "$out" -ge 1 ] || fail "prune removed $out"
	cli token list alice@example.com | grep -q "\"$id\"" && fail "pruned token still listed"
	cli bogus >/dev/null 2>&1; expect_eq "usage exit" "$?" 2
}

t_case "list: oldest first, metadata only, own tokens only" list_order_and_isolation
t_case "revoke: 200, then refused everywhere, 404 after" revoke
t_case "revoke of another user's token is 404 and changes nothing" revoke_other_users
t_case "expires_at: a token expiring in 2 s fails after 3 s" expiry
t_case "last_used_at: null, set by a check, not rewritten within a minute" last_used
t_case "PATGATE_MAX_TOKENS_PER_USER: 409 at the cap, nothing deleted" cap
t_case "GET /api/user" current_user
t_case "health: 200, 503 when the directory is unusable" health
t_case "audit lines for create, revoke, refusal, failed check; no secret" audit
t_case "CLI: token list, token revoke, user list, prune" cli_lifecycle
t_done
