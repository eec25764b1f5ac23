#!/bin/bash
# login.sh: sessions without a shell: passwords from stdin, login, logout,
# one refusal for every bad credential, the lockout and its end, the
# per-address limit, and that a password is never written down or shown in
# a process's arguments, behind lighttpd.
. "$(dirname "$0")/lib.sh"
# The default password cost, so that the timing comparison means something.
export PATGATE_PASSWORD_ARGON2=m=19456,t=2,p=1
export PATGATE_LOGIN_MAX_PER_ADDR=1000
start_stack 2

URL=/api/v1/auth/login
PWLIST="$WORK/passwords"	# every real password, for the searches at the end
SESSIONS="$WORK/sessions"	# every session a login gave
: >"$PWLIST"
: >"$SESSIONS"

# Look at every process's arguments, 20 times a second, for a password.
watch_argv() {
	while :; do
		grep -aoF -f "$PWLIST" /proc/[0-9]*/cmdline >>"$WORK/argv-hits" 2>/dev/null
		sleep 0.05
	done
}
watch_argv &
WATCH_PID=$!
trap 'kill "$WATCH_PID" 2>/dev/null; cleanup' EXIT

remember_pw() { printf '%s\n' "$1" >>"$PWLIST"; }
# set_pw EMAIL PASSWORD: patgate user passwd, the password on stdin.
set_pw() { printf '%s\n' "$2" | cli user passwd "$1"; }
# json_str S: S as a JSON string, made by builtins alone (no argv to see).
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# login EMAIL PASSWORD [curl args...]: the body goes through a file, never
# through curl's arguments; sets STATUS, BODY and SESSION.
login() {
	local e=$1 p=$2
	shift 2
	printf '{"email":%s,"password":%s}' "$(json_str "$e")" "$(json_str "$p")" >"$WORK/login.json"
	call POST $URL -H 'Content-Type: application/json' --data-binary @"$WORK/login.json" "$@"
	rm -f "$WORK/login.json"
	SESSION=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	[ -n "$SESSION" ] && printf '%s\n' "$SESSION" >>"$SESSIONS"
	return 0
}

