#!/bin/bash
# flood.sh: Argon2 as a weapon.  Forged secrets for a real token, or for
# many, must not starve cached checks or lock out the holder, and are
# answered about as cheaply as malformed tokens; a flood against hashes at
# a dearer cost (passwords' cost, from before the cheap token cost) gets
# 503 with Retry-After instead of a queue.
. "$(dirname "$0")/lib.sh"
# The program's own token cost: what a site runs unless told otherwise.
unset PATGATE_ARGON2
export PATGATE_MAX_TOKENS_PER_USER=100000
export PATGATE_RULES="$WORK/rules"
printf 'GET /protected/read/* read\n' >"$PATGATE_RULES"
setup_db
start_supervised 4
start_lighttpd
need_programs wrk
URL="http://127.0.0.1:$PORT/api/v1/auth/check"
H=(-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x")

# mint_costly NAME: a token hashed at the password cost, through plain CGI.
mint_costly() {
	printf '{"name":"%s"}' "$1" | env PATGATE_ARGON2=m=19456,t=2,p=1 GATEWAY_INTERFACE=CGI/1.1 \
		REQUEST_METHOD=POST REQUEST_URI=/api/v1/user/api-tokens CONTENT_TYPE=application/json \
		CONTENT_LENGTH=$((11 + ${#1})) HTTP_AUTHORIZATION="Bearer $ALICE" "$FCGI" 2>/dev/null |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# flood_many FILE SECONDS: 8 clients sending the tokens of FILE in turn.
flood_many() {
	cat >"$WORK/many.lua" <<EOF
local toks = {}
for line in io.lines("$1") do toks[#toks + 1] = line end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. toks[(i % #toks) + 1],
    ["X-Original-Method"] = "GET", ["X-Original-URI"] = "/protected/read/x"})
end
EOF
	wrk -t1 -c8 -d"$2"s -s "$WORK/many.lua" "$URL"
}

# rps SECONDS CONNS TOKEN: successful requests a second on the check endpoint.
rps() {
	wrk -t2 -c"$2" -d"$1"s "${H[@]}" -H "Authorization: Bearer $3" "$URL" >"$WORK/wrk.out" 2>&1
	awk '/Requests\/sec/ { r = $2 } /requests in/ { n = $1 } /Non-2xx/ { bad = $NF }
		END { if (n > 0) printf "%d\n", r * (1 - bad / n); else print 0 }' "$WORK/wrk.out"
}

forged_secrets_for_one_token() {
	local tok forged base under fair flood_rps i
	create "$ALICE" '{"name":"flood target"}'
	tok=$TOKEN
	pat_ok "$tok" || { fail "no token minted"; return; }
	forged=$(forge "$tok")
	pat_ok "$forged" || fail "the forged token is not well-formed"
	for i in $(seq 12); do	# warm every worker's cache
		call GET /api/v1/auth/check -H "Authorization: Bearer $tok" "${H[@]}"
	done
	expect_eq "a valid check" "$STATUS" 200
	base=$(rps 4 8 "$tok")
	# The same flood with malformed tokens, which cost no lookup and no
	# Argon2: the share of the web server that any 8 clients take.
	wrk -t1 -c8 -d8s "${H[@]}" -H "Authorization: Bearer 1|malformed" "$URL" >"$WORK/junk.out" 2>&1 &
	local flood=$!
	sleep 1.5
	fair=$(rps 4 8 "$tok")
	wait "$flood"
	wrk -t1 -c8 -d8s "${H[@]}" -H "Authorization: Bearer $forged" "$URL" >"$WORK/flood.out" 2>&1 &
	flood=$!
	sleep 1.5
	under=$(rps 4 8 "$tok")
	wait "$flood"
	flood_rps=$(awk '/Requests\/sec/ { printf "%d\n", $2 }' "$WORK/flood.out")
	echo "# cached checks: $base/s alone, $fair/s beside 8 clients sending malformed tokens, $under/s beside 8 sending forged secrets ($flood_rps/s answered)"
	[ "$base" -gt 0 ] || fail "no valid checks at all"
	# lighttpd shares one core fairly among the 16 connections, so any
	# flood of equal size takes about half; forged secrets may take no more
	# than malformed tokens do (within the noise of two runs of a few
	# seconds: 30 %; Argon2 on every forged secret would leave a tenth), and
	# never leave less than a third.  Not a half: the refusals are answered
	# sooner than a check is, so the flood's connections come back sooner
	# (14,000 refusals a second beside 9,300 checks), and a cached check
	# costs little enough now that this shows.
	[ $((under * 100)) -ge $((fair * 70)) ] || fail "forged secrets cost more than malformed tokens: $under/s against $fair/s"
	[ $((under * 3)) -ge "$base" ] || fail "cached checks fell to $under/s from $base/s"
	# Argon2 at the password cost allows ~100 a second on two cores; at the
	# token cost each forged secret is one cheap refusal.
	[ "${flood_rps:-0}" -ge 500 ] || fail "the flood was answered at only ${flood_rps:-0}/s"
	call GET /api/v1/auth/check -H "Authorization: Bearer $tok" "${H[@]}"
	expect_eq "the holder after the flood" "$STATUS" 200
	call GET /api/v1/auth/check -H "Authorization: Bearer $forged" "${H[@]}"
	[ "$STATUS" = 401 ] || [ "$STATUS" = 503 ] || fail "a forged secret got $STATUS"
}

# Forged secrets spread over many real token numbers (each with a valid
# checksum), five different ones for each number sent in turn, find no
# cache entry to spare them: each costs a read and one Argon2 run at the
# token cost, which must leave the holder's cached checks about the share
# a flood of malformed tokens over as many numbers leaves.
forged_secrets_over_many_tokens() {
	local tok i base fair under flood_rps
	create "$ALICE" '{"name":"the holder"}'
	tok=$TOKEN
	local k
	: >"$WORK/many-tokens"
	: >"$WORK/many-forged"
	: >"$WORK/many-malformed"
	for i in $(seq 200); do
		create "$BOB" "{\"name\":\"one of many $i\"}"
		pat_ok "$TOKEN" || { fail "create $i: $STATUS"; return; }
		echo "$TOKEN" >>"$WORK/many-tokens"
		echo "${TOKEN%%|*}|malformed" >>"$WORK/many-malformed"
	done
	# A number's next forged secret comes 200 requests after its last.
	for k in 0 1 2 3 4; do
		while read -r i; do forge "$i" "$k"; echo; done <"$WORK/many-tokens" >>"$WORK/many-forged"
	done
	[ "$(sort -u "$WORK/many-forged" | grep -c .)" = 1000 ] || fail "not 1000 distinct forged secrets"
	for i in $(seq 12); do
		call GET /api/v1/auth/check -H "Authorization: Bearer $tok" "${H[@]}"
	done
	expect_eq "a valid check" "$STATUS" 200
	base=$(rps 4 8 "$tok")
	flood_many "$WORK/many-malformed" 8 >"$WORK/junk.out" 2>&1 &
	local flood=$!
	sleep 1.5
	fair=$(rps 4 8 "$tok")
	wait "$flood"
	flood_many "$WORK/many-forged" 8 >"$WORK/flood.out" 2>&1 &
	flood=$!
	sleep 1.5
	under=$(rps 4 8 "$tok")
	wait "$flood"
	flood_rps=$(awk '/Requests\/sec/ { printf "%d\n", $2 }' "$WORK/flood.out")
	echo "# cached checks: $base/s alone, $fair/s beside 8 clients sending malformed tokens over 200 numbers, $under/s beside 8 sending 1000 forged secrets over 200 real numbers ($flood_rps/s answered)"
	[ "$base" -gt 0 ] || fail "no valid checks at all"
	# As for one number: within the noise of two short runs (30 %).  Here
	# each forged secret runs Argon2 at the token cost (450,000 instructions
	# against 22,000 for a malformed token, under callgrind), so the share
	# left sits nearer that bound; the rate alone, which swings by half
	# from run to run on a shared machine, is not held to a third of it.
	# FLOOD_FORGED_SHARE (percent, 70 by default): the ASan pass, whose
	# Argon2 runs instrumented, asks only that the holder is not starved.
	[ $((under * 100)) -ge $((fair * ${FLOOD_FORGED_SHARE:-70})) ] || fail "forged secrets over many numbers cost more than malformed tokens: $under/s against $fair/s"
	grep -q 'Non-2xx' "$WORK/flood.out" || fail "the forged secrets were not refused"
	call GET /api/v1/auth/check -H "Authorization: Bearer $(head -n 1 "$WORK/many-forged")" "${H[@]}"
	expect_eq "a forged secret, after the flood" "$STATUS" 401
	call GET /api/v1/auth/check -H "Authorization: Bearer $tok" "${H[@]}"
	expect_eq "the holder after the flood" "$STATUS" 200
}

saturation_gets_503() {
	local i f busy slow
	: >"$WORK/forged"
	for i in $(seq 24); do
		f=$(mint_costly "target $i")
		remember_secret "$f"
		forge "$f" >>"$WORK/forged"
		echo >>"$WORK/forged"
	done
	export URL
	# 8 clients, each token's forged secret 4 times: ~100 Argon2 runs asked for at once.
	for i in 1 2 3 4; do cat "$WORK/forged"; done | grep . | xargs -P 8 -I{} sh -c '
		curl -sS -o /dev/null -D - -w "time=%{time_total}\n" -H "Authorization: Bearer {}" \
			-H "X-Original-Method: GET" -H "X-Original-URI: /protected/read/x" "$URL"' >"$WORK/sat.out" 2>&1
	busy=$(grep -c '^HTTP/1.1 503' "$WORK/sat.out")
	echo "# $busy of 96 forged checks over 24 tokens answered 503 at once"
	[ "$busy" -ge 1 ] || fail "no 503 under saturation"
	[ "$(grep -ci '^Retry-After:' "$WORK/sat.out")" -ge "$busy" ] || fail "a 503 without Retry-After"
	slow=$(awk -F= '/^time=/ && $2 > 3 { n++ } END { print n + 0 }' "$WORK/sat.out")
	expect_eq "checks that waited over 3 s" "$slow" 0
	grep -c '^HTTP/1.1 \(401\|503\)' "$WORK/sat.out" | grep -qx 96 || fail "an answer other than 401 or 503"
}

t_case "forged secrets for a real token: cached checks keep their share, the holder passes" forged_secrets_for_one_token
t_case "forged secrets over many real tokens cost no more than malformed tokens" forged_secrets_over_many_tokens
t_case "Argon2 at a dearer cost saturated: 503 with Retry-After, no queue" saturation_gets_503
t_done
