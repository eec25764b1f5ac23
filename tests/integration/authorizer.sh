#!/bin/bash
# authorizer.sh: PATs guarding a backend through lighttpd's FastCGI
# authorizer mode, the nginx-style check endpoint, and the rules file.
. "$(dirname "$0")/lib.sh"
start_guarded_stack 2

get() { call GET "$1" ${2:+-H "Authorization: Bearer $2"}; }
seen() { printf '%s\n' "$BODY" | sed -n "s/^$1=//p"; }

valid_pat_reaches_backend() {
	local id
	create "$ALICE" '{"name":"gate","abilities":["read","calls:create"]}'
	id=$(printf '%s' "$BODY" | jq -r .data.id)
	get /protected/read/echo.cgi "$TOKEN"
	expect_eq "status" "$STATUS" 200
	expect_eq "backend saw the user" "$(seen user)" "$ALICE_ID"
	expect_eq "backend saw the token id" "$(seen token)" "$id"
	expect_eq "backend saw the abilities" "$(seen abilities)" "read,calls:create"
}

# audited TOKEN PATTERN WHAT: refused alone in a fresh second, the refusal
# leaves an audit line matching PATTERN.
audited() {
	sleep 1.1
	get /protected/read/echo.cgi "$1"
	expect_eq "status for $3" "$STATUS" 401
	sleep 0.3
	grep -q "$2" "$WORK/lighttpd.err" || fail "no audit line for $3"
}

