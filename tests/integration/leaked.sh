#!/bin/bash
# leaked.sh: POST /api/v1/credentials/revoke behind lighttpd: bad bodies
# change nothing; one answer (status, body, headers) whatever the entries;
# a real token refused at the gate right after, and its owner's event
# queued; the cost of 1,000 entries, bounded for hashes at an older cost,
# alike for unknown numbers and wrong secrets; the per-address limit.
export PATGATE_ARGON2="${PATGATE_ARGON2:-m=8,t=1,p=1}"	# the shipped token cost
. "$(dirname "$0")/lib.sh"
LIMIT=100
export PATGATE_REVOKE_MAX_PER_ADDR=$LIMIT
printf 'GET /x read\n' >"$WORK/rules"
export PATGATE_RULES="$WORK/rules"
start_stack 2

REPORTS=0	# requests this script has sent to the endpoint, for the limit
# report JSON: POST a report with the JSON content type.
report() {
	REPORTS=$((REPORTS + 1))
	call POST /api/v1/credentials/revoke -H 'Content-Type: application/json' \
		--data-binary "$1"
}
# report_file FILE: the same, with the body in a file.
report_file() {
	REPORTS=$((REPORTS + 1))
	call POST /api/v1/credentials/revoke -H 'Content-Type: application/json' \
		--data-binary "@$1"
}
# gate TOKEN: the check's status for a guarded GET /x.
gate() {
	curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" \
		-H 'X-Original-Method: GET' -H 'X-Original-URI: /x' \
		"http://127.0.0.1:$PORT/api/v1/auth/check"
}
# headers_but_date: the last answer's header lines, Date left out.
headers_but_date() {
	tr -d '\r' <"$WORK/headers" | grep -vi '^date:' | sort
}
# wrong_secret TOKEN: the same number and prefix, another secret with a good CRC.
wrong_secret() {
	local n=${1%%|*} core=AAAAAAAAAAbbbbbbbbbbCCCCCCCCCC0123456789
	printf '%s|pgt_%s%s' "$n" "$core" "$(printf '%s' "$core" | gzip -c | tail -c 8 |
		head -c 4 | od -An -tx4 | tr -d ' \n')"
}

create "$ALICE" '{"name":"keeps"}'
KEEP=$TOKEN
KEEP_ID=$(printf '%s' "$BODY" | jq -r .data.id)

bad_bodies() {
	local big many
	REPORTS=$((REPORTS + 1))
	call POST /api/v1/credentials/revoke -H 'Content-Type:' \
		--data-binary "{\"credentials\":[\"$KEEP\"]}"
	expect_error 415
	REPORTS=$((REPORTS + 1))
	call POST /api/v1/credentials/revoke -H 'Content-Type: text/plain' \
		--data-binary "{\"credentials\":[\"$KEEP\"]}"
	expect_error 415
	report ''
	expect_error 400
	report "{\"credentials\":[\"$KEEP\"]"
	expect_error 400
	report "[\"$KEEP\"]"
	expect_error 400
	report '{}'
	expect_error 422
	expect_jq "names credentials" '.errors.credentials | length > 0'
	report '{"credentials":[]}'
	expect_error 422
	expect_jq "names credentials" '.errors | keys == ["credentials"]'
	report "{\"credentials\":\"$KEEP\"}"
	expect_error 422
	report "{\"credentials\":[\"$KEEP\", 7]}"
	expect_error 422
	report "{\"credentials\":[\"$KEEP\", null]}"
	expect_error 422
	report '{"credentials":null}'
	expect_error 422
	many=$(jq -cn --arg t "$KEEP" '{credentials: [range(1001) | $t]}')
	report "$many"
	expect_error 422
	big=$(jq -cn --arg t "$KEEP" '{credentials: [$t], pad: ("x" * 70000)}')
	printf '%s' "$big" >"$WORK/big.json"
	report_file "$WORK/big.json"
	expect_error 413
	cli verify "$KEEP" >/dev/null || fail "a refused body revoked the token"
	expect_eq "gate after the refusals" "$(gate "$KEEP")" 200
	expect_eq "no event queued" "$(cli notify --dry-run | grep -c .)" 0
}

