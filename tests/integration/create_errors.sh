#!/bin/bash
# create_errors.sh: every refusal of POST /api/v1/user/api-tokens, and that
# none of them stores anything.
. "$(dirname "$0")/lib.sh"
start_stack 2

URL=/api/v1/user/api-tokens
JSON=(-H 'Content-Type: application/json')

# unchanged: alice still has the token records she had at the start of the case.
remember() { BEFORE=$(count_tokens alice@example.com); }
unchanged() { expect_eq "tokens stored" "$(count_tokens alice@example.com)" "$BEFORE"; }

unauthenticated() {
	local v pat
	remember
	call POST $URL "${JSON[@]}" --data-binary '{"name":"x"}'
	expect_error 401
	expect_jq "message" '. == {"message":"Unauthenticated."}'
	expect_eq "WWW-Authenticate without a token" "$(header WWW-Authenticate)" "Bearer"
	for v in "Basic YWxpY2U6cHc=" "Bearer" "Bearer " "Token $ALICE" "Bearer garbage" "Bearer 1|short" \
		"Bearer ${ALICE%?}$([ "${ALICE: -1}" = 0 ] && echo 1 || echo 0)" "Bearer ${ALICE}x" \
		"Bearer pgs_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA00000000"; do
		call POST $URL "${JSON[@]}" -H "Authorization: $v" --data-binary '{"name":"x"}'
		expect_eq "status for '${v:0:20}'" "$STATUS" 401
		expect_jq "message for '${v:0:20}'" '.message == "Unauthenticated."'
		expect_match "WWW-Authenticate for '${v:0:20}'" "$(header WWW-Authenticate)" '^Bearer'
	done
	call POST $URL "${JSON[@]}" -H "Authorization: Bearer garbage" --data-binary '{"name":"x"}'
	expect_eq "invalid_token when one was sent" "$(header WWW-Authenticate)" 'Bearer error="invalid_token"'
	unchanged
}

pat_is_not_a_session() {
	create "$ALICE" '{"name":"pat"}'
	remember
	create "$TOKEN" '{"name":"by pat"}'
	expect_error 401
	unchanged
}

revoked_and_expired_sessions() {
	local s
	# Two seconds, not one: a session's end is a whole second, so one
	# made late in a second would have had only the rest of it.
	s=$(cli session new alice@example.com --ttl 2)
	create "$s" '{"name":"x"}'
	expect_eq "fresh short session works" "$STATUS" 201
	sleep 3
	remember
	create "$s" '{"name":"x"}'
	expect_error 401
	s=$(cli session new alice@example.com)
	cli session revoke "$s" || fail "session revoke failed"
	create "$s" '{"name":"x"}'
	expect_error 401
	unchanged
}

auth_before_body() {
	call POST $URL "${JSON[@]}" --data-binary '{not json'
	expect_error 401
	call POST $URL -H 'Content-Type: text/plain' --data-binary 'x'
	expect_error 401
	call POST $URL "${JSON[@]}" --data-binary "$(head -c 70000 /dev/zero | tr '\0' a)"
	expect_error 401
}

media_type() {
	local ct
	remember
	for ct in text/plain application/x-www-form-urlencoded application/jsonp; do
		call POST $URL -H "Authorization: Bearer $ALICE" -H "Content-Type: $ct" --data-binary '{"name":"x"}'
		expect_error 415
	done
	call POST $URL -H "Authorization: Bearer $ALICE" -H "Content-Type:" --data-binary '{"name":"x"}'
	expect_error 415
	unchanged
}

too_large() {
	local big
	remember
	big="{\"name\":\"x\",\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}"
	create "$ALICE" "$big"
	expect_error 413
	big="{\"name\":\"x\",\"pad\":\"$(head -c 65515 /dev/zero | tr '\0' a)\"}"
	expect_eq "exactly 64 KiB is fine" "${#big}" 65536
	create "$ALICE" "$big"
	expect_eq "64 KiB body" "$STATUS" 201
	remember
	big="{\"name\":\"x\",\"pad\":\"$(head -c 65516 /dev/zero | tr '\0' a)\"}"
	create "$ALICE" "$big"
	expect_error 413
	unchanged
}

bad_bodies() {
	local b
	remember
	for b in '{not json' '[]' '"name"' '' 'null' '42' '{"name":"a"} trailing' '{"name":"a"}{}' \
		"{'name':'a'}" '{"name":"a",}'; do
		create "$ALICE" "$b"
		expect_eq "status for '$b'" "$STATUS" 400
		expect_jq "message for '$b'" '.message | length > 0'
	done
	create "$ALICE" "$(printf '{"name": "\xff\xfe"}')"
	expect_error 400
	create "$ALICE" "$(printf '{"name": "\xc0\xaf"}')"
	expect_error 400
	unchanged
}