refusals_401() {
	local tok n secret pre core fake forged soon exp rev rid
	create "$ALICE" '{"name":"gate2"}'
	tok=$TOKEN; n=${tok%%|*}; secret=${tok#*|}
	pre=${secret:0:${#secret}-48}; core=${secret: -48:40}
	fake="$( [ "${core:0:1}" = A ] && echo B || echo A)${core:1}"
	forged="$n|$pre$fake$(printf '%s' "$fake" | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')"
	pat_ok "$forged" || fail "forged token is not well-formed"
	create "$ALICE" '{"name":"revoked"}'; rev=$TOKEN; rid=$(printf '%s' "$BODY" | jq -r .data.id)
	call DELETE "/api/v1/user/api-tokens/$rid" -H "Authorization: Bearer $ALICE"
	soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
	create "$ALICE" "{\"name\":\"expiring\",\"expires_at\":\"$soon\"}"; exp=$TOKEN
	sleep 3
	get /protected/read/echo.cgi
	expect_eq "missing" "$STATUS" 401
	expect_eq "missing: WWW-Authenticate" "$(header WWW-Authenticate)" "Bearer"
	# the same secret under another prefix (none, another, a cut one) is a bad token
	for t in garbage "${tok%?}$([ "${tok: -1}" = 0 ] && echo 1 || echo 0)" "999999|$secret" "$forged" "$rev" "$exp" "$ALICE" \
	    "$n|${secret: -48}" "$n|zz_${secret: -48}" "$n|${pre%?}${secret: -48}"; do
		get /protected/read/echo.cgi "$t"
		expect_eq "status for ${t:0:14}" "$STATUS" 401
		expect_eq "WWW-Authenticate for ${t:0:14}" "$(header WWW-Authenticate)" 'Bearer error="invalid_token"'
		expect_jq "body for ${t:0:14}" '.message == "Unauthenticated."'
		[[ $BODY == *user=* ]] && fail "the backend answered for ${t:0:14}"
	done
	call GET /protected/read/echo.cgi -H "Authorization: Basic YWxpY2U6cHc="
	expect_eq "another scheme" "$STATUS" 401
	# Each refusal's audit line, sent alone in a second of its own: a
	# worker writes a few lines a second, and the burst above used them.
	audited "$forged" "event=token.check.failed token=$n reason=wrong-secret" "the wrong secret"
	audited "$exp" "reason=expired" "the expiry"
	audited "$n|zz_${secret: -48}" "event=token.check.failed token=$n reason=prefix" "the wrong prefix"
	get /protected/read/echo.cgi "$tok"
	expect_eq "the token with its own prefix, after all that" "$STATUS" 200
}

abilities_403() {
	local ro full p
	create "$ALICE" '{"name":"ro","abilities":["read"]}'; ro=$TOKEN
	create "$ALICE" '{"name":"full"}'; full=$TOKEN
	get /protected/write/echo.cgi "$ro"
	expect_eq "read token writing" "$STATUS" 403
	expect_eq "insufficient_scope" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope", scope="write"'
	get /protected/echo.cgi "$ro"
	expect_eq "read token at admin" "$STATUS" 403
	call POST /protected/read/echo.cgi -H "Authorization: Bearer $ro" --data-binary x
	expect_eq "POST is not GET in the read rule" "$STATUS" 403
	for p in /protected/read/echo.cgi /protected/write/echo.cgi /protected/echo.cgi; do
		get "$p" "$full"
		expect_eq "* token at $p" "$STATUS" 200
	done
	create "$ALICE" '{"name":"nothing","abilities":[]}'
	get /protected/read/echo.cgi "$TOKEN"
	expect_eq "a token with no abilities" "$STATUS" 403
	call GET /protected/read/../echo.cgi -H "Authorization: Bearer $ro" --path-as-is
	expect_eq "dot segments cannot borrow the read rule" "$STATUS" 403
	call GET "/protected/read/%2e%2e/echo.cgi" -H "Authorization: Bearer $ro" --path-as-is
	expect_eq "encoded dot segments either" "$STATUS" 403
}

# new_rules TEXT: replace the rules file at once; workers look at it once a second.
new_rules() {
	printf "$1" >"$PATGATE_RULES.new"
	mv "$PATGATE_RULES.new" "$PATGATE_RULES"
	sleep 1.1
}

rule_order_and_reload() {
	local rw
	create "$ALICE" '{"name":"writer","abilities":["write"]}'; rw=$TOKEN
	get /protected/write/echo.cgi "$rw"
	expect_eq "write rule" "$STATUS" 200
	# A rule earlier in the file wins over the later one.
	new_rules 'GET /protected/write/* read\n* /protected/write/* write\n* /protected/* admin\n'
	get /protected/write/echo.cgi "$rw"
	expect_eq "first match wins after a change, no restart" "$STATUS" 403
	call POST /protected/write/echo.cgi -H "Authorization: Bearer $rw" --data-binary x
	expect_eq "POST still falls to the write rule" "$STATUS" 200
	# No matching rule is 403 whatever the token holds.
	new_rules 'GET /protected/read/* read\n'
	create "$ALICE" '{"name":"all"}'
	get /protected/echo.cgi "$TOKEN"
	expect_eq "no rule matches" "$STATUS" 403
	# A broken edit fails closed until it is mended.
	new_rules 'GET /protected/read/*\n'
	get /protected/read/echo.cgi "$TOKEN"
	expect_eq "broken rules: closed" "$STATUS" 403
	sleep 0.2
	grep -q "event=rules.unusable .*:1: expected METHOD PATH-PATTERN ABILITY" "$WORK/lighttpd.err" || fail "no log line naming the bad line"
	new_rules 'GET /protected/read/* read\n* /protected/write/* write\n* /protected/* admin\n'
	get /protected/read/echo.cgi "$TOKEN"
	expect_eq "mended" "$STATUS" 200
}

# 300 malformed tokens in a burst: every one refused, but not a line each;
# the next refusal after the second has passed reports the repeats.
refusals_logged_once_a_second() {
	local before lines told
	before=$(grep -c 'reason=malformed' "$WORK/lighttpd.err")
	wrk -t 2 -c 4 -d 1s -H "Authorization: Bearer flood-of-junk" \
		"http://127.0.0.1:$PORT/protected/read/x" >"$WORK/junk.out" 2>&1
	grep -q 'Non-2xx or 3xx responses' "$WORK/junk.out" || fail "wrk saw no refusal"
	sleep 1.1
	for _ in 1 2 3 4; do get /protected/read/x flood-of-junk; done
	expect_eq "still refused" "$STATUS" 401
	sleep 0.3
	lines=$(( $(grep -c 'reason=malformed' "$WORK/lighttpd.err") - before ))
	told=$(tail -n +1 "$WORK/lighttpd.err" | sed -n 's/.*reason=malformed .*repeated=\([0-9]*\).*/\1/p' |
		awk '{ s += $1 } END { print s + 0 }')
	echo "# $lines lines for the burst and after; $told repeats counted in them"
	[ "$lines" -ge 1 ] && [ "$lines" -le 12 ] || fail "$lines lines for one kind of refusal in about 2 s"
	[ "$told" -ge 100 ] || fail "only $told repeats counted"
}

# six_gets TOKEN STATUS LABEL: six guarded requests with TOKEN, each STATUS
# (with two or more workers, six reach every one of them).
six_gets() {
	local i
	for i in 1 2 3 4 5 6; do
		get /protected/echo.cgi "$1"
		expect_eq "$3 $i" "$STATUS" "$2"
	done
}

revoke_bites_everywhere() {
	local tok id
	create "$ALICE" '{"name":"short life"}'
	tok=$TOKEN; id=$(printf '%s' "$BODY" | jq -r .data.id)
	six_gets "$tok" 200 "warm-up"
	call DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_eq "revoke" "$STATUS" 200
	six_gets "$tok" 401 "after revoke"
	# The same when another process (the CLI) revokes it: every worker has
	# just read the record, and none may go on trusting that read.
	create "$ALICE" '{"name":"short life, revoked by the operator"}'
	tok=$TOKEN; id=$(printf '%s' "$BODY" | jq -r .data.id)
	six_gets "$tok" 200 "warm-up"
	cli token revoke "$id" >/dev/null || fail "patgate token revoke failed"
	six_gets "$tok" 401 "after patgate token revoke"
}

last_use_by_authorizer() {
	local id tok
	create "$BOB" '{"name":"bob gate"}'
	tok=$TOKEN; id=$(printf '%s' "$BODY" | jq -r .data.id)
	get /protected/read/echo.cgi "$tok"
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $BOB"
	expect_jq "last_used_at set" "[.data[] | select(.id == \"$id\") | .last_used_at | type] == [\"string\"]"
}

# A 403 is no use of the token: only an allowed check records one.
forbidden_check_is_not_a_use() {
	local ro id
	create "$BOB" '{"name":"read only, refused a write","abilities":["read"]}'
	ro=$TOKEN; id=$(printf '%s' "$BODY" | jq -r .data.id)
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" \
		-H "X-Original-Method: POST" -H "X-Original-URI: /protected/write/x"
	expect_eq "write with a read token" "$STATUS" 403
	get /protected/write/echo.cgi "$ro"
	expect_eq "write with a read token, as an authorizer" "$STATUS" 403
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $BOB"
	expect_jq "last_used_at still null after two 403s" \
		"[.data[] | select(.id == \"$id\") | .last_used_at] == [null]"
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x"
	expect_eq "read with a read token" "$STATUS" 200
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $BOB"
	expect_jq "last_used_at set by the 200" \
		"[.data[] | select(.id == \"$id\") | .last_used_at | type] == [\"string\"]"
}

# mint_cgi VAR=VALUE...: create a token through plain CGI under other settings.
mint_cgi() {
	TOKEN=$(env "$@" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		REQUEST_URI=/api/v1/user/api-tokens CONTENT_TYPE=application/json \
		CONTENT_LENGTH=12 HTTP_AUTHORIZATION="Bearer $ALICE" "$FCGI" <<<'{"name":"o"}' 2>/dev/null |
		sed -n '/^{/p' | jq -r .data.token)
	remember_secret "$TOKEN"
}

# Hashes made at another cost keep verifying and move to the current one on
# their next successful use; patgate check counts those still to move.
other_cost_moves_on_use() {
	local tok sess n
	mint_cgi PATGATE_ARGON2=m=2048,t=1,p=1 PATGATE_TOKEN_PREFIX=old_
	tok=$TOKEN; n=${tok%%|*}
	expect_match "minted under old_" "$tok" '^[0-9]+\|old_'
	sess=$(PATGATE_ARGON2=m=2048,t=1,p=1 cli session new bob@example.com)
	remember_secret "$sess"
	"$DB_DUMP" -p -h "$PATGATE_DB" tokens.db | grep -q 'm=2048,' || fail "no hash at m=2048 stored"
	# The CGI create ran at m=2048 too: alice's session, used there, moved to it.
	cli check | grep -q '^cost: 1 PAT and 2 session hashes of another cost than m=1024,t=1,p=1$' ||
		fail "patgate check before: $(cli check | head -n 1)"
	get /protected/read/echo.cgi "$tok"
	expect_eq "a token at the old cost and prefix" "$STATUS" 200
	call GET /api/user -H "Authorization: Bearer $sess"
	expect_eq "a session at the old cost" "$STATUS" 200
	call GET /api/user -H "Authorization: Bearer $ALICE"
	expect_eq "alice's session at the old cost" "$STATUS" 200
	"$DB_DUMP" -p -h "$PATGATE_DB" tokens.db | grep -q 'm=2048,' && fail "the token's hash is still at m=2048"
	"$DB_DUMP" -p -h "$PATGATE_DB" sessions.db | grep -q 'm=2048,' && fail "the session's hash is still at m=2048"
	cli check | grep -q '^cost: 0 PAT and 0 session hashes of another cost' ||
		fail "patgate check after: $(cli check | head -n 1)"
	six_gets "$tok" 200 "after the rewrite"
	call GET /api/user -H "Authorization: Bearer $sess"
	expect_eq "the session after the rewrite" "$STATUS" 200
	get /protected/read/echo.cgi "$n|pgt_${tok: -48}"
	expect_eq "the old token under today's prefix" "$STATUS" 401
}

nginx_check_endpoint() {
	local ro id
	create "$ALICE" '{"name":"ng","abilities":["read"]}'; ro=$TOKEN; id=$(printf '%s' "$BODY" | jq -r .data.id)
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x?y=1"
	expect_eq "allow" "$STATUS" 200
	expect_eq "X-Patgate-User-Id" "$(header X-Patgate-User-Id)" "$ALICE_ID"
	expect_eq "X-Patgate-Token-Id" "$(header X-Patgate-Token-Id)" "$id"
	expect_eq "X-Patgate-Abilities" "$(header X-Patgate-Abilities)" "read"
	expect_match "no-store" "$(header Cache-Control)" no-store
	call POST /api/v1/auth/check -H "Authorization: Bearer $ro" \
		-H "X-Original-Method: POST" -H "X-Original-URI: /protected/write/x" --data-binary ""
	expect_eq "missing ability (method kept by auth_request)" "$STATUS" 403
	expect_eq "insufficient_scope" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope", scope="write"'
	[ -z "$(header X-Patgate-User-Id)" ] || fail "identity headers on a 403"
	call GET /api/v1/auth/check -H "Authorization: Bearer nonsense" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x"
	expect_eq "garbage" "$STATUS" 401
	call GET /api/v1/auth/check -H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x"
	expect_eq "no token" "$STATUS" 401
	call GET /api/v1/auth/check -H "Authorization: Bearer $ALICE" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x"
	expect_eq "a session is not a PAT" "$STATUS" 401
}

# A read-only token, and a path where only GET is a read: a request that
# leaves out the method must not be judged as a GET and let a write by.
check_needs_both_headers() {
	local ro
	create "$ALICE" '{"name":"ro","abilities":["read"]}'; ro=$TOKEN
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" -H "X-Original-Method: PUT" \
		-H "X-Original-URI: /protected/read/x"
	expect_eq "a write there needs more than read" "$STATUS" 403
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" -H "X-Original-URI: /protected/read/x"
	expect_eq "no X-Original-Method" "$STATUS" 400
	expect_jq "a message naming it" '.message | test("X-Original-Method")'
	[ -z "$(header X-Patgate-User-Id)" ] || fail "identity headers on a 400"
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" -H "X-Original-Method;" \
		-H "X-Original-URI: /protected/read/x"
	expect_eq "an empty X-Original-Method" "$STATUS" 400
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" -H "X-Original-Method: GET"
	expect_eq "no X-Original-URI" "$STATUS" 400
	expect_jq "a message naming it" '.message | test("X-Original-URI")'
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro"
	expect_eq "neither" "$STATUS" 400
	expect_jq "a message naming both" '.message | test("X-Original-Method.*X-Original-URI")'
	call GET /api/v1/auth/check -H "Authorization: Bearer $ro" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /protected/read/x"
	expect_eq "with both headers a read passes" "$STATUS" 200
}

# Unknown token numbers cost no Argon2 and the client picks them: 400
# checks of distinct numbers, 8 at a time, must not write a line each.  The
# bound is LOG_REPEAT_PER_SECOND (3) lines a second per worker (2).
distinct_numbers_bounded() {
	local core=QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ crc start end i lines told bound
	crc=$(printf '%s' "$core" | gzip -c | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')
	for i in $(seq 400); do
		[ "$i" = 1 ] || echo next
		printf 'url = "http://127.0.0.1:%s/api/v1/auth/check"\n' "$PORT"
		printf 'header = "Authorization: Bearer %s|pgt_%s%s"\n' $((900000 + i)) "$core" "$crc"
		printf 'header = "X-Original-Method: GET"\nheader = "X-Original-URI: /protected/read/x"\n'
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
	done >"$WORK/distinct.curl"
	start=$(wc -l <"$WORK/lighttpd.err")
	SECONDS=0
	curl -sS --parallel --parallel-max 8 -K "$WORK/distinct.curl" >"$WORK/distinct.codes"
	end=$SECONDS
	expect_eq "every check refused" "$(sort -u "$WORK/distinct.codes")" 401
	expect_eq "every check answered" "$(grep -c . "$WORK/distinct.codes")" 400
	sleep 1.1
	for i in 1 2 3 4; do get /protected/read/x "$i|nonsense"; done
	sleep 0.3
	tail -n +$((start + 1)) "$WORK/lighttpd.err" | grep 'event=token.check.failed' >"$WORK/distinct.lines"
	lines=$(grep -c 'token=9[0-9]\{5\}' "$WORK/distinct.lines")
	told=$(sed -n 's/.*repeated=\([0-9]*\).*/\1/p' "$WORK/distinct.lines" | awk '{ s += $1 } END { print s + 0 }')
	bound=$((3 * 2 * (end + 2)))
	echo "# 400 distinct unknown numbers in about ${end} s: $lines lines, $told repeats counted (bound $bound)"
	[ "$lines" -ge 1 ] && [ "$lines" -le "$bound" ] || fail "$lines lines for 400 refusals, more than $bound"
	[ $((lines + told)) -ge 300 ] || fail "only $lines lines and $told repeats told of 400 refusals"
}

malformed_rules_stop_the_program() {
	local out rc
	printf 'GET /a read\n\nGET /b\n' >"$WORK/bad-rules"
	out=$(PATGATE_RULES="$WORK/bad-rules" REQUEST_METHOD=GET REQUEST_URI=/api/v1/health "$FCGI" 2>&1 </dev/null)
	rc=$?
	expect_eq "exit status" "$rc" 1
	[[ $out == *"bad-rules:3:"* ]] || fail "the message does not name line 3: $out"
}

t_case "a valid PAT reaches the backend with its identity" valid_pat_reaches_backend
t_case "401 for missing, malformed, bad-checksum, unknown, wrong-secret, revoked, expired, session" refusals_401
t_case "403 for a missing ability, * passes every rule" abilities_403
t_case "rule order, no match, and a changed rules file without a restart" rule_order_and_reload
t_case "revoke, by the API or the CLI, bites on the very next request in every worker" revoke_bites_everywhere
t_case "a check through the authorizer sets last_used_at" last_use_by_authorizer
t_case "a 403 leaves last_used_at alone; a 200 sets it" forbidden_check_is_not_a_use
t_case "a token and a session at another cost and prefix work, and move to the current cost" other_cost_moves_on_use
t_case "GET /api/v1/auth/check with the headers nginx sends" nginx_check_endpoint
t_case "the check endpoint without X-Original-Method or X-Original-URI is a 400, never a GET" check_needs_both_headers
t_case "a malformed rules file stops the program, naming the line" malformed_rules_stop_the_program
t_case "a flood of refused checks: a line a second per kind, the repeats counted" refusals_logged_once_a_second
t_case "400 checks of distinct unknown token numbers: a few lines a second, the rest counted" distinct_numbers_bounded
t_done