same_answer() {
	local real wrong ref h
	create "$ALICE" '{"name":"to leak"}'
	real=$TOKEN
	LEAK_ID=$(printf '%s' "$BODY" | jq -r .data.id)
	create "$BOB" '{"name":"bob keeps"}'
	wrong=$(wrong_secret "$TOKEN")
	BOB_TOKEN=$TOKEN
	expect_eq "gate before" "$(gate "$real")" 200
	for body in "{\"credentials\":[\"$real\"]}" '{"credentials":["garbage"]}' \
	    "{\"credentials\":[\"$(wrong_secret 987654321)\"]}" "{\"credentials\":[\"$wrong\"]}"; do
		report "$body"
		expect_eq "status" "$STATUS" 202
		expect_eq "body" "$BODY" '{"message":"Accepted"}'
		h=$(headers_but_date)
		if [ -z "${ref:-}" ]; then ref=$h; else expect_eq "headers" "$h" "$ref"; fi
	done
	expect_match "no-store" "$ref" 'Cache-Control: no-store'
	expect_eq "the leaked token at the gate" "$(gate "$real")" 401
	cli verify "$real" >/dev/null 2>&1 && fail "the leaked token still verifies"
	expect_eq "bob's token (a wrong secret reported)" "$(gate "$BOB_TOKEN")" 200
	expect_eq "alice's other token" "$(gate "$KEEP")" 200
	BODY=$(cli token list alice@example.com | jq -sc .)
	expect_jq "revoked in the store" "[.[] | select(.id == \"$LEAK_ID\") | .revoked_at != null] == [true]"
	grep -q "event=token.revoke.leaked .*id=$LEAK_ID" "$WORK"/*.err ||
		grep -q "event=token.revoke.leaked .*id=$LEAK_ID" "$WORK"/lighttpd.err ||
		fail "no token.revoke.leaked audit line"
	BODY=$(cli notify --dry-run | jq -sc .)
	expect_jq "one event, for alice's token" "length == 1 and .[0].event == \"token.revoke.leaked\" and .[0].token.id == \"$LEAK_ID\" and .[0].user.email == \"alice@example.com\" and .[0].user.id == \"$ALICE_ID\""
	expect_jq "the reporter's address" '.[0].addr == "127.0.0.1"'
	expect_jq "no secret in the event" "[.. | strings | select(test(\"pgt_\"))] == []"
	# Reported again: nothing more happens.
	report "{\"credentials\":[\"$real\",\"$real\"]}"
	expect_eq "status again" "$STATUS" 202
	expect_eq "still one event" "$(cli notify --dry-run | grep -c .)" 1
}

# A body of n entries: the given tokens' numbers with wrong secrets, round robin.
wrong_body() {
	local n=$1
	shift
	for t in "$@"; do wrong_secret "$t"; echo; done >"$WORK/wrong.list"
	jq -cRn --argjson n "$n" '[inputs] as $w | {credentials: [range($n) | $w[. % ($w | length)]]}' \
		<"$WORK/wrong.list" >"$WORK/wrong.json"
}
# elapsed: seconds (decimal) the last report took, by curl.
# Run in $(...): the caller counts it in REPORTS.
timed_report() {
	curl -sS -o "$WORK/body" -w '%{http_code} %{time_total}' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$1" \
		"http://127.0.0.1:$PORT/api/v1/credentials/revoke"
}

cost_of_a_thousand() {
	local i known=() unknown=() out t_known t_unknown
	for i in 1 2 3 4 5 6 7 8 9 10; do
		create "$BOB" "{\"name\":\"n$i\"}"
		known+=("$TOKEN")
	done
	for i in 1 2 3 4 5 6 7 8 9 10; do unknown+=("$((900000 + i))|x"); done
	wrong_body 1000 "${known[@]}"
	mv "$WORK/wrong.json" "$WORK/known.json"
	wrong_body 1000 "${unknown[@]}"
	mv "$WORK/wrong.json" "$WORK/unknown.json"
	for i in 1 2 3; do
		REPORTS=$((REPORTS + 2))
		out=$(timed_report "$WORK/known.json"); t_known="${t_known:-} ${out#* }"
		expect_eq "status" "${out%% *}" 202
		out=$(timed_report "$WORK/unknown.json"); t_unknown="${t_unknown:-} ${out#* }"
		expect_eq "status" "${out%% *}" 202
	done
	t_known=$(printf '%s\n' $t_known | sort -n | sed -n 2p)
	t_unknown=$(printf '%s\n' $t_unknown | sort -n | sed -n 2p)
	echo "# 1000 wrong secrets of known numbers: ${t_known}s; of unknown numbers: ${t_unknown}s (medians of 3)"
	awk -v a="$t_known" -v b="$t_unknown" 'BEGIN { exit !(a < 1 && b < 1) }' ||
		fail "1000 entries took ${t_known}s / ${t_unknown}s"
	# An unknown number runs the same Argon2 check: not much faster (noisy: 2x).
	awk -v a="$t_known" -v b="$t_unknown" 'BEGIN { exit !(b * 2 > a && a * 2 > b) }' ||
		fail "known ${t_known}s vs unknown ${t_unknown}s: an oracle"
	expect_eq "bob's tokens all live" "$(gate "${known[0]}")" 200
}

dear_hashes_bounded() {
	local dear out secs
	# Twenty tokens hashed at an older, dearer cost (some 20 ms a check,
	# 20 s for 1000 unbounded); the last one real.
	dear=$(PATGATE_ARGON2=m=16384,t=1,p=1 cli token bulk bob@example.com 20 --name dear)
	remember_secret "$dear"
	wrong_body 1000 "$dear"
	REPORTS=$((REPORTS + 1))
	out=$(timed_report "$WORK/wrong.json")
	secs=${out#* }
	echo "# 1000 wrong secrets of a token at m=16384,t=1: ${secs}s"
	expect_eq "status" "${out%% *}" 202
	awk -v a="$secs" 'BEGIN { exit !(a < 1) }' || fail "dear hashes took ${secs}s"
	expect_eq "the real dear token still works" "$(gate "$dear")" 200
	report "{\"credentials\":[\"$dear\"]}"
	expect_eq "status" "$STATUS" 202
	expect_eq "a dear token, reported alone, is revoked" "$(gate "$dear")" 401
}

# Each token revoked by its owner and reported leaked at the same moment:
# exactly one of the two takes it (a 200 to the owner, or an event).
one_outcome() {
	local i ids=() toks=() pids=() n=16 owner=0 leaked id
	cli notify --dry-run >/dev/null
	PATGATE_NOTIFY_CMD='cat >/dev/null' cli notify || fail "could not empty the queue"
	for i in $(seq $n); do
		create "$ALICE" "{\"name\":\"race $i\"}"
		ids+=("$(printf '%s' "$BODY" | jq -r .data.id)")
		toks+=("$TOKEN")
	done
	for i in $(seq 0 $((n - 1))); do
		curl -sS -o /dev/null -w '%{http_code}\n' -X DELETE \
			-H "Authorization: Bearer $ALICE" \
			"http://127.0.0.1:$PORT/api/v1/user/api-tokens/${ids[$i]}" >"$WORK/race.$i" &
		pids+=($!)
		curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"credentials\":[\"${toks[$i]}\"]}" \
			"http://127.0.0.1:$PORT/api/v1/credentials/revoke" &
		pids+=($!)
	done
	wait "${pids[@]}"	# not lighttpd, also a child of this shell
	REPORTS=$((REPORTS + n))
	cli notify --dry-run >"$WORK/race.events"
	for i in $(seq 0 $((n - 1))); do
		id=${ids[$i]}
		leaked=$(jq -r --arg id "$id" 'select(.token.id == $id) | .event' "$WORK/race.events" | grep -c .)
		case "$(cat "$WORK/race.$i"):$leaked" in
		200:0) owner=$((owner + 1)) ;;
		404:1) ;;
		*) fail "token $id: owner's revoke $(cat "$WORK/race.$i"), $leaked leaked events" ;;
		esac
		expect_eq "race $i at the gate" "$(gate "${toks[$i]}")" 401
	done
	echo "# $owner of $n went to the owner's revoke, $((n - owner)) to the report"
}

per_address_limit() {
	local left=$((LIMIT - REPORTS)) i
	[ "$left" -ge 1 ] || { fail "the script sent $REPORTS reports; raise LIMIT"; return; }
	for i in $(seq "$left"); do
		report '{"credentials":["x"]}'
		[ "$STATUS" = 202 ] || { fail "report $REPORTS of $LIMIT: $STATUS"; return; }
	done
	create "$ALICE" '{"name":"after the limit"}'
	report "{\"credentials\":[\"$TOKEN\"]}"
	expect_error 429
	expect_match "Retry-After" "$(header Retry-After)" '^[1-9][0-9]*$'
	expect_eq "not revoked past the limit" "$(gate "$TOKEN")" 200
}

t_case "bad bodies: 415, 400, 413, 422 naming credentials; nothing revoked" bad_bodies
t_case "one answer for a real token, garbage, an unknown number, a wrong secret" same_answer
t_case "1000 entries well under a second, unknown numbers not cheaper" cost_of_a_thousand
t_case "hashes at an older cost cannot make a report slow" dear_hashes_bounded
t_case "a revoke and a report of one token at once: exactly one outcome" one_outcome
t_case "past PATGATE_REVOKE_MAX_PER_ADDR from one address: 429 with Retry-After" per_address_limit
t_done
