#!/bin/bash
# bindings.sh: a token bound to address blocks, paths, a rate limit, or
# made a canary, behind lighttpd (authorizer mode and the check endpoint)
# with four workers.
. "$(dirname "$0")/lib.sh"
start_guarded_stack 4

get() { call GET "$1" ${2:+-H "Authorization: Bearer $2"} "${@:3}"; }
# check TOKEN URI [curl args]: the nginx-style check of a GET of URI.
check() {
	call GET /api/v1/auth/check -H "Authorization: Bearer $1" \
		-H "X-Original-Method: GET" -H "X-Original-URI: $2" "${@:3}"
}
token_id() { printf '%s' "$BODY" | jq -r .data.id; }
# cgi_check TOKEN ADDR: the check endpoint run as plain CGI from REMOTE_ADDR.
cgi_check() {
	CGI_OUT=$(REQUEST_METHOD=GET REQUEST_URI=/api/v1/auth/check REMOTE_ADDR=$2 \
		HTTP_AUTHORIZATION="Bearer $1" HTTP_X_ORIGINAL_METHOD=GET \
		HTTP_X_ORIGINAL_URI=/protected/read/x "$FCGI" </dev/null 2>>"$WORK/cgi.err")
	CGI_STATUS=$(printf '%s\n' "$CGI_OUT" | sed -n 's/^Status: \([0-9]*\).*/\1/p' | head -n1)
}

bad_bindings_422() {
	local before field value
	before=$(count_tokens alice@example.com)
	while IFS='|' read -r field value; do
		create "$ALICE" "{\"name\":\"b\",\"$field\":$value}"
		expect_error 422
		expect_jq "$field=$value named" ".errors | has(\"$field\")"
		expect_jq "$field=$value: only that field" ".errors | length == 1"
	done <<'BAD'
allowed_ips|["10.0.0.1/8"]
allowed_ips|["2001:db8::1/32"]
allowed_ips|["300.1.1.1"]
allowed_ips|["10.0.0.0/33"]
allowed_ips|["2001:db8::/129"]
allowed_ips|["10.0.0.0/08"]
allowed_ips|["10.0.0.0/-1"]
allowed_ips|["10.0.0.0/"]
allowed_ips|["fe80::1%eth0"]
allowed_ips|["example.com"]
allowed_ips|[""]
allowed_ips|[]
allowed_ips|"10.0.0.0/8"
allowed_ips|[7]
allowed_ips|["10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8","10.0.0.0/8"]
paths|["noslash"]
paths|[]
paths|"/a/*"
paths|[7]
paths|["/a*/b"]
paths|["/a/../b/*"]
paths|["/a/./b"]
paths|["//a"]
paths|["/a%2fb"]
paths|["/a b"]
paths|["/a\tb"]
rate_limit|0
rate_limit|-5
rate_limit|1000001
rate_limit|1.5
rate_limit|"10"
rate_limit|true
rate_limit|99999999999999999999999
canary|"yes"
canary|1
canary|[]
BAD
	create "$ALICE" "{\"name\":\"b\",\"paths\":[\"/$(printf 'a%.0s' $(seq 255))\"]}"
	expect_error 422
	expect_jq "a 256-byte pattern" '.errors | has("paths")'
	create "$ALICE" '{"name":"b","allowed_ips":["10.0.0.1/8"],"paths":["x"],"rate_limit":0,"canary":"no"}'
	expect_error 422
	expect_jq "every failing field named at once" '.errors | keys == ["allowed_ips","canary","paths","rate_limit"]'
	expect_eq "nothing stored" "$(count_tokens alice@example.com)" "$before"
}