field_rules() {
	local b
	remember
	for b in '{}' '{"name":""}' '{"name":"   "}' '{"name":42}' '{"name":null}' '{"name":["x"]}' \
		"{\"name\":\"$(printf 'a%.0s' $(seq 256))\"}" '{"name":"tab\there"}' '{"name":"nul\u0000"}' \
		'{"name":"del\u007f"}'; do
		create "$ALICE" "$b"
		expect_eq "status for ${b:0:30}" "$STATUS" 422
		expect_jq "errors.name for ${b:0:30}" '(.errors.name | type) == "array" and (.errors.name | length) > 0 and (.message | length) > 0'
	done
	for b in '"read"' '[1]' '[null]' '["has space"]' '[""]' "[\"$(printf 'x%.0s' $(seq 65))\"]" \
		"[$(seq -f '"a%g"' -s, 51)]" '{"a":1}'; do
		create "$ALICE" "{\"name\":\"n\",\"abilities\":$b}"
		expect_eq "status for abilities ${b:0:30}" "$STATUS" 422
		expect_jq "errors.abilities for ${b:0:30}" '.errors.abilities | length > 0'
	done
	for b in '"tomorrow"' '"2001-01-01T00:00:00Z"' '12345' '"2030-02-30T00:00:00Z"' \
		"\"$(date -u -d '+400 days' +%Y-%m-%dT%H:%M:%SZ)\""; do
		create "$ALICE" "{\"name\":\"n\",\"expires_at\":$b}"
		expect_eq "status for expires_at $b" "$STATUS" 422
		expect_jq "errors.expires_at for $b" '.errors.expires_at | length > 0'
	done
	create "$ALICE" '{"name":"","abilities":"x","expires_at":"soon"}'
	expect_eq "status" "$STATUS" 422
	expect_jq "every failing field named" '.errors | keys == ["abilities","expires_at","name"]'
	unchanged
}

routing() {
	remember
	call PUT $URL -H "Authorization: Bearer $ALICE" "${JSON[@]}" --data-binary '{"name":"x"}'
	expect_error 405
	expect_match "Allow" "$(header Allow)" 'POST'
	expect_match "Allow" "$(header Allow)" 'GET'
	call PATCH $URL/00000000-0000-4000-8000-000000000000 -H "Authorization: Bearer $ALICE"
	expect_error 405
	expect_eq "Allow on a token (read one, revoke it)" "$(header Allow)" "GET, DELETE"
	call GET /api/v1/nothing-here -H "Authorization: Bearer $ALICE"
	expect_error 404
	call POST /api/v1/user/api-tokens/ -H "Authorization: Bearer $ALICE" "${JSON[@]}" --data-binary '{"name":"x"}'
	expect_error 404
	call GET "/api/$(printf 'x%.0s' $(seq 1500))" -H "Authorization: Bearer $ALICE"
	expect_error 404
	unchanged
}

storage_failure() {
	local out status
	remember
	# A file-size limit makes the log write of the commit fail, as a full disk would.
	out=$(trap '' XFSZ; ulimit -f 1; GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		REQUEST_URI=$URL CONTENT_TYPE=application/json CONTENT_LENGTH=12 \
		HTTP_AUTHORIZATION="Bearer $ALICE" "$FCGI" <<<'{"name":"x"}' 2>/dev/null)
	status=$(printf '%s' "$out" | sed -n 's/^Status: \([0-9]*\).*/\1/p' | tr -d '\r')
	expect_eq "status when the disk refuses" "$status" 500
	printf '%s' "$out" | grep -q '"message"' || fail "no JSON message"
	unchanged
	create "$ALICE" '{"name":"after the failure"}'
	expect_eq "the service goes on" "$STATUS" 201
	cli verify "$TOKEN" >/dev/null || fail "token after the failure does not verify"
}

t_case "401 Unauthenticated. for every bad credential" unauthenticated
t_case "a PAT is not a session" pat_is_not_a_session
t_case "expired and revoked sessions refused" revoked_and_expired_sessions
t_case "authentication before the body is judged" auth_before_body
t_case "415 for a missing or wrong media type" media_type
t_case "413 over 64 KiB, 201 at exactly 64 KiB" too_large
t_case "400 for bodies that are not a JSON object" bad_bodies
t_case "422 naming every failing field" field_rules
t_case "405 with Allow, 404 for unknown paths" routing
t_case "500 on a storage failure, nothing stored, service goes on" storage_failure
t_done
