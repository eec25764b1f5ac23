#!/bin/bash
# token_lifecycle.sh: one token read by id and by itself, rotation (by id,
# by the PAT, in parallel, reuse of a rotated-away PAT), the list's
# filters, the recent addresses of a token, the gate's scope and expiry
# headers, PATGATE_REQUIRE_EXPIRY, and the CLI's token get, token rotate
# and prune --unused-days, behind lighttpd.
. "$(dirname "$0")/lib.sh"
export PATGATE_RULES="$WORK/rules"
printf 'GET /protected/read/* read\n* /protected/write/* write\n' >"$PATGATE_RULES"
GUARD=1 start_stack 2

API=/api/v1/user/api-tokens
N=0
id_of() { printf '%s' "$BODY" | jq -r .data.id; }
# fresh_user: a user of the case's own (the cap and lists start empty); sets SESS and EMAIL.
fresh_user() {
	N=$((N + 1))
	EMAIL="user$N-$$@example.com"
	cli user add "$EMAIL" >/dev/null
	SESS=$(cli session new "$EMAIL")
	remember_secret "$SESS"
}
check_pat() {
	call GET /api/v1/auth/check -H "Authorization: Bearer $1" \
		-H "X-Original-Method: ${2:-GET}" -H "X-Original-URI: ${3:-/protected/read/x}"
}
# row EMAIL ID: the user's token record with that id, as the CLI reads the database.
row() { cli token list "$1" | jq -c "select(.id == \"$2\")"; }
live_count() { cli token list "$1" | jq -s '[.[] | select(.revoked_at == null)] | length'; }
# rotate ID|self CREDENTIAL [curl args...]
rotate() {
	local who=$1 cred=$2
	shift 2
	# No body: an empty one, so that lighttpd sees a length.
	[ $# -gt 0 ] || set -- --data-binary '' -H 'Content-Type:'
	call POST "$API/$who/rotate" -H "Authorization: Bearer $cred" "$@"
	TOKEN=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	remember_secret "$TOKEN"
}
in_days() { date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ; }

get_one() {
	local id tok
	fresh_user
	create "$SESS" '{"name":"one","abilities":["read","deploy"]}'
	id=$(id_of); tok=$TOKEN
	call GET "$API/$id" -H "Authorization: Bearer $SESS"
	expect_eq "status" "$STATUS" 200
	expect_match "no-store" "$(header Cache-Control)" no-store
	expect_jq "the token object" ".data | keys == [\"abilities\",\"created_at\",\"expires_at\",\"id\",\"last_used_at\",\"last_used_ips\",\"name\"]"
	expect_jq "values" ".data.id == \"$id\" and .data.abilities == [\"read\",\"deploy\"] and .data.last_used_ips == [] and .data.last_used_at == null"
	call GET "$API/$id" -H "Authorization: Bearer $BOB"
	expect_error 404
	call GET "$API/00000000-0000-4000-8000-000000000000" -H "Authorization: Bearer $SESS"
	expect_error 404
	call GET "$API/not-a-uuid" -H "Authorization: Bearer $SESS"
	expect_error 404
	call GET "$API/$id$id" -H "Authorization: Bearer $SESS"
	expect_error 404
	call GET "$API/$id"
	expect_error 401
	call GET "$API/$id" -H "Authorization: Bearer $tok"
	expect_error 401
	call PUT "$API/$id" -H "Authorization: Bearer $SESS"
	expect_error 405
	expect_eq "Allow" "$(header Allow)" "GET, DELETE"
	call GET "$API/$id/other" -H "Authorization: Bearer $SESS"
	expect_error 404
	call DELETE "$API/$id" -H "Authorization: Bearer $SESS"
	expect_eq "revoke" "$STATUS" 200
	call GET "$API/$id" -H "Authorization: Bearer $SESS"
	expect_error 404
}

self_endpoints() {
	local id tok
	fresh_user
	create "$SESS" '{"name":"me","abilities":["read"]}'
	id=$(id_of); tok=$TOKEN
	call GET "$API/self" -H "Authorization: Bearer $tok"
	expect_eq "status" "$STATUS" 200
	expect_jq "itself, no secret" ".data.id == \"$id\" and .data.abilities == [\"read\"] and (.data | has(\"token\") | not)"
	expect_jq "its own use shows" '.data.last_used_ips[0].ip == "127.0.0.1"'
	call GET "$API/self" -H "Authorization: Bearer $SESS"
	expect_error 401
	call GET "$API/self"
	expect_error 401
	call GET "$API/self" -H "Authorization: Bearer 1|nonsense"
	expect_error 401
	call GET "$API" -H "Authorization: Bearer $tok"
	expect_error 401
	call POST "$API" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		--data-binary '{"name":"child"}'
	expect_error 401
	call DELETE "$API/$id" -H "Authorization: Bearer $tok"
	expect_error 401
	call PUT "$API/self" -H "Authorization: Bearer $tok"
	expect_error 405
	expect_eq "Allow" "$(header Allow)" "GET, DELETE"
	call DELETE "$API/self" -H "Authorization: Bearer $SESS"
	expect_error 401
	expect_eq "a session cannot end it" "$(row "$EMAIL" "$id" | jq .revoked_at)" null
	call DELETE "$API/self" -H "Authorization: Bearer $tok"
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '. == {"message":"Token revoked"}'
	check_pat "$tok"
	expect_eq "the check right after" "$STATUS" 401
	call GET "$API/self" -H "Authorization: Bearer $tok"
	expect_error 401
	call DELETE "$API/self" -H "Authorization: Bearer $tok"
	expect_error 401
	expect_match "revoked in the database" "$(row "$EMAIL" "$id" | jq -r .revoked_at)" '^20'
	grep -q "event=token.revoke .*id=$id" "$WORK/lighttpd.err" || fail "no audit line"
}

rotate_by_id() {
	local id tok nid ntok before exp
	fresh_user
	create "$SESS" '{"name":"rot","abilities":["read","deploy"]}'
	id=$(id_of); tok=$TOKEN
	check_pat "$tok"
	expect_eq "the old one, before" "$STATUS" 200
	before=$(cli token list "$EMAIL" | grep -c .)
	rotate "$id" "$SESS"
	expect_eq "status" "$STATUS" 201
	expect_jq "the create's shape, rotated_from" ".data | keys == [\"abilities\",\"created_at\",\"expires_at\",\"id\",\"name\",\"rotated_from\",\"token\"]"
	expect_jq "same name and abilities" ".data.name == \"rot\" and .data.abilities == [\"read\",\"deploy\"] and .data.rotated_from == \"$id\" and .data.expires_at == null"
	nid=$(id_of); ntok=$TOKEN
	pat_ok "$ntok" || fail "the new token's form"
	[ "${ntok%%|*}" != "${tok%%|*}" ] || fail "the number was kept"
	[ "$nid" != "$id" ] || fail "the id was kept"
	check_pat "$tok"
	expect_eq "the old one, at once" "$STATUS" 401
	check_pat "$ntok"
	expect_eq "the new one" "$STATUS" 200
	expect_eq "one record more" "$(cli token list "$EMAIL" | grep -c .)" $((before + 1))
	expect_match "the old one revoked in the database" "$(row "$EMAIL" "$id" | jq -r .revoked_at)" '^20'
	call GET "$API/$nid" -H "Authorization: Bearer $SESS"
	expect_jq "get shows rotated_from" ".data.rotated_from == \"$id\""
	call GET "$API" -H "Authorization: Bearer $SESS"
	expect_jq "the list shows the new, not the old" "[.data[].id] == [\"$nid\"]"
	rotate "$id" "$SESS"
	expect_error 404
	rotate 00000000-0000-4000-8000-000000000000 "$SESS"
	expect_error 404
	rotate "$nid" "$BOB"
	expect_error 404
	rotate "$nid" "$ntok"
	expect_error 401
	rotate "$nid" ""
	expect_error 401
	call GET "$API/$nid/rotate" -H "Authorization: Bearer $SESS"
	expect_error 405
	expect_eq "Allow" "$(header Allow)" "POST"
	check_pat "$ntok"
	expect_eq "the refusals changed nothing" "$STATUS" 200
	expect_eq "no record more" "$(cli token list "$EMAIL" | grep -c .)" $((before + 1))
	# An expired token is not rotated.
	exp=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
	create "$SESS" "{\"name\":\"brief\",\"expires_at\":\"$exp\"}"
	id=$(id_of)
	sleep 3
	rotate "$id" "$SESS"
	expect_error 404
}

rotate_lifetime() {
	local id exp t want
	fresh_user
	create "$SESS" "{\"name\":\"ten days\",\"expires_at\":\"$(in_days 10)\"}"
	id=$(id_of)
	rotate "$id" "$SESS"
	expect_eq "status" "$STATUS" 201
	t=$(date -u -d "$(printf '%s' "$BODY" | jq -r .data.expires_at)" +%s)
	want=$(($(date +%s) + 10 * 86400))
	[ $((t - want)) -le 5 ] && [ $((want - t)) -le 5 ] || fail "lifetime not kept: $t, want $want"
	id=$(id_of)
	exp=$(in_days 3)
	rotate "$id" "$SESS" -H 'Content-Type: application/json' --data-binary "{\"expires_at\":\"$exp\"}"
	expect_eq "status" "$STATUS" 201
	expect_jq "the asked expiry" ".data.expires_at == \"$exp\""
	id=$(id_of)
	rotate "$id" "$SESS" -H 'Content-Type: application/json' --data-binary '{"expires_at":null}'
	expect_eq "status" "$STATUS" 201
	expect_jq "null: never" '.data.expires_at == null'
	id=$(id_of)
	rotate "$id" "$SESS" -H 'Content-Type: application/json' --data-binary ''
	expect_eq "an empty body, typed: the lifetime kept" "$STATUS" 201
	expect_jq "never, as the one it replaced" '.data.expires_at == null'
	# A lifetime longer than policy now allows is cut to it.
	create "$SESS" "{\"name\":\"long\",\"expires_at\":\"$(in_days 300)\"}"
	PATGATE_MAX_TOKEN_DAYS=30 cgi_rotate "$(id_of)" "$SESS"
	expect_eq "status" "$STATUS" 201
	t=$(date -u -d "$(printf '%s' "$BODY" | jq -r .data.expires_at)" +%s)
	[ "$t" -le $(($(date +%s) + 30 * 86400 + 5)) ] || fail "lifetime past PATGATE_MAX_TOKEN_DAYS"
}

# cgi_rotate ID SESSION [VAR=value...]: a rotate through plain CGI, with the environment given.
cgi_rotate() {
	local id=$1 sess=$2 out
	shift 2
	out=$(env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI="$API/$id/rotate" \
		SERVER_PROTOCOL=HTTP/1.1 HTTP_AUTHORIZATION="Bearer $sess" REMOTE_ADDR=192.0.2.9 \
		PATGATE_RULES="$PATGATE_RULES" "$@" timeout 20 "$FCGI" </dev/null 2>>"$WORK/cgi.err" | tr -d '\r')
	STATUS=$(printf '%s\n' "$out" | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	BODY=$(printf '%s\n' "$out" | sed '1,/^$/d')
	TOKEN=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	remember_secret "$TOKEN"
}

rotate_bad_bodies() {
	local id tok before big
	fresh_user
	create "$SESS" '{"name":"stays"}'
	id=$(id_of); tok=$TOKEN
	before=$(cli token list "$EMAIL" | grep -c .)
	for cred in "$SESS" "$tok"; do
		[ "$cred" = "$SESS" ] && who=$id || who=self
		rotate "$who" "$cred" -H 'Content-Type: text/plain' --data-binary '{}'
		expect_error 415
		rotate "$who" "$cred" --data-binary '{}' -H 'Content-Type:'
		expect_error 415
		big=$(head -c 70000 /dev/zero | tr '\0' a)
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary "{\"x\":\"$big\"}"
		expect_error 413
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary '[1]'
		expect_error 400
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary '{"expires_at":'
		expect_error 400
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary '{"expires_at":"2001-01-01T00:00:00Z"}'
		expect_error 422
		expect_jq "names expires_at" '.errors | keys == ["expires_at"]'
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary "{\"expires_at\":\"$(in_days 400)\"}"
		expect_error 422
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary '{"expires_at":"soon"}'
		expect_error 422
		rotate "$who" "$cred" -H 'Content-Type: application/json' --data-binary '{"expires_at":7}'
		expect_error 422
	done
	check_pat "$tok"
	expect_eq "the token still works" "$STATUS" 200
	expect_eq "nothing stored" "$(cli token list "$EMAIL" | grep -c .)" "$before"
	expect_eq "nothing revoked" "$(row "$EMAIL" "$id" | jq .revoked_at)" null
}

self_rotate() {
	local id tok ntok
	fresh_user
	create "$SESS" '{"name":"ci","abilities":["read"]}'
	id=$(id_of); tok=$TOKEN
	rotate self "$tok"
	expect_eq "status" "$STATUS" 201
	expect_jq "rotated_from" ".data.rotated_from == \"$id\" and .data.name == \"ci\" and .data.abilities == [\"read\"]"
	ntok=$TOKEN
	check_pat "$ntok"
	expect_eq "the new one" "$STATUS" 200
	check_pat "$tok"
	expect_eq "the old one" "$STATUS" 401
	rotate self "$SESS"
	expect_error 401
	rotate self "1|nonsense"
	expect_error 401
	rotate self ""
	expect_error 401
	call GET "$API/self/rotate" -H "Authorization: Bearer $ntok"
	expect_error 405
	# A token revoked outright (not rotated) is refused and revokes nothing.
	create "$SESS" '{"name":"plain"}'
	tok=$TOKEN
	call DELETE "$API/self" -H "Authorization: Bearer $tok"
	rotate self "$tok"
	expect_error 401
	check_pat "$ntok"
	expect_eq "an unrelated token untouched" "$STATUS" 200
}

reuse_detection() {
	local a b c aid cid wrong before
	fresh_user
	create "$SESS" '{"name":"family"}'
	a=$TOKEN; aid=$(id_of)
	rotate self "$a"; b=$TOKEN
	rotate self "$b"; c=$TOKEN; cid=$(id_of)
	create "$SESS" '{"name":"bystander"}'
	other=$TOKEN
	check_pat "$c"
	expect_eq "the newest" "$STATUS" 200
	# The old number with a wrong secret is a bad token: nothing is revoked.
	wrong="${a%|*}|pgt_$(printf 'B%.0s' $(seq 40))$(printf '%s' "$(printf 'B%.0s' $(seq 40))" | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')"
	rotate self "$wrong"
	expect_error 401
	check_pat "$c"
	expect_eq "a forged secret revokes nothing" "$STATUS" 200
	before=$(live_count "$EMAIL")
	rotate self "$a"
	expect_error 401
	check_pat "$c"
	expect_eq "the newest of the family, after the reuse" "$STATUS" 401
	check_pat "$other"
	expect_eq "another token of the user" "$STATUS" 200
	expect_eq "one live token fewer" "$(live_count "$EMAIL")" $((before - 1))
	call GET "$API" -H "Authorization: Bearer $SESS"
	expect_jq "the family is gone from the list" "[.data[].id] | index(\"$cid\") == null"
	grep -q "event=token.reuse .*token=${a%%|*} .*revoked=1" "$WORK/lighttpd.err" || fail "no token.reuse audit line"
	# Queued for the owner in the revoke's own transaction, without a secret.
	BODY=$(cli notify --dry-run | jq -sc '[.[] | select(.event == "token.reuse")]')
	expect_jq "one token.reuse event, for the reused token" "length == 1 and .[0].token.id == \"$aid\" and .[0].revoked == 1"
	expect_jq "no secret in the event" "[.. | strings | select(test(\"pgt_\"))] == []"
	# The middle one, presented again: nothing left to revoke, still 401.
	rotate self "$b"
	expect_error 401
}

parallel_rotate() {
	local id round codes pids
	fresh_user
	for round in 1 2 3; do
		create "$SESS" "{\"name\":\"race $round\"}"
		id=$(id_of)
		pids=()
		for i in 1 2; do
			curl -sS --max-time 30 -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Length: 0' \
				-H "Authorization: Bearer $SESS" "http://127.0.0.1:$PORT$API/$id/rotate" \
				>"$WORK/race.$i" &
			pids+=($!)
		done
		wait "${pids[@]}"
		codes=$(cat "$WORK/race.1" "$WORK/race.2" | sort | tr '\n' ' ')
		expect_eq "round $round: one 201, one 404" "$codes" "201 404 "
	done
	expect_eq "three live tokens, one per race" "$(live_count "$EMAIL")" 3
	expect_eq "six records" "$(cli token list "$EMAIL" | grep -c .)" 6
	expect_eq "each rotated once" "$(cli token list "$EMAIL" | jq -s '[.[] | select(.rotated_from != null)] | length')" 3
	# Two processes whose rotations surely overlap: each holds its
	# transaction open 400 ms (the tests' stall), the second waits on the
	# first's lock, then finds the token revoked.
	create "$SESS" '{"name":"race stalled"}'
	id=$(id_of)
	pids=()
	for i in 1 2; do
		( cgi_rotate "$id" "$SESS" PATGATE_TEST_STALL_MS=400; echo "$STATUS" >"$WORK/race.$i" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
	codes=$(cat "$WORK/race.1" "$WORK/race.2" | sort | tr '\n' ' ')
	expect_eq "stalled: one 201, one 404" "$codes" "201 404 "
	expect_eq "four live tokens" "$(live_count "$EMAIL")" 4
	expect_eq "eight records" "$(cli token list "$EMAIL" | grep -c .)" 8
}

rotate_past_the_cap() {
	local id i
	fresh_user
	for i in 1 2 3; do
		PATGATE_MAX_TOKENS_PER_USER=3 cgi_create "$SESS" "{\"name\":\"cap $i\"}"
	done
	id=$(id_of)
	PATGATE_MAX_TOKENS_PER_USER=3 cgi_create "$SESS" '{"name":"one too many"}'
	expect_eq "the cap holds for a create" "$STATUS" 409
	PATGATE_MAX_TOKENS_PER_USER=3 cgi_rotate "$id" "$SESS" PATGATE_MAX_TOKENS_PER_USER=3
	expect_eq "a rotation at the cap" "$STATUS" 201
	expect_eq "still three live" "$(live_count "$EMAIL")" 3
}

# cgi_create SESSION JSON [VAR=value...]: a create through plain CGI (the
# environment given, PATGATE_MAX_TOKENS_PER_USER from the caller's too).
cgi_create() {
	local sess=$1 json=$2 out
	shift 2
	out=$(printf '%s' "$json" | env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		REQUEST_URI="$API" SERVER_PROTOCOL=HTTP/1.1 CONTENT_TYPE=application/json \
		CONTENT_LENGTH=${#json} HTTP_AUTHORIZATION="Bearer $sess" REMOTE_ADDR=192.0.2.9 \
		"$@" timeout 20 "$FCGI" 2>>"$WORK/cgi.err" | tr -d '\r')
	STATUS=$(printf '%s\n' "$out" | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	BODY=$(printf '%s\n' "$out" | sed '1,/^$/d')
	TOKEN=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	remember_secret "$TOKEN"
}

list_filters() {
	local live dead short used q
	fresh_user
	create "$SESS" '{"name":"live"}'; live=$(id_of)
	create "$SESS" '{"name":"dead"}'; dead=$(id_of)
	create "$SESS" "{\"name\":\"short\",\"expires_at\":\"$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)\"}"; short=$(id_of)
	create "$SESS" '{"name":"used"}'; used=$(id_of)
	check_pat "$TOKEN"
	call DELETE "$API/$dead" -H "Authorization: Bearer $SESS"
	sleep 3
	ids() { call GET "$API$1" -H "Authorization: Bearer $SESS"; expect_eq "$1" "$STATUS" 200; printf '%s' "$BODY" | jq -c '[.data[].id]'; }
	expect_eq "default: all but revoked" "$(ids '')" "[\"$live\",\"$short\",\"$used\"]"
	expect_eq "active" "$(ids '?state=active')" "[\"$live\",\"$used\"]"
	expect_eq "expired" "$(ids '?state=expired')" "[\"$short\"]"
	expect_eq "revoked" "$(ids '?state=revoked')" "[\"$dead\"]"
	expect_eq "all" "$(ids '?state=all')" "[\"$live\",\"$dead\",\"$short\",\"$used\"]"
	call GET "$API?state=revoked" -H "Authorization: Bearer $SESS"
	expect_jq "revoked_at in state=revoked" '.data[0].revoked_at | test("^20[0-9-]+T[0-9:]+Z$")'
	call GET "$API?state=all" -H "Authorization: Bearer $SESS"
	expect_jq "revoked_at only where set" '[.data[] | has("revoked_at")] == [false,true,false,false]'
	call GET "$API" -H "Authorization: Bearer $SESS"
	expect_jq "no revoked_at by default" '[.data[] | has("revoked_at")] == [false,false,false]'
	q="?last_used_before=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
	expect_eq "used before an hour ahead: all" "$(ids "$q")" "[\"$live\",\"$short\",\"$used\"]"
	expect_eq "used before 2000: the never used" "$(ids '?last_used_before=2000-01-01T00:00:00Z')" "[\"$live\",\"$short\"]"
	expect_eq "percent-escaped, with state" "$(ids '?state=active&last_used_before=2000-01-01T00%3A00%3A00Z')" "[\"$live\"]"
	expect_eq "other parameters ignored" "$(ids '?page=2&x')" "[\"$live\",\"$short\",\"$used\"]"
	for q in '?state=bogus' '?state=' '?state=ACTIVE'; do
		call GET "$API$q" -H "Authorization: Bearer $SESS"
		expect_error 422
		expect_jq "$q names state" '.errors | keys == ["state"]'
	done
	for q in '?last_used_before=yesterday' '?last_used_before=' '?last_used_before=2024-13-01T00:00:00Z' '?last_used_before=%zz'; do
		call GET "$API$q" -H "Authorization: Bearer $SESS"
		expect_error 422
		expect_jq "$q names last_used_before" '.errors | keys == ["last_used_before"]'
	done
	call GET "$API?state=nope&last_used_before=nope" -H "Authorization: Bearer $SESS"
	expect_jq "both named" '.errors | keys == ["last_used_before","state"]'
	call GET "$API?state=all" -H "Authorization: Bearer $TOKEN"
	expect_error 401
}

# A list past what a worker holds (256 KiB of rows) goes out a page at a
# time: every token once and in order, the filters applied on every page,
# through lighttpd and as plain CGI alike.
list_long() {
	local first all cgi
	fresh_user
	create "$SESS" '{"name":"first"}'; first=$(id_of)
	cli token bulk "$EMAIL" 3000 >/dev/null || fail "bulk 3000"
	cli token bulk "$EMAIL" 3000 --revoked >/dev/null || fail "bulk 3000 revoked"
	call GET "$API" -H "Authorization: Bearer $SESS"
	expect_eq "status" "$STATUS" 200
	expect_jq "default: 3001, the first first" ".data | length == 3001 and .[0].id == \"$first\""
	expect_jq "each once" '[.data[].id] | unique | length == 3001'
	expect_jq "no revoked row" '[.data[] | has("revoked_at")] | any | not'
	call GET "$API?state=revoked" -H "Authorization: Bearer $SESS"
	expect_jq "revoked: 3000" '.data | length == 3000 and all(.[]; has("revoked_at"))'
	call GET "$API?state=all" -H "Authorization: Bearer $SESS"
	all=$(printf '%s' "$BODY" | jq -c '[.data[].id]')
	expect_eq "all: as the CLI lists them, in order" "$all" \
		"$(cli token list "$EMAIL" | jq -sc '[.[].id]')"
	cgi=$(env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI="$API" \
		HTTP_AUTHORIZATION="Bearer $SESS" REMOTE_ADDR=127.0.0.1 "$FCGI" </dev/null |
		sed '1,/^\r\{0,1\}$/d' | jq '.data | length')
	expect_eq "as plain CGI" "$cgi" 3001
}

# check_from ADDR TOKEN: a check through plain CGI from another address.
check_from() {
	env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/api/v1/auth/check \
		SERVER_PROTOCOL=HTTP/1.1 HTTP_AUTHORIZATION="Bearer $2" REMOTE_ADDR="$1" \
		HTTP_X_ORIGINAL_METHOD=GET HTTP_X_ORIGINAL_URI=/protected/read/x \
		PATGATE_RULES="$PATGATE_RULES" timeout 20 "$FCGI" </dev/null 2>>"$WORK/cgi.err" |
		tr -d '\r' | sed -n 's/^Status: \([0-9]*\).*/\1/p'
}

last_used_ips() {
	local id tok i got
	fresh_user
	# Read only: the write check below is refused whatever second it lands
	# in (a full-access token would be allowed, and recorded if the clock
	# turned a second between the two checks).
	create "$SESS" '{"name":"where","abilities":["read"]}'
	id=$(id_of); tok=$TOKEN
	expect_eq "none before use" "$(row "$EMAIL" "$id" | jq -c .last_used_ips)" "[]"
	check_pat "$tok"
	expect_eq "status" "$STATUS" 200
	call GET "$API/$id" -H "Authorization: Bearer $SESS"
	expect_jq "the web server's address, at once" '.data.last_used_ips | length == 1 and .[0].ip == "127.0.0.1" and (.[0].at | test("^20[0-9-]+T[0-9:]+Z$"))'
	expect_jq "last_used_at" '.data.last_used_at != null'
	# A new address in a later second is written at once; a refused check
	# (a missing ability) records nothing.
	sleep 1.05
	check_from 192.0.2.99 "$tok" >/dev/null
	sleep 1.05
	expect_eq "a write check of a read-only token" "$(env GATEWAY_INTERFACE=CGI/1.1 \
		REQUEST_METHOD=GET REQUEST_URI=/api/v1/auth/check HTTP_AUTHORIZATION="Bearer $tok" \
		REMOTE_ADDR=192.0.2.98 HTTP_X_ORIGINAL_METHOD=POST \
		HTTP_X_ORIGINAL_URI=/protected/write/x PATGATE_RULES="$PATGATE_RULES" \
		timeout 20 "$FCGI" </dev/null 2>>"$WORK/cgi.err" |
		tr -d '\r' | sed -n 's/^Status: \([0-9]*\).*/\1/p')" 403
	got=$(row "$EMAIL" "$id" | jq -c '[.last_used_ips[].ip]')
	expect_eq "the new address first, the refused one not at all" "$got" '["192.0.2.99","127.0.0.1"]'
	for i in 1 2 3 4 5; do
		sleep 1.05
		expect_eq "check from 198.51.100.$i" "$(check_from "198.51.100.$i" "$tok")" 200
	done
	sleep 1.05
	check_from 198.51.100.2 "$tok" >/dev/null
	got=$(row "$EMAIL" "$id" | jq -c '[.last_used_ips[].ip]')
	expect_eq "five, newest first, distinct" "$got" '["198.51.100.2","198.51.100.5","198.51.100.4","198.51.100.3","198.51.100.1"]'
	row "$EMAIL" "$id" | jq -e '[.last_used_ips[].at] | . == (sort | reverse)' >/dev/null || fail "times not newest first"
	# Another address within the same second as the last write waits for the next.
	check_from 203.0.113.1 "$tok" >/dev/null
	check_from 203.0.113.2 "$tok" >/dev/null
	got=$(row "$EMAIL" "$id" | jq -c '.last_used_ips | length')
	expect_eq "still five" "$got" 5
}

gate_headers() {
	local exp tok never
	fresh_user
	exp=$(in_days 5)
	create "$SESS" "{\"name\":\"hints\",\"abilities\":[\"read\"],\"expires_at\":\"$exp\"}"
	tok=$TOKEN
	create "$SESS" '{"name":"never","abilities":["read"]}'
	never=$TOKEN
	check_pat "$tok" POST /protected/write/x
	expect_eq "403" "$STATUS" 403
	expect_eq "the scope named" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope", scope="write"'
	check_pat "$tok" GET /nowhere
	expect_eq "no rule" "$STATUS" 403
	expect_eq "no scope to name" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope"'
	check_pat "$tok"
	expect_eq "allow" "$STATUS" 200
	expect_eq "X-Patgate-Token-Expires-At" "$(header X-Patgate-Token-Expires-At)" "$exp"
	check_pat "$never"
	expect_eq "no expiry, no header" "$(header X-Patgate-Token-Expires-At)" ""
	call GET /protected/read/echo.cgi -H "Authorization: Bearer $tok"
	expect_eq "authorizer allow" "$STATUS" 200
	expect_match "the backend is told the expiry" "$BODY" "expires=$exp"
	call GET /protected/write/echo.cgi -H "Authorization: Bearer $tok"
	expect_eq "authorizer 403" "$STATUS" 403
	expect_eq "authorizer: the scope named" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope", scope="write"'
}

require_expiry() {
	local id exp before
	fresh_user
	before=$(cli token list "$EMAIL" | grep -c .)
	for json in '{"name":"x"}' '{"name":"x","expires_at":null}'; do
		cgi_create "$SESS" "$json" PATGATE_REQUIRE_EXPIRY=1
		expect_eq "$json" "$STATUS" 422
		expect_jq "names expires_at" '.errors | keys == ["expires_at"]'
	done
	cgi_create "$SESS" '{"name":"","expires_at":null}' PATGATE_REQUIRE_EXPIRY=1
	expect_jq "every field named" '.errors | keys == ["expires_at","name"]'
	expect_eq "nothing stored" "$(cli token list "$EMAIL" | grep -c .)" "$before"
	exp=$(in_days 1)
	cgi_create "$SESS" "{\"name\":\"x\",\"expires_at\":\"$exp\"}" PATGATE_REQUIRE_EXPIRY=1
	expect_eq "with an expiry" "$STATUS" 201
	cgi_rotate "$(id_of)" "$SESS" PATGATE_REQUIRE_EXPIRY=1
	expect_eq "rotating a token that expires keeps its lifetime" "$STATUS" 201
	create "$SESS" '{"name":"forever"}'
	id=$(id_of)
	before=$(cli token list "$EMAIL" | grep -c .)
	cgi_rotate "$id" "$SESS" PATGATE_REQUIRE_EXPIRY=1
	expect_eq "rotating a token without expiry, no body" "$STATUS" 422
	expect_jq "names expires_at" '.errors | keys == ["expires_at"]'
	expect_eq "nothing stored" "$(cli token list "$EMAIL" | grep -c .)" "$before"
	expect_eq "nothing revoked" "$(row "$EMAIL" "$id" | jq .revoked_at)" null
	env PATGATE_REQUIRE_EXPIRY=2 "$CLI" token list "$EMAIL" >/dev/null 2>&1 && fail "PATGATE_REQUIRE_EXPIRY=2 accepted"
	return 0
}

cli_get_rotate_prune() {
	local id tok ntok out
	fresh_user
	create "$SESS" '{"name":"console","abilities":["read"]}'
	id=$(id_of); tok=$TOKEN
	out=$(cli token get "$id")
	expect_eq "token get" "$(printf '%s' "$out" | jq -c '[.id,.name,.abilities,.last_used_ips]')" "[\"$id\",\"console\",[\"read\"],[]]"
	printf '%s' "$out" | grep -q 'argon2' && fail "token get shows the hash"
	cli token get 00000000-0000-4000-8000-000000000000 >/dev/null && fail "token get of an unknown id succeeded"
	cli token get >/dev/null; expect_eq "token get without an id" "$?" 2
	ntok=$(cli token rotate "$id")
	remember_secret "$ntok"
	pat_ok "$ntok" || fail "token rotate printed no token"
	cli verify "$ntok" >/dev/null || fail "the rotated token does not verify"
	cli verify "$tok" >/dev/null && fail "the old token still verifies"
	cli token rotate "$id" >/dev/null && fail "a second rotation of the old id succeeded"
	grep -q "event=token.rotate .*from_id=$id" "$WORK/cli.err" || fail "no token.rotate audit line"
	# Fresh tokens are not unused for a day.
	expect_eq "prune --unused-days 1" "$(cli prune --unused-days 1)" 0
	cli verify "$ntok" >/dev/null || fail "prune --unused-days revoked a fresh token"
	for bad in 0 -1 x ''; do
		cli prune --unused-days "$bad" >/dev/null
		expect_eq "--unused-days '$bad'" "$?" 2
	done
	# After every rotation, reuse and revoke above, the indexes still agree.
	cli check >"$WORK/check.out" || fail "patgate check: $(cat "$WORK/check.out")"
}

t_case "get one token: the token object; 404 unknown, revoked, another's; 401, 405" get_one
t_case "self: a PAT reads and revokes itself; a session cannot; a PAT still cannot elsewhere" self_endpoints
t_case "rotate by id: new number, id, secret; same name, abilities; old refused at once" rotate_by_id
t_case "rotate: lifetime kept from now, an asked expiry wins, within the longest" rotate_lifetime
t_case "rotate: bad bodies 415, 413, 400, 422, and nothing changed" rotate_bad_bodies
t_case "self/rotate with the PAT; a session, garbage or a revoked PAT: 401" self_rotate
t_case "reuse: a rotated-away PAT revokes its family; a forged secret revokes nothing" reuse_detection
t_case "two rotations of one token at once: exactly one 201" parallel_rotate
t_case "the per-user cap does not refuse a rotation" rotate_past_the_cap
t_case "list: state and last_used_before filters, 422 naming the parameter" list_filters
t_case "list: a long one a page at a time, whole and in order, filtered, as CGI too" list_long
t_case "last_used_ips: the five newest distinct addresses, newest first" last_used_ips
t_case "the gate: 403 names the scope; allow passes the expiry" gate_headers
t_case "PATGATE_REQUIRE_EXPIRY=1: create and rotate need an expiry" require_expiry
t_case "CLI: token get, token rotate, prune --unused-days" cli_get_rotate_prune
no_secret_leaked
t_done