shown_and_kept() {
	local id
	create "$ALICE" '{"name":"bound","allowed_ips":["127.0.0.0/8","2001:DB8::/32","192.0.2.7","::ffff:198.51.100.0/120"],"paths":["/protected/read/*","/protected/write/x"],"rate_limit":600}'
	expect_eq "create" "$STATUS" 201
	expect_jq "create shows the blocks, canonical" '.data.allowed_ips == ["127.0.0.0/8","2001:db8::/32","192.0.2.7/32","198.51.100.0/24"]'
	expect_jq "create shows paths and rate" '.data.paths == ["/protected/read/*","/protected/write/x"] and .data.rate_limit == 600'
	expect_jq "no canary shown when false" '.data | has("canary") | not'
	id=$(token_id)
	call GET "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_jq "get shows them" '.data.allowed_ips[1] == "2001:db8::/32" and .data.paths[1] == "/protected/write/x" and .data.rate_limit == 600'
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	expect_jq "list shows them" "[.data[] | select(.id == \"$id\")][0].rate_limit == 600"
	call POST "/api/v1/user/api-tokens/$id/rotate" -H "Authorization: Bearer $ALICE" --data-binary "" -H "Content-Type:"
	remember_secret "$(printf '%s' "$BODY" | jq -r .data.token)"
	expect_eq "rotate" "$STATUS" 201
	expect_jq "rotation keeps every binding" '.data.allowed_ips | length == 4'
	expect_jq "rotation keeps paths and rate" '.data.paths | length == 2'
	expect_jq "rotation keeps the rate" '.data.rate_limit == 600 and .data.rotated_from != null'
	create "$ALICE" '{"name":"plain","allowed_ips":null,"paths":null,"rate_limit":null,"canary":false}'
	expect_jq "null bindings: none shown" '.data | (has("allowed_ips") or has("paths") or has("rate_limit") or has("canary")) | not'
	cli token list alice@example.com | grep -q '"rate_limit":600' || fail "the CLI's list does not show rate_limit"
}

address_binding() {
	local here there garbage_body garbage_auth id
	create "$ALICE" '{"name":"runner","allowed_ips":["127.0.0.2/32","2001:db8::/32"]}'; here=$TOKEN
	id=$(token_id)
	create "$ALICE" '{"name":"elsewhere","allowed_ips":["192.0.2.0/24"]}'; there=$TOKEN
	get /protected/read/echo.cgi garbage
	garbage_body=$BODY; garbage_auth=$(header WWW-Authenticate)
	get /protected/read/echo.cgi "$there"
	expect_eq "outside: 401" "$STATUS" 401
	expect_eq "outside: the body of a bad token" "$BODY" "$garbage_body"
	expect_eq "outside: the header of a bad token" "$(header WWW-Authenticate)" "$garbage_auth"
	get /protected/read/echo.cgi "$here"
	expect_eq "from 127.0.0.1, bound to 127.0.0.2" "$STATUS" 401
	get /protected/read/echo.cgi "$here" --interface 127.0.0.2
	expect_eq "from 127.0.0.2" "$STATUS" 200
	check "$here" /protected/read/x --interface 127.0.0.2
	expect_eq "check endpoint from 127.0.0.2" "$STATUS" 200
	check "$here" /protected/read/x
	expect_eq "check endpoint from 127.0.0.1" "$STATUS" 401
	call GET /api/v1/user/api-tokens/self -H "Authorization: Bearer $here"
	expect_eq "self from elsewhere" "$STATUS" 401
	call GET /api/v1/user/api-tokens/self -H "Authorization: Bearer $here" --interface 127.0.0.2
	expect_eq "self from inside" "$STATUS" 200
	sleep 1.1
	get /protected/read/echo.cgi "$there"
	sleep 0.3
	grep -q "event=token.check.failed token=${there%%|*} reason=address" "$WORK/lighttpd.err" ||
		fail "no audit line with reason=address"
	call GET "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_jq "only the allowed uses were recorded" '[.data.last_used_ips[].ip] == ["127.0.0.2"]'
	# REMOTE_ADDR as other servers hand it over: mapped, IPv6, or nonsense.
	cgi_check "$here" "::ffff:127.0.0.2"
	expect_eq "IPv4-mapped IPv6 inside an IPv4 block" "$CGI_STATUS" 200
	cgi_check "$here" "2001:db8:ffff::9"
	expect_eq "IPv6 inside its block" "$CGI_STATUS" 200
	cgi_check "$here" "2001:db9::1"
	expect_eq "IPv6 outside" "$CGI_STATUS" 401
	cgi_check "$here" "::ffff:127.0.0.3"
	expect_eq "mapped, outside" "$CGI_STATUS" 401
	for a in "not-an-address" "" "127.0.0.2 " "127.0.0.2/32" "[2001:db8::1]" "2001:db8::1%eth0"; do
		cgi_check "$here" "$a"
		expect_eq "REMOTE_ADDR '$a' matches nothing" "$CGI_STATUS" 401
	done
	create "$ALICE" '{"name":"anywhere"}'
	cgi_check "$TOKEN" "not-an-address"
	expect_eq "an unbound token from anywhere" "$CGI_STATUS" 200
}

