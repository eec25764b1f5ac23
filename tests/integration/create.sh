#!/bin/bash
# create.sh: POST /api/v1/user/api-tokens, the happy paths, behind lighttpd.
. "$(dirname "$0")/lib.sh"
start_stack 2

happy_path() {
	local before after t0 created
	before=$(count_tokens alice@example.com)
	t0=$(date -u +%s)
	create "$ALICE" '{"name":"CI Pipeline","abilities":["*"]}'
	expect_eq "status" "$STATUS" 201
	expect_match "content-type" "$(header Content-Type)" '^application/json'
	expect_match "cache-control" "$(header Cache-Control)" 'no-store'
	expect_eq "pragma" "$(header Pragma)" "no-cache"
	expect_eq "nosniff" "$(header X-Content-Type-Options)" "nosniff"
	expect_jq "data keys" '.data | keys == ["abilities","created_at","expires_at","id","name","token"]'
	expect_jq "id is a lowercase UUID, version 7" '.data.id | test("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")'
	expect_jq "name" '.data.name == "CI Pipeline"'
	expect_jq "abilities" '.data.abilities == ["*"]'
	expect_jq "expires_at null" '.data.expires_at == null'
	expect_jq "created_at form" '.data.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")'
	created=$(date -u -d "$(printf '%s' "$BODY" | jq -r .data.created_at)" +%s)
	[ $((created - t0)) -ge -1 ] && [ $((created - t0)) -le 5 ] || fail "created_at is not now"
	pat_ok "$TOKEN" || fail "token $TOKEN is not <n>|<40 base62><crc32>"
	after=$(count_tokens alice@example.com)
	expect_eq "one token stored" "$after" $((before + 1))
	local out
	out=$(cli verify "$TOKEN") || fail "patgate verify refused the new token"
	expect_eq "verify user" "$(printf '%s' "$out" | jq -r .user_id)" "$ALICE_ID"
	expect_eq "verify token id" "$(printf '%s' "$out" | jq -r .token_id)" "$(printf '%s' "$BODY" | jq -r .data.id)"
}

abilities_default_and_dedupe() {
	create "$ALICE" '{"name":"a"}'
	expect_jq "omitted is [*]" '.data.abilities == ["*"]'
	create "$ALICE" '{"name":"b","abilities":null}'
	expect_jq "null is [*]" '.data.abilities == ["*"]'
	create "$ALICE" '{"name":"c","abilities":["read","write","read","calls:create"]}'
	expect_eq "status" "$STATUS" 201
	expect_jq "duplicates collapse in order" '.data.abilities == ["read","write","calls:create"]'
	expect_eq "verify abilities" "$(cli verify "$TOKEN" | jq -c .abilities)" '["read","write","calls:create"]'
	create "$ALICE" '{"name":"d","abilities":[]}'
	expect_eq "status of []" "$STATUS" 201
	expect_jq "[] grants nothing" '.data.abilities == []'
}

name_rules_pass() {
	local name
	name=$(printf '\xf0\x9f\x94\x91%.0s' $(seq 255))
	create "$ALICE" "{\"name\":\"$name\"}"
	expect_eq "255 four-byte characters" "$STATUS" 201
	expect_eq "name round-trips" "$(printf '%s' "$BODY" | jq -r .data.name)" "$name"
	create "$ALICE" '{"name":"  Local Dev \n"}'
	expect_jq "trimmed" '.data.name == "Local Dev"'
	create "$ALICE" '{"name":"Caf\u00e9 \"quoted\" / slash","unknown":{"x":[1,2]}}'
	expect_eq "unknown fields ignored" "$STATUS" 201
	expect_jq "escapes round-trip" '.data.name == "Café \"quoted\" / slash"'
}

charset_and_query_string() {
	call POST '/api/v1/user/api-tokens?ignored=1' -H "Authorization: Bearer $ALICE" \
		-H 'Content-Type: application/json; charset=utf-8' --data-binary '{"name":"q"}'
	expect_eq "charset parameter and query string" "$STATUS" 201
}

token_numbers_increase() {
	local n1 n2
	create "$ALICE" '{"name":"n1"}'
	n1=${TOKEN%%|*}
	create "$BOB" '{"name":"n2"}'
	n2=${TOKEN%%|*}
	[ "$n2" -gt "$n1" ] || fail "numbers $n1 then $n2"
	expect_eq "bob's token is bob's" "$(cli verify "$TOKEN" | jq -r .user_id)" "$BOB_ID"
}