# timed_login EMAIL PASSWORD: prints "STATUS SECONDS".
timed_login() {
	printf '{"email":%s,"password":%s}' "$(json_str "$1")" "$(json_str "$2")" >"$WORK/login.json"
	curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
		-H 'Content-Type: application/json' --data-binary @"$WORK/login.json" \
		"http://127.0.0.1:$PORT$URL"
	rm -f "$WORK/login.json"
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# wait_out SECONDS: sleep past a Retry-After.
wait_out() { sleep "$(( $1 + 1 ))"; }

login_then_pat() {
	local exp now left
	CAROL_PW='correct horse battery staple'
	remember_pw "$CAROL_PW"
	CAROL_ID=$(printf '%s\n' "$CAROL_PW" | cli user add carol@example.com --name Carol --password-stdin)
	[ -n "$CAROL_ID" ] || fail "user add --password-stdin"
	login carol@example.com "$CAROL_PW"
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '(keys == ["data"]) and (.data | keys) == ["expires_at","token"]'
	expect_match "a session token" "$SESSION" '^pgs_[0-9a-f]{16}_[A-Za-z0-9]{40}[0-9a-f]{8}$'
	expect_match "no-store" "$(header Cache-Control)" no-store
	exp=$(printf '%s' "$BODY" | jq -r .data.expires_at)
	expect_match "expires_at" "$exp" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
	now=$(date +%s)
	left=$(( $(date -d "$exp" +%s) - now ))
	[ "$left" -ge 28790 ] && [ "$left" -le 28800 ] || fail "expires in $left s, not PATGATE_SESSION_TTL"
	CAROL_S1=$SESSION
	create "$CAROL_S1" '{"name":"from login"}'
	expect_eq "create with the login session" "$STATUS" 201
	pat_ok "$TOKEN" || fail "not a PAT: $TOKEN"
	cli verify "$TOKEN" >/dev/null || fail "the PAT does not verify"
	call GET /api/user -H "Authorization: Bearer $CAROL_S1"
	expect_jq "the session is carol's" ".id == \"$CAROL_ID\" and .email == \"carol@example.com\""
	login Carol@Example.COM "$CAROL_PW"
	expect_eq "the email matched without case" "$STATUS" 200
}

passwd_from_stdin() {
	local pw='first password, with a trailing space ' pw2='second password'
	remember_pw "$pw"
	remember_pw "$pw2"
	set_pw alice@example.com "$pw" || fail "user passwd"
	login alice@example.com "$pw"
	expect_eq "login with it" "$STATUS" 200
	login alice@example.com "${pw% }"
	expect_eq "the trailing space is part of it" "$STATUS" 401
	set_pw alice@example.com "$pw2" || fail "user passwd again"
	login alice@example.com "$pw"
	expect_eq "the old password" "$STATUS" 401
	login alice@example.com "$pw2"
	expect_eq "the new password" "$STATUS" 200
	ALICE_PW=$pw2
	printf 'x\n' | cli user passwd nobody@example.com && fail "a password for nobody"
	cli user passwd alice@example.com </dev/null && fail "an empty password taken"
	head -c 1100 /dev/zero | tr '\0' x | cli user passwd alice@example.com && fail "an overlong password taken"
	printf '\377\n' | cli user passwd alice@example.com && fail "a password that is not UTF-8 taken"
	cli user passwd alice@example.com not-a-place-for-it </dev/null 2>/dev/null
	expect_eq "no password argument: usage" "$?" 2
	login alice@example.com "$pw2"
	expect_eq "refusals changed nothing" "$STATUS" 200
}

passwd_on_a_terminal() {
	local pw='typed at a terminal'
	command -v script >/dev/null || { CASE_SKIP="no script(1)"; return; }
	# A chroot without /dev/pts has no terminal to type at.
	script -qec true /dev/null >/dev/null 2>&1 || { CASE_SKIP="no pseudo-terminal here"; return; }
	remember_pw "$pw"
	cli user add dave@example.com --name Dave >/dev/null
	# One line at a time, as typed: lines sent ahead race with the prompts.
	{ sleep 1; printf '%s\n' "$pw"; sleep 1; printf '%s\n' "$pw"; sleep 1; } |
		script -qec "$CLI user passwd dave@example.com" /dev/null >"$WORK/tty.out" 2>&1 ||
		fail "user passwd on a terminal: $(tr -d '\r' <"$WORK/tty.out")"
	grep -q 'New password:' "$WORK/tty.out" || fail "no prompt on a terminal"
	grep -q 'Again:' "$WORK/tty.out" || fail "no confirmation on a terminal"
	login dave@example.com "$pw"
	expect_eq "login with the typed password" "$STATUS" 200
	{ sleep 1; printf '%s\n' "$pw-1"; sleep 1; printf '%s\n' "$pw-2"; sleep 1; } |
		script -qec "$CLI user passwd dave@example.com" /dev/null >"$WORK/tty.out" 2>&1 &&
		fail "two different entries accepted"
	rm -f "$WORK/tty.out"	# the terminal echoed what was typed ahead
	login dave@example.com "$pw"
	expect_eq "a mismatch changes nothing" "$STATUS" 200
}

same_refusal() {
	local a b c
	login alice@example.com 'not her password'
	expect_eq "wrong password" "$STATUS" 401
	a=$BODY
	login nobody@example.com 'not her password'
	expect_eq "unknown email" "$STATUS" 401
	b=$BODY
	login bob@example.com 'bob has none'
	expect_eq "user without a password" "$STATUS" 401
	c=$BODY
	expect_eq "the body" "$a" '{"message":"Invalid credentials."}'
	expect_eq "unknown email, same body" "$b" "$a"
	expect_eq "no password, same body" "$c" "$a"
	expect_eq "no session" "$SESSION" ""
}

equally_slow() {
	local i st t
	for i in 1 2 3 4 5; do
		remember_pw "timing password $i"
		cli user add "t$i@example.com" >/dev/null
		set_pw "t$i@example.com" "timing password $i" || fail "user passwd t$i"
	done
	: >"$WORK/t-unknown"
	: >"$WORK/t-wrong"
	timed_login warm-1@example.com x >/dev/null
	timed_login warm-2@example.com x >/dev/null
	# Interleaved, so that a slow moment of the machine hits both sides.
	# Four wrong guesses per user stays under the lockout.
	for i in $(seq 20); do
		read -r st t <<<"$(timed_login "nobody-$i@example.com" "guess $i")"
		[ "$st" = 401 ] || fail "unknown email $i: $st"
		echo "$t" >>"$WORK/t-unknown"
		read -r st t <<<"$(timed_login "t$(( (i - 1) % 5 + 1 ))@example.com" "guess $i")"
		[ "$st" = 401 ] || fail "wrong password $i: $st"
		echo "$t" >>"$WORK/t-wrong"
	done
	UNKNOWN_MED=$(median "$WORK/t-unknown")
	WRONG_MED=$(median "$WORK/t-wrong")
	echo "# login timing ($PATGATE_PASSWORD_ARGON2, 20 each, interleaved): median unknown email $(awk "BEGIN { printf \"%.1f\", $UNKNOWN_MED * 1000 }") ms, median wrong password $(awk "BEGIN { printf \"%.1f\", $WRONG_MED * 1000 }") ms"
	# LOGIN_TIMING_SPREAD: the share by which the medians may differ.  An
	# oracle (a path that skips Argon2) differs by nearly all of it.
	awk -v a="$UNKNOWN_MED" -v b="$WRONG_MED" -v s="${LOGIN_TIMING_SPREAD:-0.25}" 'BEGIN { m = a > b ? a : b; d = a > b ? a - b : b - a; exit !(m > 0 && d / m < s) }' ||
		fail "the medians differ by ${LOGIN_TIMING_SPREAD:-0.25} of the larger or more"
}

# A password stored at another cost moves to PATGATE_PASSWORD_ARGON2 on its
# next successful login; from then on a wrong password costs what the
# stand-in hash of an unknown email does.  The session is at the token cost.
password_cost_converges() {
	local i st t uid
	remember_pw "an old cheap password"
	uid=$(cli user add old-cost@example.com)
	printf '%s\n' "an old cheap password" |
		PATGATE_PASSWORD_ARGON2=m=1024,t=1,p=1 cli user passwd old-cost@example.com ||
		fail "user passwd at m=1024"
	"$DB_DUMP" -p -h "$PATGATE_DB" users.db | grep -F "$uid" | grep -q 'm=1024,t=1,p=1' ||
		fail "the password was not stored at m=1024"
	login old-cost@example.com "an old cheap password"
	expect_eq "login at the old cost" "$STATUS" 200
	"$DB_DUMP" -p -h "$PATGATE_DB" users.db | grep -F "$uid" | grep -q "$PATGATE_PASSWORD_ARGON2" ||
		fail "the password hash did not move to $PATGATE_PASSWORD_ARGON2"
	"$DB_DUMP" -p -h "$PATGATE_DB" sessions.db | grep -q "m=19456," &&
		fail "a session hashed at the password cost"
	sleep 0.3
	grep -q "event=password.rehashed user=$uid cost=\"$PATGATE_PASSWORD_ARGON2\"" "$WORK/lighttpd.err" ||
		fail "no audit line for the rehash"
	login old-cost@example.com "an old cheap password"
	expect_eq "login at the new cost" "$STATUS" 200
	: >"$WORK/c-unknown"
	: >"$WORK/c-wrong"
	for i in 1 2 3 4; do
		read -r st t <<<"$(timed_login "nobody-c$i@example.com" "guess $i")"
		echo "$t" >>"$WORK/c-unknown"
		read -r st t <<<"$(timed_login old-cost@example.com "guess $i")"
		[ "$st" = 401 ] || fail "wrong password $i: $st"
		echo "$t" >>"$WORK/c-wrong"
	done
	# At m=1024 a wrong password took some 1 ms against 25 for an unknown email.
	awk -v a="$(median "$WORK/c-unknown")" -v b="$(median "$WORK/c-wrong")" \
	    'BEGIN { exit !(b >= 0.5 * a) }' ||
		fail "a wrong password is much quicker than an unknown email: $(median "$WORK/c-wrong") s against $(median "$WORK/c-unknown") s"
}

logout_ends_session() {
	local i s2
	login carol@example.com "$CAROL_PW"
	s2=$SESSION
	# Both workers check it once, so that each holds it in its cache.
	for i in 1 2 3 4; do
		call GET /api/user -H "Authorization: Bearer $s2"
		expect_eq "before logout ($i)" "$STATUS" 200
	done
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $s2"
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '. == {"message":"Logged out"}'
	expect_match "no-store" "$(header Cache-Control)" no-store
	for i in 1 2 3 4; do
		call GET /api/user -H "Authorization: Bearer $s2"
		expect_error 401
	done
	create "$s2" '{"name":"after logout"}'
	expect_error 401
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $s2"
	expect_error 401
	call POST /api/v1/auth/logout -d ''
	expect_error 401
	expect_eq "WWW-Authenticate" "$(header WWW-Authenticate)" Bearer
	create "$CAROL_S1" '{"name":"a pat"}'
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $TOKEN"
	expect_error 401
	call GET /api/user -H "Authorization: Bearer $CAROL_S1"
	expect_eq "her other session lives on" "$STATUS" 200
}

lockout() {
	local i erin_pw="erin's real password" st t secs
	remember_pw "$erin_pw"
	cli user add erin@example.com >/dev/null
	set_pw erin@example.com "$erin_pw"
	for i in 1 2 3 4 5; do
		login erin@example.com "guess $i"
		expect_eq "failure $i" "$STATUS" 401
	done
	login erin@example.com "$erin_pw"
	expect_error 429
	expect_eq "no session" "$SESSION" ""
	secs=$(header Retry-After)
	expect_match "Retry-After" "$secs" '^[0-9]+$'
	[ "${secs:-0}" -ge 890 ] && [ "${secs:-0}" -le 900 ] || fail "Retry-After $secs, not the rest of 15 minutes"
	# Refused before Argon2: far quicker than a check.
	: >"$WORK/t-held"
	for i in 1 2 3 4 5; do
		read -r st t <<<"$(timed_login erin@example.com "$erin_pw")"
		[ "$st" = 429 ] || fail "held attempt $i: $st"
		echo "$t" >>"$WORK/t-held"
	done
	t=$(median "$WORK/t-held")
	echo "# median held (429) login: $(awk "BEGIN { printf \"%.1f\", $t * 1000 }") ms"
	[ -z "${WRONG_MED:-}" ] || awk -v h="$t" -v w="$WRONG_MED" 'BEGIN { exit !(h < w / 2) }' ||
		fail "a held login takes $t s, a checked one $WRONG_MED s: Argon2 ran?"
	login alice@example.com "$ALICE_PW"
	expect_eq "another email is not held" "$STATUS" 200
	for i in 1 2 3 4 5; do
		login ghost@example.com "guess $i"
		expect_eq "unknown email, failure $i" "$STATUS" 401
	done
	login ghost@example.com "guess 6"
	expect_eq "an unknown email is held the same way" "$STATUS" 429
	set_pw erin@example.com "$erin_pw"
	login erin@example.com "$erin_pw"
	expect_eq "a new password from the CLI lifts the lockout" "$STATUS" 200
}

bad_bodies() {
	local big
	call POST $URL -H 'Content-Type:' --data-binary '{"email":"a@b.c","password":"x"}'
	expect_error 415
	call POST $URL -H 'Content-Type: text/plain' --data-binary '{"email":"a@b.c","password":"x"}'
	expect_error 415
	call POST $URL -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"email":"a@b.c","password":"x"}'
	expect_eq "charset allowed" "$STATUS" 401
	call POST $URL -H 'Content-Type: application/json' --data-binary ''
	expect_error 400
	call POST $URL -H 'Content-Type: application/json' --data-binary '{"email":'
	expect_error 400
	call POST $URL -H 'Content-Type: application/json' --data-binary '["a@b.c","x"]'
	expect_error 400
	call POST $URL -H 'Content-Type: application/json' --data-binary $'{"email":"\xff","password":"x"}'
	expect_error 400
	big=$(head -c 70000 /dev/zero | tr '\0' a)
	printf '{"email":"a@b.c","password":"%s"}' "$big" >"$WORK/big.json"
	call POST $URL -H 'Content-Type: application/json' --data-binary @"$WORK/big.json"
	expect_error 413
	call POST $URL -H 'Content-Type: application/json' --data-binary '{}'
	expect_error 422
	expect_jq "both named" '(.errors | keys) == ["email","password"]'
	expect_jq "required" '.errors.email == ["The email field is required."]'
	call POST $URL -H 'Content-Type: application/json' --data-binary '{"email":1,"password":true}'
	expect_error 422
	expect_jq "not strings" '.errors == {"email":["The email must be a string."],"password":["The password must be a string."]}'
	call POST $URL -H 'Content-Type: application/json' --data-binary '{"email":"alice@example.com","password":""}'
	expect_error 422
	expect_jq "only the password" '(.errors | keys) == ["password"]'
	call GET $URL
	expect_error 405
	expect_eq "Allow" "$(header Allow)" POST
	call GET /api/v1/auth/logout
	expect_error 405
	expect_eq "Allow" "$(header Allow)" POST
}

