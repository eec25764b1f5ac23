#!/bin/bash
# notify.sh: patgate notify delivering queued events: the shipped mail hook
# through msmtp to an SMTP server on loopback, the shipped webhook hook to
# an HTTP listener, a failing hook keeping its event, token.expiring queued
# once per token, --dry-run, and --follow stopping cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
need_programs msmtp
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd is not installed"
start_stack 1

MAIL_HOOK="$top_srcdir/deploy/notify/mail.sh"
WEBHOOK="$top_srcdir/deploy/notify/webhook.sh"
SINKS="$top_srcdir/tests/integration/sinks.py"
SINK_PIDS=
# start_sink KIND DIR [CODE]: a receiver from sinks.py; its port in SINK_PORT.
start_sink() {
	local kind=$1 dir=$2
	mkdir -p "$dir"
	/usr/bin/python3 "$SINKS" "$kind" "$dir" "$dir/port" "${3:-200}" 2>>"$WORK/sinks.err" &
	SINK_PIDS="$SINK_PIDS $!"
	for _ in $(seq 100); do
		[ -s "$dir/port" ] && { SINK_PORT=$(cat "$dir/port"); return 0; }
		sleep 0.05
	done
	echo "Bail out! the $kind sink did not start: $(cat "$WORK/sinks.err")"
	exit 99
}
stop_sinks() {
	local p
	for p in $SINK_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap 'stop_sinks; cleanup' EXIT

# leak TOKEN: report it through the API, as a finder would.
leak() {
	call POST /api/v1/credentials/revoke -H 'Content-Type: application/json' \
		--data-binary "{\"credentials\":[\"$1\"]}"
	[ "$STATUS" = 202 ] || fail "report: $STATUS"
}
queued() { cli notify --dry-run | grep -c .; }
id_of() { printf '%s' "$BODY" | jq -r .data.id; }

start_sink smtp "$WORK/mail"
printf 'account default\nhost 127.0.0.1\nport %s\nfrom patgate@example.org\nauth off\ntls off\n' \
	"$SINK_PORT" >"$WORK/msmtprc"
chmod 600 "$WORK/msmtprc"
printf 'account default\nhost 127.0.0.1\nport 9\nfrom patgate@example.org\nauth off\ntls off\n' \
	>"$WORK/msmtprc.down"
chmod 600 "$WORK/msmtprc.down"
export PATGATE_MAIL_FROM=patgate@example.org

mail_to_the_owner() {
	local id secret
	create "$ALICE" '{"name":"deploy key"}'
	id=$(id_of)
	secret=${TOKEN: -48:40}
	leak "$TOKEN"
	expect_eq "queued" "$(queued)" 1
	# The mail server down: the hook fails and the event stays.
	PATGATE_SENDMAIL="msmtp -C $WORK/msmtprc.down" PATGATE_NOTIFY_CMD="$MAIL_HOOK" \
		cli notify && fail "notify exited 0 with the mail server down"
	expect_eq "kept while the server is down" "$(queued)" 1
	PATGATE_SENDMAIL="msmtp -C $WORK/msmtprc" PATGATE_NOTIFY_CMD="$MAIL_HOOK" \
		cli notify || fail "notify failed"
	expect_eq "one mail" "$(find "$WORK/mail" -name '*.eml' | wc -l)" 1
	expect_eq "envelope recipient" "$(cat "$WORK/mail/1.rcpt")" alice@example.com
	grep -q '^To: alice@example.com' "$WORK/mail/1.eml" || fail "no To: alice"
	grep -q '^Subject: .*"deploy key".*leaked' "$WORK/mail/1.eml" || fail "subject: $(grep ^Subject "$WORK/mail/1.eml")"
	grep -q '^From: patgate@example.org' "$WORK/mail/1.eml" || fail "no From"
	grep -q "$id" "$WORK/mail/1.eml" || fail "the token's id is not in the mail"
	grep -q 'Hello Alice' "$WORK/mail/1.eml" || fail "not addressed to Alice"
	grep -qF "$secret" "$WORK/mail/1.eml" && fail "the secret is in the mail"
	expect_eq "delivered, gone from the queue" "$(queued)" 0
}

webhook_gets_the_json() {
	local id
	start_sink http "$WORK/hook"
	export PATGATE_WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/patgate"
	create "$BOB" '{"name":"ci runner"}'
	id=$(id_of)
	leak "$TOKEN"
	echo 500 >"$WORK/hook/code"
	PATGATE_NOTIFY_CMD="$WEBHOOK" cli notify && fail "notify exited 0 on a 500"
	expect_eq "kept after a 500" "$(queued)" 1
	echo 204 >"$WORK/hook/code"
	PATGATE_NOTIFY_CMD="$WEBHOOK" cli notify || fail "notify failed"
	expect_eq "delivered" "$(queued)" 0
	BODY=$(cat "$WORK/hook/1.json" 2>/dev/null)
	expect_jq "the event" ".event == \"token.revoke.leaked\" and .token.id == \"$id\" and .token.name == \"ci runner\" and .token.expires_at == null"
	expect_jq "its owner" ".user == {\"id\": \"$BOB_ID\", \"email\": \"bob@example.com\", \"name\": \"Bob\"}"
	expect_jq "when, and from where" '(.at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and .addr == "127.0.0.1"'
	expect_jq "no secret" '[.. | strings | select(test("pgt_"))] == []'
}

failing_hook_keeps_events() {
	local a b
	create "$ALICE" '{"name":"one"}'; a=$TOKEN
	create "$ALICE" '{"name":"two"}'; b=$TOKEN
	leak "$a"
	leak "$b"
	PATGATE_NOTIFY_CMD='cat >/dev/null; exit 3' cli notify
	expect_eq "exit status" "$?" 1
	expect_eq "both kept" "$(queued)" 2
	# The second fails, the first is delivered: only the second stays.
	PATGATE_NOTIFY_CMD="jq -e '.token.name == \"one\"' >/dev/null" cli notify
	expect_eq "exit status" "$?" 1
	BODY=$(cli notify --dry-run | jq -sc .)
	expect_jq "the failed one stays" '[.[].token.name] == ["two"]'
	PATGATE_NOTIFY_CMD='cat >/dev/null' cli notify || fail "notify failed"
	expect_eq "all delivered" "$(queued)" 0
}

expiring_once() {
	local soon
	create "$ALICE" "{\"name\":\"soon\",\"expires_at\":\"$(date -u -d '+3 days' +%FT%TZ)\"}"
	soon=$(id_of)
	create "$ALICE" "{\"name\":\"later\",\"expires_at\":\"$(date -u -d '+30 days' +%FT%TZ)\"}"
	BODY=$(cli notify --dry-run | jq -sc .)
	expect_jq "one token.expiring, for soon" "[.[] | select(.event == \"token.expiring\") | .token.id] == [\"$soon\"]"
	expect_jq "its expiry" '.[0].token.expires_at | test("Z$")'
	BODY=$(cli notify --dry-run | jq -sc .)
	expect_jq "queued once, not again" 'length == 1'
	PATGATE_NOTIFY_CMD="cat >>$WORK/expiring.json; echo >>$WORK/expiring.json" cli notify ||
		fail "notify failed"
	PATGATE_NOTIFY_CMD="cat >>$WORK/expiring.json; echo >>$WORK/expiring.json" cli notify ||
		fail "notify failed"
	expect_eq "delivered once" "$(grep -c token.expiring "$WORK/expiring.json")" 1
	PATGATE_EXPIRY_NOTICE_DAYS=40 cli notify --dry-run >"$WORK/later.json"
	expect_eq "a longer notice queues the later one" "$(jq -r .token.name "$WORK/later.json")" later
	PATGATE_NOTIFY_CMD='cat >/dev/null' cli notify || fail "notify failed"
}

follow_and_stop() {
	local pid rc
	mkdir -p "$WORK/follow"
	PATGATE_NOTIFY_CMD="cat >$WORK/follow/\$\$.json" "$CLI" notify --follow 2>>"$WORK/cli.err" &
	pid=$!
	create "$BOB" '{"name":"followed"}'
	leak "$TOKEN"
	for _ in $(seq 100); do
		grep -qs followed "$WORK"/follow/*.json && break
		sleep 0.1
	done
	expect_eq "delivered while following" "$(cat "$WORK"/follow/*.json 2>/dev/null | jq -r .token.name)" followed
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && { fail "still running 5 s after SIGTERM"; kill -9 "$pid"; }
	wait "$pid"
	rc=$?
	expect_eq "exit status after SIGTERM" "$rc" 0
	expect_eq "queue empty" "$(queued)" 0
}

t_case "the mail hook mails the owner through msmtp; kept while SMTP is down" mail_to_the_owner
t_case "the webhook hook posts the event; kept on a non-2xx" webhook_gets_the_json
t_case "a failing command keeps its event, the others go on" failing_hook_keeps_events
t_case "token.expiring queued once per token, within PATGATE_EXPIRY_NOTICE_DAYS" expiring_once
t_case "--follow takes events as they come and stops on SIGTERM" follow_and_stop
t_done