path_binding() {
	local tok uri
	create "$ALICE" '{"name":"one project","paths":["/protected/read/a/*","/protected/read/echo.cgi"]}'; tok=$TOKEN
	for uri in /protected/read/a/x /protected/read/a/ /protected/read/a/x/y "/protected/read/a/x?q=../../b" \
	    /protected/read/b/../a/x "/protected/read/a/%78"; do
		check "$tok" "$uri"
		expect_eq "inside: $uri" "$STATUS" 200
	done
	for uri in /protected/read/b/x /protected/read/a/../b/x /protected/read/a/%2e%2e/b/x \
	    /protected/read/a/%2E%2E/b/x /protected/read/ab /protected/read/a "/protected/read/a/..%2fb" \
	    /protected/read//a/../b /protected/write/a/x; do
		check "$tok" "$uri"
		expect_eq "outside: $uri" "$STATUS" 403
		# No ability is missing, so none is named as the scope.
		expect_eq "outside: $uri insufficient_scope" "$(header WWW-Authenticate)" 'Bearer error="insufficient_scope"'
	done
	get /protected/read/echo.cgi "$tok"
	expect_eq "authorizer, the bound file" "$STATUS" 200
	get /protected/write/echo.cgi "$tok"
	expect_eq "authorizer, another path" "$STATUS" 403
	get /protected/read/a/../echo.cgi "$tok" --path-as-is
	expect_eq "authorizer, dot segments to the bound file" "$STATUS" 200
	get /protected/read/a/%2e%2e/../write/echo.cgi "$tok" --path-as-is
	expect_eq "authorizer, dot segments out" "$STATUS" 403
}

# wait_fresh_minute: sleep into the first seconds of a minute, so that a
# burst of a few seconds falls inside one.
wait_fresh_minute() {
	local s
	s=$(date +%S); s=${s#0}
	[ "$s" -le 40 ] || sleep $((61 - s))
}

rate_limit() {
	local tok other i ok=0 limited=0 retry
	create "$ALICE" '{"name":"slow","rate_limit":20}'; tok=$TOKEN
	create "$ALICE" '{"name":"fast"}'; other=$TOKEN
	wait_fresh_minute
	for i in $(seq 30); do
		check "$tok" /protected/read/x
		case $STATUS in
		200) ok=$((ok + 1)) ;;
		429) limited=$((limited + 1)); retry=$(header Retry-After)
		     expect_jq "429 body" '.message | length > 0' ;;
		*) fail "check $i: $STATUS" ;;
		esac
	done
	expect_eq "passed with rate_limit 20, four workers" "$ok" 20
	expect_eq "refused" "$limited" 10
	expect_match "Retry-After" "${retry:-}" '^[1-9][0-9]?$'
	[ "${retry:-99}" -le 60 ] || fail "Retry-After $retry past the minute"
	get /protected/read/echo.cgi "$tok"
	expect_eq "the authorizer counts the same minute" "$STATUS" 429
	check "$other" /protected/read/x
	expect_eq "another token of the same user" "$STATUS" 200
	# A refusal for another reason does not spend the limit.
	create "$ALICE" '{"name":"one a minute","rate_limit":1,"abilities":["read"]}'
	check "$TOKEN" /protected/write/x
	expect_eq "a 403 first" "$STATUS" 403
	check "$TOKEN" /protected/read/x
	expect_eq "the one allowed" "$STATUS" 200
}