# The window is PATGATE_LOGIN_WINDOW seconds, so a short one shows the end.
window_end_and_per_address() {
	local frank_pw='frank has a password' i secs secs2
	remember_pw "$frank_pw"
	cli user add frank@example.com >/dev/null
	set_pw frank@example.com "$frank_pw"
	stop_workers
	export PATGATE_LOGIN_WINDOW=4 PATGATE_LOGIN_MAX_PER_ADDR=8
	start_workers 2
	unset PATGATE_LOGIN_WINDOW
	export PATGATE_LOGIN_MAX_PER_ADDR=1000
	for i in 1 2 3 4 5; do login frank@example.com "guess $i"; done
	login frank@example.com "$frank_pw"
	expect_eq "held" "$STATUS" 429
	secs=$(header Retry-After)
	[ "${secs:-0}" -ge 1 ] && [ "${secs:-0}" -le 4 ] || fail "Retry-After $secs with a 4 s window"
	# Another address: eight failures at different emails, then it is held.
	for i in 1 2 3 4 5 6 7 8; do
		login "wanderer-$i@example.com" "guess $i" --interface 127.0.0.2
		expect_eq "failure $i from 127.0.0.2" "$STATUS" 401
	done
	login alice@example.com "$ALICE_PW" --interface 127.0.0.2
	expect_eq "the address is held, right password or not" "$STATUS" 429
	secs2=$(header Retry-After)
	expect_match "Retry-After" "$secs2" '^[1-4]$'
	login alice@example.com "$ALICE_PW"
	expect_eq "127.0.0.1 is not held" "$STATUS" 200
	wait_out "$(( secs > secs2 ? secs : secs2 ))"
	login frank@example.com "$frank_pw"
	expect_eq "the email's lockout has ended" "$STATUS" 200
	login alice@example.com "$ALICE_PW" --interface 127.0.0.2
	expect_eq "the address's lockout has ended" "$STATUS" 200
}