prefix_setting() {
	local out tok
	out=$(PATGATE_TOKEN_PREFIX=acme_ GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		REQUEST_URI=/api/v1/user/api-tokens CONTENT_TYPE=application/json \
		CONTENT_LENGTH=12 HTTP_AUTHORIZATION="Bearer $ALICE" "$FCGI" <<<'{"name":"p"}')
	tok=$(printf '%s' "$out" | sed -n '/^{/p' | jq -r .data.token)
	expect_match "prefix inside the secret" "$tok" '^[0-9]+\|acme_[A-Za-z0-9]{40}[0-9a-f]{8}$'
	pat_ok "$tok" || fail "prefixed token checksum"
	cli verify "$tok" >/dev/null || fail "prefixed token does not verify"
	cli verify "${tok%%|*}|pgt_${tok: -48}" >/dev/null 2>&1 && fail "the secret under pgt_ verifies"
	cli verify "${tok%%|*}|${tok: -48}" >/dev/null 2>&1 && fail "the secret without its prefix verifies"
	grep -q 'token refused (prefix)' "$WORK/cli.err" || fail "no reason given for the wrong prefix"
}

# The default prefix, and the scanner rule the README publishes and deploy/
# ships for gitleaks: in a file it finds the fresh token and nothing else.
default_prefix_and_scanner() {
	local re tok crc_bad not_hex short f hits kept h
	create "$ALICE" '{"name":"leaked into a repository"}'
	tok=$TOKEN
	expect_match "default prefix" "$tok" '^[0-9]+\|pgt_'
	re=$(sed -n "s/^regex = '''\(.*\)'''\$/\1/p" "$top_srcdir/deploy/gitleaks.toml")
	expect_eq "the rule's expression" "$re" '[0-9]+\|pgt_[A-Za-z0-9]{40}[0-9a-f]{8}'
	grep -qF -- "\`$re\`" "$top_srcdir/README.md" || fail "README does not publish the rule's expression"
	crc_bad="${tok%?}$([ "${tok: -1}" = 0 ] && echo 1 || echo 0)"
	not_hex="${tok%????????}GGGGGGGG"
	short="${tok%?????????}${tok: -1}"
	f="$WORK/leak.txt"
	{
		echo "deploy:"
		echo "  token: \"$tok\""
		echo "  session: $ALICE"
		echo "  old: $crc_bad"
		echo "  older: $not_hex and $short"
		echo "  other: ${tok%%|*}|xyz_${tok: -48}"
		head -c 3000 /dev/urandom | base64
		echo "pgt_ $(head -c 60 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
	} >"$f"
	hits=$(grep -oE -- "$re" "$f" | sort -u)
	expect_eq "what the expression finds" "$hits" "$(printf '%s\n' "$tok" "$crc_bad" | sort -u)"
	# The expression cannot check the CRC-32; the check the rule's comment
	# asks of a scanner that can leaves the one live token.
	kept=
	for h in $hits; do pat_ok "$h" && kept="$kept$h"; done
	expect_eq "what survives the checksum" "$kept" "$tok"
	[[ $ALICE =~ $re ]] && fail "the expression matches a session token"
	return 0
}

audit_line() {
	local id
	create "$ALICE" '{"name":"audited"}'
	id=$(printf '%s' "$BODY" | jq -r .data.id)
	sleep 0.3
	grep -q "event=token.create .*id=$id user=$ALICE_ID" "$WORK/lighttpd.err" ||
		fail "no audit line for the create in lighttpd's error log"
	grep -qF "${TOKEN#*|}" "$WORK/lighttpd.err" && fail "the secret is in the log"
	grep -qF "$ALICE" "$WORK/lighttpd.err" && fail "the session token is in the log"
}

t_case "201 with every documented field and header" happy_path
t_case "abilities: default, duplicates, empty" abilities_default_and_dedupe
t_case "name: 255 code points, trimming, escapes" name_rules_pass
t_case "Content-Type charset and query string" charset_and_query_string
t_case "token numbers unique and increasing per user" token_numbers_increase
t_case "PATGATE_TOKEN_PREFIX inside the secret" prefix_setting
t_case "pgt_ by default; the published scanner expression finds the token only" default_prefix_and_scanner
t_case "audit line in the web server's error log, no secret" audit_line
t_done