# wrk with four workers for a few seconds at a limit of 3,000 a minute:
# the count is shared, so 3,000 pass, within 10 %.
rate_limit_under_wrk() {
	local tok total non2xx passed
	create "$ALICE" '{"name":"busy","rate_limit":3000}'; tok=$TOKEN
	wait_fresh_minute
	wrk -t 4 -c 16 -d 6s -H "Authorization: Bearer $tok" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /protected/read/x" "http://127.0.0.1:$PORT/api/v1/auth/check" \
		>"$WORK/wrk.out" 2>&1
	total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/wrk.out")
	passed=$((total - ${non2xx:-0}))
	echo "# wrk: $total requests, $passed passed at rate_limit 3000"
	[ "$total" -gt 3300 ] || fail "wrk made only $total requests: the limit was not reached"
	[ "$passed" -ge 2700 ] && [ "$passed" -le 3300 ] || fail "$passed passed, want 3000 within 10 %"
}

canary() {
	local tok id garbage_body events n
	create "$ALICE" '{"name":"decoy","canary":true,"abilities":["read"]}'; tok=$TOKEN
	id=$(token_id)
	expect_jq "create shows canary" '.data.canary == true'
	get /protected/read/echo.cgi garbage
	garbage_body=$BODY
	sleep 1.1
	get /protected/read/secret-plans "$tok" -A "curious-thief/1.0"
	expect_eq "canary at the authorizer" "$STATUS" 401
	expect_eq "canary: the body of a bad token" "$BODY" "$garbage_body"
	expect_eq "canary: the header of a bad token" "$(header WWW-Authenticate)" 'Bearer error="invalid_token"'
	sleep 0.3
	events=$(cli notify --dry-run | jq -sc "[.[] | select(.event == \"token.canary\" and .token.id == \"$id\")]")
	BODY=$events
	expect_jq "one token.canary" 'length == 1'
	expect_jq "with address, method, path, user agent" '.[0] | .addr == "127.0.0.1" and .method == "GET" and .path == "/protected/read/secret-plans" and .user_agent == "curious-thief/1.0"'
	expect_jq "the owner" ".[0].user.id == \"$ALICE_ID\""
	# A flood: a handful of events (one a second), every use counted.
	wrk -t 2 -c 4 -d 2s -H "Authorization: Bearer $tok" "http://127.0.0.1:$PORT/protected/read/x" \
		>"$WORK/canary-wrk.out" 2>&1
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/canary-wrk.out")
	sleep 1.1
	check "$tok" /protected/read/last
	expect_eq "canary at the check endpoint" "$STATUS" 401
	call GET /api/v1/user/api-tokens/self -H "Authorization: Bearer $tok"
	expect_eq "canary at self" "$STATUS" 401
	sleep 1.1
	call POST /api/v1/user/api-tokens/self/rotate -H "Authorization: Bearer $tok" --data-binary "" -H "Content-Type:"
	expect_eq "canary cannot rotate itself" "$STATUS" 401
	sleep 0.3
	BODY=$(cli notify --dry-run | jq -sc "[.[] | select(.event == \"token.canary\" and .token.id == \"$id\")]")
	expect_jq "a few events, not one per use ($n uses)" "length >= 3 and length <= 8"
	echo "# canary uses per event: $(printf "%s" "$BODY" | jq -c "map(.uses)")"
	# wrk leaves up to its 4 connections' last requests uncounted, not the server.
	expect_jq "every use counted: 1 + $n + 3" "(map(.uses) | add) as \$u | \$u >= $((n + 4)) and \$u <= $((n + 8))"
	expect_jq "no secret or hash in an event" "tostring | test(\"argon2|${tok: -48:40}\") | not"
	call GET "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_jq "a canary's use is never a use" '.data.last_used_at == null'
}