audit_lines() {
	sleep 0.3
	grep -q "event=login.success email=carol@example.com user=$CAROL_ID session=[0-9a-f]* addr=127.0.0.1" "$WORK/lighttpd.err" ||
		fail "no login.success line"
	grep -q "event=login.failure email=nobody@example.com addr=127.0.0.1 reason=unknown-email" "$WORK/lighttpd.err" ||
		fail "no login.failure line for an unknown email"
	grep -q "event=login.failure email=alice@example.com addr=127.0.0.1 reason=wrong-password" "$WORK/lighttpd.err" ||
		fail "no login.failure line for a wrong password"
	grep -q "event=login.lockout email=erin@example.com addr=127.0.0.1 held=email retry_after=" "$WORK/lighttpd.err" ||
		fail "no login.lockout line"
	grep -q "event=login.lockout email=alice@example.com addr=127.0.0.2 held=addr" "$WORK/lighttpd.err" ||
		fail "no login.lockout line for the address"
	grep -q "event=logout email=carol@example.com user=$CAROL_ID session=" "$WORK/lighttpd.err" ||
		fail "no logout line"
	grep -q "event=user.passwd user=$ALICE_ID email=alice@example.com" "$WORK/cli.err" ||
		fail "no user.passwd line"
}

# An email holding U+2028, U+0085 and U+2029, which some readers of a log
# take for line ends: escaped in the audit line, behind lighttpd (the
# FastCGI error stream) and as plain CGI (stderr).
separators_escaped() {
	local e=$'x\xe2\x80\xa8event=forged \xc2\x85y\xe2\x80\xa9@example.com' want sep f
	want='email="x\xe2\x80\xa8event=forged \xc2\x85y\xe2\x80\xa9@example.com"'
	login "$e" "whatever"
	expect_eq "status" "$STATUS" 401
	printf '{"email":%s,"password":"whatever"}' "$(json_str "$e")" >"$WORK/login.json"
	env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=$URL REMOTE_ADDR=192.0.2.9 \
		CONTENT_TYPE=application/json CONTENT_LENGTH="$(wc -c <"$WORK/login.json")" \
		timeout 20 "$FCGI" <"$WORK/login.json" >/dev/null 2>"$WORK/cgi.err"
	rm -f "$WORK/login.json"
	sleep 0.3
	for f in "$WORK/lighttpd.err" "$WORK/cgi.err"; do
		grep -qF "event=login.failure $want" "$f" || fail "no escaped login.failure line in ${f##*/}"
		for sep in $'\xe2\x80\xa8' $'\xe2\x80\xa9' $'\xc2\x85'; do
			LC_ALL=C grep -qF "$sep" "$f" && fail "a raw separator in ${f##*/}"
		done
	done
	return 0
}

