#!/bin/bash
# sessions.sh: a password change ends every session of its user at once, in
# every worker, as a logout would, and leaves other users' alone; patgate
# prune removes the sessions expired or ended from the database, and the
# live ones go on working, behind lighttpd.
. "$(dirname "$0")/lib.sh"
export PATGATE_PASSWORD_ARGON2=m=1024,t=1,p=1
start_stack 2

# set_pw EMAIL PASSWORD: patgate user passwd, the password on stdin.
set_pw() { printf '%s\n' "$2" | cli user passwd "$1"; }

# login EMAIL PASSWORD: sets STATUS, BODY and SESSION (the body via a file).
login() {
	printf '{"email":"%s","password":"%s"}' "$1" "$2" >"$WORK/login.json"
	call POST /api/v1/auth/login -H 'Content-Type: application/json' \
		--data-binary @"$WORK/login.json"
	rm -f "$WORK/login.json"
	SESSION=$(printf '%s' "$BODY" | jq -r '.data.token // empty' 2>/dev/null)
	remember_secret "$SESSION"
}

# me SESSION: the current user, as that session; sets STATUS.
me() { call GET /api/user -H "Authorization: Bearer $1"; }

# expect_me WHAT SESSION STATUS: twice, so that both workers answer.
expect_me() {
	me "$2"
	expect_eq "$1" "$STATUS" "$3"
	me "$2"
	expect_eq "$1 (again)" "$STATUS" "$3"
}

# sid SESSION: the session's id, the key of its record.
sid() { printf '%s' "${1:4:16}"; }

# stored SESSION: is the session's record in sessions.db?
stored() {
	"$DB_DUMP" -p -h "$PATGATE_DB" sessions.db >"$WORK/sessions.dump" ||
		fail "db_dump sessions.db"
	grep -qx " $(sid "$1")" "$WORK/sessions.dump"
}

passwd_ends_sessions() {
	set_pw alice@example.com 'first password' || fail "user passwd"
	expect_me "a session from before the first password" "$ALICE" 401
	CLI_S=$(cli session new alice@example.com)
	remember_secret "$CLI_S"
	login alice@example.com 'first password'
	expect_eq "first login" "$STATUS" 200
	S1=$SESSION
	login alice@example.com 'first password'
	expect_eq "second login" "$STATUS" 200
	S2=$SESSION
	expect_me "first session before" "$S1" 200
	expect_me "second session before" "$S2" 200
	expect_me "the CLI's session before" "$CLI_S" 200
	set_pw alice@example.com 'second password' || fail "user passwd again"
	expect_me "first session after the change" "$S1" 401
	expect_me "second session after the change" "$S2" 401
	expect_me "the CLI's session after the change" "$CLI_S" 401
	create "$S1" '{"name":"after the change"}'
	expect_eq "create with an ended session" "$STATUS" 401
	expect_me "another user's session" "$BOB" 200
	login alice@example.com 'first password'
	expect_eq "login with the old password" "$STATUS" 401
	login alice@example.com 'second password'
	expect_eq "login with the new password" "$STATUS" 200
	S3=$SESSION
	expect_me "the new session" "$S3" 200
	create "$S3" '{"name":"after the change"}'
	expect_eq "create with the new session" "$STATUS" 201
}

prune_removes_ended_sessions() {
	local short out gone=0 kept=0 s
	short=$(cli session new bob@example.com --ttl 1)
	remember_secret "$short"
	ENDED=$(cli session new bob@example.com)
	remember_secret "$ENDED"
	call POST /api/v1/auth/logout -d '' -H "Authorization: Bearer $ENDED"
	expect_eq "logout" "$STATUS" 200
	sleep 2
	for s in "$S1" "$S2" "$ALICE" "$CLI_S" "$short" "$ENDED" "$S3" "$BOB"; do
		stored "$s" || fail "session $(sid "$s") missing before the prune"
	done
	out=$(cli prune --days 0) || fail "prune"
	expect_eq "tokens pruned" "$out" 0
	for s in "$S1" "$S2" "$ALICE" "$CLI_S" "$short" "$ENDED"; do
		if stored "$s"; then fail "ended session $(sid "$s") still stored"; else gone=$((gone + 1)); fi
	done
	for s in "$S3" "$BOB"; do
		if stored "$s"; then kept=$((kept + 1)); else fail "live session $(sid "$s") removed"; fi
	done
	expect_eq "sessions removed" "$gone" 6
	expect_eq "sessions kept" "$kept" 2
	expect_me "the new session after the prune" "$S3" 200
	expect_me "another user's session after the prune" "$BOB" 200
	expect_me "a removed session" "$S1" 401
	out=$(cli check 2>&1) || fail "check: $out"
}

t_case "user passwd: every session of the user gets 401 at once, others' do not; a new login works" passwd_ends_sessions
t_case "prune removes expired, logged-out and passwd-ended sessions; live ones still work" prune_removes_ended_sessions
t_done