# A worker killed by SIGKILL in the middle of the load: the count lives in
# the shared table and is changed atomically, so nothing of it is lost and
# the survivors still stop at the limit.
rate_limit_survives_a_killed_worker() {
	local tok total non2xx passed victim
	create "$ALICE" '{"name":"busy too","rate_limit":2000}'; tok=$TOKEN
	wait_fresh_minute
	wrk -t 4 -c 16 -d 6s -H "Authorization: Bearer $tok" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /protected/read/x" "http://127.0.0.1:$PORT/api/v1/auth/check" \
		>"$WORK/wrk-kill.out" 2>&1 &
	sleep 2
	victim=${WORKER_PIDS%% *}
	kill -9 "$victim"
	wait $!
	total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk-kill.out")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/wrk-kill.out")
	passed=$((total - ${non2xx:-0}))
	echo "# wrk: $total requests, $passed passed at rate_limit 2000, worker $victim killed after 2 s"
	kill -0 "$victim" 2>/dev/null && fail "the worker was not killed"
	[ "$total" -gt 2200 ] || fail "wrk made only $total requests: the limit was not reached"
	[ "$passed" -ge 1800 ] && [ "$passed" -le 2000 ] || fail "$passed passed, want 1800 to 2000"
	check "$tok" /protected/read/x
	expect_eq "still limited after the kill" "$STATUS" 429
}

# rps TOKEN: RPS, the checks a second of one client sending TOKEN for 3 s;
# each answer must be a 401.
rps() {
	wrk -t 1 -c 1 -d 3s -H "Authorization: Bearer $1" -H "X-Original-Method: GET" \
		-H "X-Original-URI: /protected/read/x" "http://127.0.0.1:$PORT/api/v1/auth/check" \
		>"$WORK/rps.out" 2>&1
	local total non2xx
	total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/rps.out")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/rps.out")
	[ "${non2xx:-0}" = "$total" ] || fail "$((total - ${non2xx:-0})) of $total passed"
	RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/rps.out")
}

# A canary refused as fast as a wrong secret for its own number: a thief
# who times the two learns nothing.  Taken in turns, twice each.
canary_same_time() {
	local tok forged a1 b1 a2 b2 ratio
	create "$ALICE" '{"name":"timed decoy","canary":true,"abilities":["read"]}'
	tok=$TOKEN
	forged=$(forge "$tok")
	rps "$tok"; a1=$RPS
	rps "$forged"; b1=$RPS
	rps "$forged"; b2=$RPS
	rps "$tok"; a2=$RPS
	ratio=$(awk -v a="$a1" -v b="$a2" -v c="$b1" -v d="$b2" 'BEGIN { printf "%.2f", (a + b) / (c + d) }')
	echo "# refusals a second, one client: canary $a1 and $a2, wrong secret $b1 and $b2; ratio $ratio"
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.67 && r <= 1.5) }' ||
		fail "a canary's refusal and a wrong secret's differ in time: ratio $ratio"
}

t_case "bad allowed_ips, paths, rate_limit, canary: 422 naming each field, nothing stored" bad_bindings_422
t_case "bindings are shown by create, get, list and the CLI, and kept by a rotation" shown_and_kept
t_case "allowed_ips: outside looks like a bad token, inside passes; mapped, IPv6, nonsense" address_binding
t_case "paths: inside passes, outside is 403 after decoding and dot segments" path_binding
t_case "rate_limit: 429 with Retry-After past the limit, across four workers" rate_limit
t_case "rate_limit under wrk with four workers: within 10 % of the limit" rate_limit_under_wrk
t_case "canary: refused like a bad token, one event a second, every use counted" canary
t_case "canary: refused as fast as a wrong secret for its number" canary_same_time
t_case "rate_limit: a worker killed mid-count loses nothing of the count" rate_limit_survives_a_killed_worker
t_done