never_written_down() {
	local f pw s n
	# A check that the watcher sees arguments at all: a canary in argv.
	printf 'canary-%s\n' "$$" >>"$PWLIST"
	bash -c 'sleep 0.5; :' "canary-$$"
	sleep 0.2
	kill "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	grep -q "canary-$$" "$WORK/argv-hits" 2>/dev/null || fail "the argv watcher saw nothing"
	grep -v "canary-$$" "$WORK/argv-hits" | grep -q . &&
		fail "a password in a process's arguments: $(grep -v "canary-$$" "$WORK/argv-hits" | head -n 3)"
	sed -i "/^canary-$$\$/d" "$PWLIST"
	: >"$WORK/dump"
	for f in "$PATGATE_DB"/*.db; do
		"$DB_DUMP" -p -h "$PATGATE_DB" "$(basename "$f")" >>"$WORK/dump" || fail "db_dump $(basename "$f")"
	done
	n=0
	while IFS= read -r pw; do
		n=$((n + 1))
		grep -rqF -- "$pw" "$PATGATE_DB" && fail "password $n is in a file of the environment"
		grep -qF -- "$pw" "$WORK/dump" && fail "password $n is in a database"
		grep -qF -- "$pw" "$WORK/lighttpd.err" && fail "password $n is in the server log"
		grep -qF -- "$pw" "$WORK/cli.err" && fail "password $n is in the CLI's stderr"
	done <"$PWLIST"
	[ "$n" -ge 10 ] || fail "only $n passwords searched for"
	while IFS= read -r s; do
		grep -qF -- "${s: -48:40}" "$WORK/lighttpd.err" "$WORK/cli.err" && fail "a session secret in a log"
	done <"$SESSIONS"
	grep -q '"password":"\$argon2id\$v=19\$m=19456,t=2,p=1\$' "$WORK/dump" || fail "no Argon2id password hash stored"
}

t_case "login: a password from user add --password-stdin; the session mints a PAT" login_then_pat
t_case "user passwd: the first line of stdin, as it is; refusals change nothing" passwd_from_stdin
t_case "user passwd on a terminal: prompted twice, a mismatch refused" passwd_on_a_terminal
t_case "wrong password, unknown email, no password: the same 401" same_refusal
t_case "unknown email and wrong password are equally slow" equally_slow
t_case "a password at another cost moves to the current one on login" password_cost_converges
t_case "logout: 200, then the session fails at once in every worker" logout_ends_session
t_case "lockout: 429 with Retry-After after 5 failures, the right password too, no Argon2" lockout
t_case "bad bodies: 415, 400, 413, 422 per field, 405" bad_bodies
t_case "PATGATE_LOGIN_WINDOW ends a lockout; PATGATE_LOGIN_MAX_PER_ADDR holds an address" window_end_and_per_address
t_case "audit lines for login success, failure, lockout, logout and passwd" audit_lines
t_case "U+2028, U+2029 and U+0085 in a login's email are escaped in its audit line, FastCGI and CGI" separators_escaped
t_case "no password in the environment, a log, or any process's arguments" never_written_down
t_done
