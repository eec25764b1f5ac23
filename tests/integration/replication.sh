#!/bin/bash
# replication.sh: three sites in network namespaces of their own (made here,
# addresses 10.201.0.1-3 on a bridge in a fourth, all torn down on exit),
# each with its environment, patgate-repd, workers and lighttpd: the group
# elects one master, a token made there passes a check at each replica, a
# write at a replica is a 503 naming the master, a replica cut off fails
# closed, a write no quorum acknowledged is a 503 and fresh workers at the
# master write at once.  Root only.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "ip is not installed"
command -v nsenter >/dev/null 2>&1 || skip_all "nsenter is not installed"
need_programs haproxy
# The failover case makes a few hundred tokens for one user.
export PATGATE_MAX_TOKENS_PER_USER=100000

REPD="$top_builddir/patgate-repd"
PANIC_ENV="$top_builddir/tests/integration/panic_env"
NS="pgr$$"
NET=10.201.0
RPORT=7001
HPORT=8080
LBPORT=8081
HAPROXY_PID=
SITES="1 2 3"
REPD_PIDS=
declare -a REPD_PID
SITE_PIDS=

# in_ns NAME COMMAND...: COMMAND in network namespace NAME.  nsenter, not
# `ip netns exec`, which remounts / and /sys and cannot in a chroot.
in_ns() {
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@"
}
# nip NAME ARGS...: ip ARGS in namespace NAME (`ip -n` remounts too).
nip() {
	local n=$1
	shift
	in_ns "$n" ip "$@"
}
# ip netns add makes /run/netns a mount of its own when it is missing;
# taken down again at the end when this script made it and left it empty.
NETNS_MADE=
[ -d /run/netns ] || NETNS_MADE=1

repl_cleanup() {
	local p i
	# shellcheck disable=SC2086
	for p in $SITE_PIDS $REPD_PIDS $HAPROXY_PID; do kill "$p" 2>/dev/null; done
	for p in $SITE_PIDS $REPD_PIDS $HAPROXY_PID; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for i in $SITES 4 h; do ip netns del "$NS$i" 2>/dev/null; done
	if [ -n "$NETNS_MADE" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		umount /run/netns 2>/dev/null
		rmdir /run/netns 2>/dev/null
	fi
	cleanup
}
trap repl_cleanup EXIT

# site_run SITE COMMAND...: run COMMAND in SITE's namespace with its settings
# (with SITE_EXEC=exec, in place of the shell; with REPL_OFF set, without
# the PATGATE_REPL_* ones).
site_run() {
	local i=$1 peers= j
	shift
	for j in $SITES; do
		[ "$j" = "$i" ] || peers="$peers${peers:+,}$NET.$j:$RPORT"
	done
	if [ -n "${REPL_OFF:-}" ]; then	# the site on its own
		${SITE_EXEC:-} nsenter --net="/run/netns/$NS$i" env PATGATE_DB="$WORK/s$i/db" "$@"
		return
	fi
	${SITE_EXEC:-} nsenter --net="/run/netns/$NS$i" env PATGATE_DB="$WORK/s$i/db" \
		PATGATE_REPL_SELF="$NET.$i:$RPORT" PATGATE_REPL_PEERS="$peers" \
		PATGATE_REPL_STALE=5 "$@"
}

# The network: a bridge in namespace h, a veth from it into each site's.
make_net() {
	local i
	ip netns add "${NS}h" || { echo "Bail out! ip netns add failed"; exit 99; }
	# HAProxy runs in h, on the bridge's own address and on h's loopback.
	nip "${NS}h" link add br0 type bridge &&
		nip "${NS}h" link set br0 up &&
		nip "${NS}h" addr add "$NET.254/24" dev br0 &&
		nip "${NS}h" link set lo up || { echo "Bail out! no bridge"; exit 99; }
	for i in $SITES; do
		ip netns add "$NS$i" &&
			nip "${NS}h" link add "p$i" type veth peer name eth0 netns "$NS$i" &&
			nip "${NS}h" link set "p$i" master br0 up &&
			nip "$NS$i" addr add "$NET.$i/24" dev eth0 &&
			nip "$NS$i" link set eth0 up &&
			nip "$NS$i" link set lo up ||
			{ echo "Bail out! cannot make site $i's namespace"; exit 99; }
	done
}

start_repd() {
	local i=$1
	mkdir -p "$WORK/s$i"
	# exec: the pid kept is repd's own.
	(SITE_EXEC=exec site_run "$i" "$REPD" >/dev/null 2>>"$WORK/repd$i.err") &
	REPD_PID[$i]=$!
	REPD_PIDS="$REPD_PIDS $!"
}

# role_of SITE: the role site's repd last logged.
role_of() {
	sed -n 's/.*: role \([a-z]*\),.*/\1/p' "$WORK/repd$1.err" 2>/dev/null | tail -n 1
}

# wait_roles: until one repd says master and the others replica (30 s at most).
MASTER=
wait_roles() {
	local n i m r
	for n in $(seq 150); do
		m=0 r=0 MASTER=
		for i in $SITES; do
			case $(role_of "$i") in
			master) m=$((m + 1)); MASTER=$i ;;
			replica) r=$((r + 1)) ;;
			esac
		done
		[ "$m" = 1 ] && [ "$r" = 2 ] && return 0
		sleep 0.2
	done
	return 1
}

# start_site SITE: workers (spawn-fcgi) and lighttpd on 127.0.0.1:HPORT
# inside the site's namespace.
start_site() {
	# (d after i: the words of one local are expanded before it runs)
	local i=$1
	local d="$WORK/s$i" out
	mkdir -p "$d/www"
	rm -f "$d/fcgi.sock"	# left by workers killed with -9
	out=$(site_run "$i" spawn-fcgi -s "$d/fcgi.sock" -M 0660 -F 2 -- "$FCGI" 2>&1) ||
		{ echo "Bail out! spawn-fcgi at site $i: $out"; exit 99; }
	SITE_PIDS="$SITE_PIDS $(printf '%s\n' "$out" | sed -n 's/.*PID: \([0-9]*\).*/\1/p' | tr '\n' ' ')"
	cat >"$d/lighttpd.conf" <<EOF
server.document-root = "$d/www"
server.port = $HPORT
server.bind = "0.0.0.0"
server.errorlog = "$d/lighttpd.err"
server.modules += ("mod_fastcgi")
fastcgi.server = (
  "/api/" => (( "socket" => "$d/fcgi.sock", "check-local" => "disable" ))
)
EOF
	(SITE_EXEC=exec site_run "$i" lighttpd -D -f "$d/lighttpd.conf" >"$d/lighttpd.out" 2>&1) &
	SITE_PIDS="$SITE_PIDS $!"
}

# at SITE METHOD PATH [curl args...]: sets STATUS and BODY.
at() {
	local i=$1 m=$2 p=$3
	shift 3
	STATUS=$(site_run "$i" curl -sS --max-time 10 -o "$WORK/body" -D "$WORK/headers" \
		-w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$HPORT$p" 2>/dev/null)
	BODY=$(cat "$WORK/body" 2>/dev/null)
}

# wait_health SITE ROLE: until the site's health says 200 and ROLE (20 s at most).
# revive_panicked: a repd that exited after a panic is started again, as
# systemd's Restart=always does (deploy/systemd/patgate-repd.service), and
# the panic's first cause printed.
revive_panicked() {
	local i
	for i in $SITES; do
		[ -n "${REPD_PID[$i]:-}" ] || continue
		kill -0 "${REPD_PID[$i]}" 2>/dev/null && continue
		tail -n 1 "$WORK/repd$i.err" 2>/dev/null | grep -q 'failed (panic)' || continue
		wait "${REPD_PID[$i]}" 2>/dev/null
		echo "# site $i: repd exited after a panic, started again as systemd would;" \
			"first: $(grep -v -e fop_read_meta -e 'Open file handle' "$WORK/repd$i.err" |
			grep -m 3 -E 'BDB[0-9]' | tr '\n' ' ')"
		start_repd "$i"
	done
}

wait_health() {
	local n
	for n in $(seq 100); do
		revive_panicked
		at "$1" GET /api/v1/health
		[ "$STATUS" = 200 ] && [ "$(printf '%s' "$BODY" | jq -r .role)" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# check_at SITE TOKEN: a guarded GET checked at SITE; sets STATUS and BODY.
check_at() {
	at "$1" GET /api/v1/auth/check -H "Authorization: Bearer $2" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /app/x"
}

# poll WANT TRIES COMMAND...: COMMAND (which sets STATUS) until STATUS is
# WANT, at most TRIES times 0.1 s apart; false if it never was.  POLL_MS:
# how long it took.
poll() {
	local want=$1 tries=$2 n t0
	shift 2
	t0=$(date +%s%N)
	for n in $(seq "$tries"); do
		"$@"
		[ "$STATUS" = "$want" ] && break
		sleep 0.1
	done
	POLL_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$STATUS" = "$want" ]
}

# wait_pass SITE TOKEN: until TOKEN passes a check at SITE (5 s at most).
wait_pass() {
	poll 200 50 check_at "$1" "$2"
}

# passes_at_replicas MASTER WHAT TOKEN: TOKEN passes a check at every site
# but MASTER within wait_pass's time (the master's log applied there).
passes_at_replicas() {
	local i
	for i in $SITES; do
		[ "$i" = "$1" ] && continue
		wait_pass "$i" "$3"
		expect_eq "$2, checked at replica $i" "$STATUS" 200
	done
}

# create_at SITE NAME: a create of a token named NAME at SITE for alice.
create_at() {
	at "$1" POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
		-H 'Content-Type: application/json' --data-binary "{\"name\":\"$2\",\"abilities\":[\"read\"]}"
	[ "$STATUS" = 201 ] && remember_secret "$(printf '%s' "$BODY" | jq -r '.data.token // empty')"
}

export PATGATE_RULES="$WORK/rules"
printf 'GET /app/* read\n' >"$PATGATE_RULES"
make_net
for i in $SITES; do start_repd "$i"; done
wait_roles || { echo "Bail out! no master and two replicas: $(cat "$WORK"/repd*.err)"; exit 99; }
# The database is made at the master, and reaches the replicas from there.
site_run "$MASTER" "$CLI" init 2>>"$WORK/cli.err" ||
	{ echo "Bail out! patgate init at the master failed: $(cat "$WORK/cli.err")"; exit 99; }
site_run "$MASTER" "$CLI" user add alice@example.com --name Alice >/dev/null 2>>"$WORK/cli.err" ||
	{ echo "Bail out! user add failed: $(cat "$WORK/cli.err")"; exit 99; }
ALICE=$(site_run "$MASTER" "$CLI" session new alice@example.com 2>>"$WORK/cli.err")
[ -n "$ALICE" ] || { echo "Bail out! no session: $(cat "$WORK/cli.err")"; exit 99; }
remember_secret "$ALICE"
for i in $SITES; do start_site "$i"; done

one_master_two_replicas() {
	local i
	for i in $SITES; do
		if [ "$i" = "$MASTER" ]; then
			wait_health "$i" master || fail "site $i: health $STATUS $BODY, want master"
		else
			wait_health "$i" replica || fail "site $i: health $STATUS $BODY, want replica"
		fi
	done
}

master_token_passes_at_replicas() {
	local i n tok t0 t1
	at "$MASTER" POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
		-H 'Content-Type: application/json' --data-binary '{"name":"r","abilities":["read"]}'
	expect_eq "create at the master" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	remember_secret "$tok"
	TOK=$tok
	[ -n "$tok" ] || return
	t0=$(date +%s%N)
	passes_at_replicas "$MASTER" "the token made at the master" "$tok"
	t1=$(date +%s%N)
	echo "# the token passed at both replicas within $(( (t1 - t0) / 1000000 )) ms"
	# A token nobody made is refused there as anywhere.
	for i in $SITES; do
		check_at "$i" "${tok%?}x"
		expect_eq "a damaged token at site $i" "$STATUS" 401
	done
}

# A check at a replica, which cannot write, still reaches the token's
# record: its last use and address arrive at the master (repd carries
# them) and come back to every site with the write.
replica_use_reaches_master() {
	local i r= o= id tok
	for i in $SITES; do
		[ "$i" = "$MASTER" ] && continue
		if [ -z "$r" ]; then r=$i; else o=$i; fi
	done
	create_at "$MASTER" used-at-a-replica
	expect_eq "create at the master" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	[ -n "$tok" ] && [ -n "$id" ] || return
	wait_pass "$r" "$tok"
	expect_eq "check at replica $r" "$STATUS" 200
	used_at() {
		at "$1" GET "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
		[ "$(printf '%s' "$BODY" | jq -r '.data.last_used_at // empty')" != "" ] || STATUS=none
	}
	poll 200 50 used_at "$MASTER" ||
		fail "the master's record has no last use 5 s after the check at replica $r: $BODY"
	echo "# the use at replica $r reached the master's record within $POLL_MS ms"
	expect_eq "the address the master's record holds" \
		"$(printf '%s' "$BODY" | jq -r '.data.last_used_ips[0].ip // empty')" 127.0.0.1
	poll 200 50 used_at "$o" ||
		fail "replica $o's record has no last use 5 s after the master's: $BODY"
}

write_at_replica_names_master() {
	local i before after
	before=$(site_run "$MASTER" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
	for i in $SITES; do
		[ "$i" = "$MASTER" ] && continue
		at "$i" POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
			-H 'Content-Type: application/json' --data-binary '{"name":"w"}'
		expect_eq "create at replica $i" "$STATUS" 503
		expect_eq "Retry-After at replica $i" "$(grep -i '^Retry-After:' "$WORK/headers" |
			cut -d: -f2- | tr -d ' \r')" 1
		expect_eq "message at replica $i" "$(printf '%s' "$BODY" | jq -r .message)" \
			"This site is a replica; the master is $NET.$MASTER:$RPORT."
	done
	after=$(site_run "$MASTER" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
	expect_eq "tokens after the refused creates" "$after" "$before"
}

# A revoke at the master is refused at every replica once its 200 is
# answered: the master waits for each site it reaches to apply it.  One
# replica's repd (which applies and acknowledges there) is held stopped
# for 0.4 s as the revoke commits, so the 200 must wait for it; a policy
# content with a quorum would answer first and that replica would still
# pass the token.  The replicas' workers read the record again in the
# second the revoke is answered in: a worker that kept a record it read
# for the rest of that second would pass the token after the 200.
revoke_reaches_replicas() {
	local i n tok id t0 t1 slow= waited resume sec
	create_at "$MASTER" revoked-soon
	expect_eq "create at the master" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	[ -n "$tok" ] && [ -n "$id" ] || return
	for i in $SITES; do
		wait_pass "$i" "$tok"
		expect_eq "check at site $i before the revoke" "$STATUS" 200
		[ "$i" != "$MASTER" ] && slow=$i
	done
	# From the top of a second: checks (both workers, likely) and the
	# revoke and the checks after it all fall within that second.
	while [ $(( $(date +%s%N) / 1000000 % 1000 )) -gt 50 ]; do sleep 0.01; done
	sec=$(date +%s)
	for i in $SITES; do
		[ "$i" = "$MASTER" ] && continue
		for n in 1 2 3 4; do check_at "$i" "$tok"; done
		expect_eq "check at replica $i just before the revoke" "$STATUS" 200
	done
	kill -STOP "${REPD_PID[$slow]}"
	(sleep 0.4; kill -CONT "${REPD_PID[$slow]}") &
	resume=$!
	t0=$(date +%s%N)
	at "$MASTER" DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	t1=$(date +%s%N)
	waited=$(( (t1 - t0) / 1000000 ))
	expect_eq "revoke at the master" "$STATUS" 200
	for i in $SITES; do
		[ "$i" = "$MASTER" ] && continue
		check_at "$i" "$tok"
		expect_eq "check at replica $i right after the revoke's 200" "$STATUS" 401
	done
	[ "$(date +%s)" = "$sec" ] && echo "# the checks before and after the revoke fell in one second"
	wait "$resume"
	kill -CONT "${REPD_PID[$slow]}" 2>/dev/null
	echo "# the revoke's 200 came $waited ms after it was sent, replica $slow held 400 ms"
}

# check SITE: a check of TOK at SITE; sets STATUS and BODY.
check() {
	check_at "$1" "$TOK"
}

# A replica cut off (its link down) refuses checks within PATGATE_REPL_STALE
# (5 s) and a little, and serves again once it is back.
replica_cut_off_fails_closed() {
	local r
	[ -n "${TOK:-}" ] || { fail "no token from the create case"; return; }
	for r in $SITES; do [ "$r" != "$MASTER" ] && break; done
	check "$r"
	expect_eq "check at replica $r before" "$STATUS" 200
	nip "$NS$r" link set eth0 down
	poll 503 150 check "$r"
	expect_eq "check at the cut-off replica" "$STATUS" 503
	expect_eq "Retry-After" "$(grep -i '^Retry-After:' "$WORK/headers" | cut -d: -f2- | tr -d ' \r')" 1
	echo "# the cut-off replica refused checks $POLL_MS ms after its link went down"
	[ "$POLL_MS" -le 8000 ] || fail "refused only after $POLL_MS ms"
	# The others go on.
	check "$MASTER"
	expect_eq "check at the master meanwhile" "$STATUS" 200
	nip "$NS$r" link set eth0 up
	poll 200 300 check "$r"
	expect_eq "check at the replica once back" "$STATUS" 200
	echo "# and served again $POLL_MS ms after it came back"
}

# With both replicas cut off, the master cannot have a quorum hold a write:
# a create there is 503 (after the 1 s acknowledgement timeout), never a
# 201 the master's loss could undo; with the links back, 201 again.
# create_at_master NAME: create_at wherever health now says master.
create_at_master() {
	find_master >/dev/null 2>&1 && create_at "$MASTER" "$1"
}

write_without_quorum_is_503() {
	local r t0 t1
	find_master || { fail "no master and two replicas by health"; return; }
	create_at "$MASTER" q-before
	expect_eq "create at the master with the group whole" "$STATUS" 201
	for r in $SITES; do [ "$r" != "$MASTER" ] && nip "$NS$r" link set eth0 down; done
	t0=$(date +%s%N)
	create_at "$MASTER" q-alone
	t1=$(date +%s%N)
	expect_eq "create at the master with no replica reachable" "$STATUS" 503
	expect_eq "Retry-After" "$(grep -i '^Retry-After:' "$WORK/headers" | cut -d: -f2- | tr -d ' \r')" 1
	expect_match "message" "$(printf '%s' "$BODY" | jq -r .message)" "quorum of sites has not confirmed"
	expect_eq "no token in the refusal" "$(printf '%s' "$BODY" | jq -r '.data.token // empty')" ""
	echo "# without a quorum the create was refused after $(( (t1 - t0) / 1000000 )) ms"
	for r in $SITES; do [ "$r" != "$MASTER" ] && nip "$NS$r" link set eth0 up; done
	poll 201 200 create_at_master q-after
	expect_eq "create at the master once the links are back" "$STATUS" 201
	echo "# and made again $POLL_MS ms after the links came back"
}

# restart_workers SITE: the site's workers stopped and two fresh ones started
# on the same socket.
restart_workers() {
	local i=$1 p out old=
	for p in $(ip netns pids "$NS$i"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = patgate.fcgi ] && old="$old $p"
	done
	[ -n "$old" ] || { fail "no worker found at site $i"; return 1; }
	# shellcheck disable=SC2086
	kill $old
	for p in $old; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	echo "# site $i: workers$old stopped"
	out=$(site_run "$i" spawn-fcgi -s "$WORK/s$i/fcgi.sock" -M 0660 -F 2 -- "$FCGI" 2>&1) ||
		{ fail "spawn-fcgi at site $i: $out"; return 1; }
	SITE_PIDS="$SITE_PIDS $(printf '%s\n' "$out" | sed -n 's/.*PID: \([0-9]*\).*/\1/p' | tr '\n' ' ')"
}

# Fresh workers at the master: their first writes are acknowledged, not
# 503 while their own connections to the replicas come up.
fresh_master_workers_write() {
	local n ok=0
	find_master || { fail "no master and two replicas by health"; return; }
	restart_workers "$MASTER" || return
	for n in 1 2 3 4; do
		create_at "$MASTER" "fresh-$n"
		if [ "$STATUS" = 201 ]; then ok=$((ok + 1)); else echo "# create $n: $STATUS $BODY"; fi
	done
	expect_eq "creates answered 201 of 4 by fresh workers" "$ok" 4
}

# find_master: by health, until one site says master and the others replica
# (20 s at most); sets MASTER.  A replica back from a cut-off may have
# called an election the others joined, so the master may have moved.
find_master() {
	local n i m r
	for n in $(seq 100); do
		revive_panicked
		m=0 r=0
		for i in $SITES; do
			at "$i" GET /api/v1/health
			case $(printf '%s' "$BODY" | jq -r .role 2>/dev/null) in
			master) m=$((m + 1)); MASTER=$i ;;
			replica) r=$((r + 1)) ;;
			esac
		done
		[ "$m" = 1 ] && [ "$r" = 2 ] && return 0
		sleep 0.2
	done
	for i in $SITES; do
		at "$i" GET /api/v1/health
		echo "# site $i: health $STATUS $BODY"
	done
	group_dump
	return 1
}

# group_dump: once a run, what each site's repd last said and what Berkeley
# DB says of its replication state, for a group found in no shape.
GROUP_DUMPED=
group_dump() {
	local i
	[ -n "$GROUP_DUMPED" ] && return
	GROUP_DUMPED=1
	for i in $SITES; do
		# The first of Berkeley DB's complaints, which the tail below may
		# have scrolled past (a panic's cause comes before its echoes),
		# from repd and from the workers (lighttpd's error log).
		grep -v -e fop_read_meta -e 'Open file handle' "$WORK/repd$i.err" 2>/dev/null |
			grep -m 8 -iE 'BDB[0-9]|panic|recover|rollback' | sed "s/^/# repd $i, first: /"
		grep -m 8 -iE 'BDB[0-9]|panic|recover|rollback' "$WORK/s$i/lighttpd.err" 2>/dev/null |
			sed "s/^/# workers $i, first: /"
		tail -n 6 "$WORK/repd$i.err" 2>/dev/null | sed "s/^/# repd $i: /"
		timeout 10 db5.3_stat -h "$WORK/s$i/db" -r 2>&1 |
			grep -iE 'environment configured|master|election|generation|startup|needed|duplicated|log records received|waiting' |
			head -n 14 | sed "s/^/# stat $i: /"
	done
}

# A replica's repd killed (-9) while its workers stay: they answer 503
# (nothing published lately), and a new repd (failchk frees the dead one's
# place as listener) makes the site a replica that passes checks again.
repd_killed_and_restarted() {
	local r t0 t1
	[ -n "${TOK:-}" ] || { fail "no token from the create case"; return; }
	find_master || { fail "no master and two replicas by health"; return; }
	for r in $SITES; do [ "$r" != "$MASTER" ] && break; done
	kill -9 "${REPD_PID[$r]}"
	wait "${REPD_PID[$r]}" 2>/dev/null
	poll 503 100 at "$r" GET /api/v1/health
	expect_eq "health without repd" "$STATUS" 503
	echo "# health said 503 $POLL_MS ms after repd was killed"
	check "$r"
	expect_eq "check without repd" "$STATUS" 503
	start_repd "$r"
	t0=$(date +%s%N)
	wait_health "$r" replica || fail "health after the restart: $STATUS $BODY"
	poll 200 100 check "$r"
	t1=$(date +%s%N)
	expect_eq "check after the restart" "$STATUS" 200
	echo "# a replica again, passing checks, $(( (t1 - t0) / 1000000 )) ms after the restart"
	grep -v fop_read_meta "$WORK/repd$r.err" | tail -n 3 | sed 's/^/# /'
}

# A replica's environment failed (a panic, here made on purpose): its repd
# exits, leaving the environment for the next one to recover; started
# again, as systemd's Restart=always does, it recovers, and the site is a
# replica holding the group's writes.  A repd that closed the failed
# environment on its way out left a registry with no dead process in it:
# the next one joined the failed regions and the site stayed down.
# replica_panic_recovers [--register]: panic_env's way of failing a
# replica's environment (see panic_env.c); each raises its own event.
replica_panic_recovers() {
	local r t0 tok
	[ -n "${TOK:-}" ] || { fail "no token from the create case"; return; }
	find_master || { fail "no master and two replicas by health"; return; }
	for r in $SITES; do [ "$r" != "$MASTER" ] && break; done
	site_run "$r" "$PANIC_ENV" "$@" "$WORK/s$r/db" 2>>"$WORK/cli.err" ||
		{ fail "panic_env at site $r: $(tail -n 2 "$WORK/cli.err")"; return; }
	wait_gone "${REPD_PID[$r]}" 100 ||
		{ fail "repd at site $r still runs 5 s after the panic"; return; }
	wait "${REPD_PID[$r]}" 2>/dev/null
	expect_match "repd's last word" "$(tail -n 1 "$WORK/repd$r.err")" 'panic.*recovers'
	check "$r"
	expect_eq "check at the failed site" "$STATUS" 503
	start_repd "$r"
	t0=$(date +%s%N)
	wait_health "$r" replica || fail "health after the restart: $STATUS $BODY"
	poll 200 100 check "$r"
	expect_eq "check after the restart" "$STATUS" 200
	echo "# a replica again, passing checks, $(( ($(date +%s%N) - t0) / 1000000 )) ms after the restart"
	create_at "$MASTER" after-the-panic
	expect_eq "create at the master after the panic" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	passes_at_replicas "$MASTER" "the token made after the panic" "$tok"
}

# start_haproxy: deploy/haproxy/patgate.cfg in namespace h, in front of the
# three sites, on h's 127.0.0.1:LBPORT.
start_haproxy() {
	sed -e "s/@BIND@/127.0.0.1:$LBPORT/" -e "s/@SITE1@/$NET.1:$HPORT/" \
		-e "s/@SITE2@/$NET.2:$HPORT/" -e "s/@SITE3@/$NET.3:$HPORT/" \
		"$top_srcdir/deploy/haproxy/patgate.cfg" >"$WORK/haproxy.cfg"
	# nsenter in place (not the in_ns function): $! is then haproxy itself.
	nsenter --net="/run/netns/${NS}h" haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.out" 2>&1 &
	HAPROXY_PID=$!
}

# lb METHOD PATH [curl args...]: a request through HAProxy; STATUS and BODY.
lb() {
	local m=$1 p=$2
	shift 2
	STATUS=$(in_ns "${NS}h" curl -sS --max-time 10 -o "$WORK/lbbody" \
		-w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$LBPORT$p" 2>/dev/null)
	BODY=$(cat "$WORK/lbbody" 2>/dev/null)
}

lb_check() {
	lb GET /api/v1/auth/check -H "Authorization: Bearer $1" \
		-H "X-Original-Method: GET" -H "X-Original-URI: /app/x"
}

# Through HAProxy: a create reaches the master, a check any site.
through_haproxy() {
	local n ok=0 t0 t1
	start_haproxy
	for n in $(seq 50); do
		lb POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
			-H 'Content-Type: application/json' --data-binary '{"name":"lb","abilities":["read"]}'
		[ "$STATUS" = 201 ] && break
		sleep 0.2
	done
	expect_eq "create through HAProxy" "$STATUS" 201
	LB_TOK=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	remember_secret "$LB_TOK"
	# A replica the committing worker was not connected to (one whose repd
	# restarted in the case before: the worker reconnects within the 1 s
	# connection retry) is not waited for, and learns the token a moment
	# later; until then it refuses it (401), never the reverse.
	t0=$(date +%s%N)
	for n in $(seq 50); do
		lb_check "$LB_TOK"
		if [ "$STATUS" = 200 ]; then ok=$((ok + 1)); else ok=0; fi
		[ "$ok" = 6 ] && break
		sleep 0.1
	done
	t1=$(date +%s%N)
	expect_eq "checks in a row through HAProxy (round robin over 3 sites)" "$ok" 6
	echo "# 6 checks in a row passed through HAProxy $(( (t1 - t0) / 1000000 )) ms after the 201"
}

# writer: until $WORK/stop exists, creates through HAProxy, and a revoke of
# every third token made; each answered create (id, token) goes to
# $WORK/made, each answered revoke's id to $WORK/revoked (the others' to
# $WORK/unsure), every status to $WORK/statuses with the times the request
# was sent and answered.
writer() {
	local n=0 made=0 id tok sent sess
	while [ ! -e "$WORK/stop" ]; do
		n=$((n + 1))
		# A logout of the next of alice's spare sessions, while they last.
		sess=$(sed -n "${n}p" "$WORK/spare-sessions")
		if [ -n "$sess" ]; then
			sent=$(date +%s%N)
			lb POST /api/v1/auth/logout -d "" -H "Authorization: Bearer $sess"
			echo "logout $STATUS $sent $(date +%s%N)" >>"$WORK/statuses"
			if [ "$STATUS" = 200 ]; then echo "$sess" >>"$WORK/logged-out"
			else echo "$sess" >>"$WORK/unsure"; fi
		fi
		sent=$(date +%s%N)
		lb POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
			-H 'Content-Type: application/json' \
			--data-binary "{\"name\":\"f$n\",\"abilities\":[\"read\"]}"
		echo "create $STATUS $sent $(date +%s%N) $(printf '%s' "$BODY" | jq -r '.data.id // empty' 2>/dev/null)" >>"$WORK/statuses"
		[ "$STATUS" = 201 ] || { sleep 0.05; continue; }
		id=$(printf '%s' "$BODY" | jq -r .data.id)
		tok=$(printf '%s' "$BODY" | jq -r .data.token)
		printf '%s %s\n' "$id" "$tok" >>"$WORK/made"
		made=$((made + 1))
		[ $((made % 3)) = 0 ] || continue
		sent=$(date +%s%N)
		lb DELETE "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
		echo "revoke $STATUS $sent $(date +%s%N) $id" >>"$WORK/statuses"
		# A revoke not answered 200 may or may not have happened.
		if [ "$STATUS" = 200 ]; then echo "$id" >>"$WORK/revoked"
		else echo "$id" >>"$WORK/unsure"; fi
	done
}

# verify_at SITE: every answered create is among the tokens SITE lists and
# passes a check there, every answered revoke is refused there (a token
# whose revoke had no answer may be either), every session whose logout was
# answered is refused there and every spare session never sent out still
# works; LOST counts the others.
verify_at() {
	local i=$1 id tok want sess
	LOST=0
	while read -r sess; do
		want=200
		grep -qxF "$sess" "$WORK/logged-out" 2>/dev/null && want=401
		grep -qxF "$sess" "$WORK/unsure" 2>/dev/null && continue
		at "$i" GET /api/user -H "Authorization: Bearer $sess"
		[ "$STATUS" = "$want" ] || { LOST=$((LOST + 1)); echo "# site $i: a session is $STATUS, want $want"; }
	done <"$WORK/spare-sessions"
	at "$i" GET "/api/v1/user/api-tokens?state=all" -H "Authorization: Bearer $ALICE"
	printf '%s' "$BODY" | jq -r '.data[].id' >"$WORK/listed" 2>/dev/null
	while read -r id tok; do
		grep -qx "$id" "$WORK/listed" ||
			{ LOST=$((LOST + 1)); echo "# site $i: $id is not listed"; continue; }
		grep -qx "$id" "$WORK/unsure" 2>/dev/null && continue
		want=200
		grep -qx "$id" "$WORK/revoked" 2>/dev/null && want=401
		check_at "$i" "$tok"
		[ "$STATUS" = "$want" ] || { LOST=$((LOST + 1)); echo "# site $i: $id is $STATUS, want $want"; }
	done <"$WORK/made"
}

# master_but SITE: until a site other than SITE says master by health (10 s
# at most); sets OTHER to it, or empty.
master_but() {
	local n i
	OTHER=
	for n in $(seq 100); do
		for i in $SITES; do
			[ "$i" = "$1" ] && continue
			at "$i" GET /api/v1/health
			[ "$(printf '%s' "$BODY" | jq -r .role 2>/dev/null)" = master ] && OTHER=$i && return 0
		done
		sleep 0.1
	done
	return 1
}

# Every process of the master's site killed (-9) under a stream of creates
# and revokes through HAProxy: a new master within 10 s, writes resume,
# and nothing answered is lost.
OLD_MASTER=
master_killed() {
	local t0 t1 n i kill_ns ok first made revoked sess
	find_master || { fail "no master and two replicas by health"; return; }
	OLD_MASTER=$MASTER
	rm -f "$WORK/stop" "$WORK/made" "$WORK/revoked" "$WORK/unsure" "$WORK/statuses" \
		"$WORK/logged-out" "$WORK/spare-sessions"
	# Enough for the rounds before the kill and through the failover.
	for n in $(seq 40); do
		site_run "$MASTER" "$CLI" session new alice@example.com 2>>"$WORK/cli.err"
	done >"$WORK/spare-sessions"
	while read -r sess; do remember_secret "$sess"; done <"$WORK/spare-sessions"
	[ "$(grep -c . "$WORK/spare-sessions")" = 40 ] || { fail "40 spare sessions: $(tail -n 2 "$WORK/cli.err")"; return; }
	writer &
	local wpid=$!
	sleep 3
	kill_ns=$(date +%s%N)
	# shellcheck disable=SC2046
	kill -9 $(ip netns pids "$NS$OLD_MASTER") 2>/dev/null
	master_but "$OLD_MASTER" && MASTER=$OTHER
	t1=$(date +%s%N)
	[ "$MASTER" != "$OLD_MASTER" ] || { fail "no new master"; touch "$WORK/stop"; wait "$wpid"; return; }
	echo "# site $MASTER is master $(( (t1 - kill_ns) / 1000000 )) ms after site $OLD_MASTER was killed"
	[ $(( (t1 - kill_ns) / 1000000 )) -le 10000 ] || fail "the new master took more than 10 s"
	# Writes through HAProxy resume: a create sent after the kill is 201.
	for n in $(seq 150); do
		revive_panicked
		first=$(awk -v k="$kill_ns" '$1 == "create" && $2 == 201 && $3 > k { print $4; exit }' \
			"$WORK/statuses" 2>/dev/null)
		[ -n "$first" ] && break
		sleep 0.1
	done
	[ -n "$first" ] || fail "no create sent after the kill was answered 201 through HAProxy"
	[ -n "$first" ] && echo "# the first create sent after the kill was answered 201 $(( (first - kill_ns) / 1000000 )) ms after it"
	sleep 2
	touch "$WORK/stop"
	wait "$wpid"
	made=$(wc -l <"$WORK/made")
	revoked=$(wc -l <"$WORK/revoked" 2>/dev/null || echo 0)
	echo "# answered: $made creates, $revoked revokes, $(grep -c . "$WORK/logged-out" 2>/dev/null) logouts; statuses: $(awk '{ print $1 "=" $2 }' "$WORK/statuses" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
	[ "$made" -gt 0 ] || fail "no create was answered"
	# A replica whose repd a panic took down (started again by now) has
	# synced once it says replica; the others say so at once.
	revive_panicked
	for i in $SITES; do
		{ [ "$i" = "$OLD_MASTER" ] || [ "$i" = "$MASTER" ]; } && continue
		wait_health "$i" replica || fail "site $i: health $STATUS $BODY, want replica"
	done
	for i in $SITES; do
		[ "$i" = "$OLD_MASTER" ] && continue
		verify_at "$i"
		expect_eq "answered writes lost at site $i" "$LOST" 0
		[ "$LOST" = 0 ] || group_dump
	done
	while read -r _ tok; do remember_secret "$tok"; done <"$WORK/made"
}

# The master cut off from the others (its link down) while a client keeps
# writing to it directly: the others elect a master of their own; the cut
# master can have no quorum hold a write, so it answers 503 (never 201, and
# never 500 as its role moves under a write); back, it follows the new
# master, and every create it answered 201 is there.
master_cut_off() {
	local m n i made=0 other= t0 id
	find_master || { fail "no master and two replicas by health"; return; }
	m=$MASTER
	rm -f "$WORK/stop" "$WORK/cut-statuses" "$WORK/cut-made"
	(
		n=0
		while [ ! -e "$WORK/stop" ]; do
			n=$((n + 1))
			at "$m" POST /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE" \
				-H 'Content-Type: application/json' \
				--data-binary "{\"name\":\"cut$n\",\"abilities\":[\"read\"]}"
			echo "$STATUS" >>"$WORK/cut-statuses"
			[ "$STATUS" = 201 ] && printf '%s\n' "$BODY" | jq -r '.data.id' >>"$WORK/cut-made"
			sleep 0.05
		done
	) &
	local wpid=$!
	# Checks at the replicas all along, so that uses are on their way to
	# the master as it goes: repd's loop once sent them itself, and,
	# waiting on a connect to the cut master, left a replica elected
	# meanwhile saying replica until the link came back.
	(
		while [ ! -e "$WORK/stop" ]; do
			for i in $SITES; do
				[ "$i" = "$m" ] || site_run "$i" curl -s -o /dev/null --max-time 2 \
					-H "Authorization: Bearer ${TOK:-}" -H "X-Original-Method: GET" \
					-H "X-Original-URI: /app/x" "http://127.0.0.1:$HPORT/api/v1/auth/check"
			done
			sleep 0.05
		done
	) &
	local cpid=$!
	sleep 1
	nip "$NS$m" link set eth0 down
	t0=$(date +%s%N)
	master_but "$m" && other=$OTHER
	[ -n "$other" ] || fail "the others elected no master in 10 s"
	[ -n "$other" ] && echo "# site $other is master $(( ($(date +%s%N) - t0) / 1000000 )) ms after site $m was cut off"
	sleep 2
	nip "$NS$m" link set eth0 up
	t0=$(date +%s%N)
	wait_health "$m" replica || fail "site $m: health $STATUS $BODY, want replica once back"
	echo "# site $m is a replica $(( ($(date +%s%N) - t0) / 1000000 )) ms after its link came back"
	sleep 1
	touch "$WORK/stop"
	wait "$wpid" "$cpid"
	echo "# statuses at the cut master: $(sort "$WORK/cut-statuses" | uniq -c | tr -s ' ' | tr '\n' ',')"
	expect_eq "answers other than 201 and 503" \
		"$(grep -cvxE '201|503' "$WORK/cut-statuses")" 0
	find_master || { fail "no master and two replicas after the cut"; return; }
	at "$MASTER" GET "/api/v1/user/api-tokens?state=all" -H "Authorization: Bearer $ALICE"
	printf '%s' "$BODY" | jq -r '.data[].id' >"$WORK/listed" 2>/dev/null
	while read -r id; do
		grep -qx "$id" "$WORK/listed" || { made=$((made + 1)); echo "# $id was answered 201 and is gone"; }
	done <"$WORK/cut-made"
	expect_eq "creates answered 201 and lost" "$made" 0
}

# A create whose transaction is under way at the master as the master's
# role moves (cut off, the others elect a master of their own, its link
# back and it steps down): plain CGI with the test stall holds it 8 s
# inside the transaction (its watchdog given longer than that: the stall
# is a sleep, which it would take for a hang).  The step-down waits for
# it, so it commits at a master no quorum follows any more: 503, never 500
# or a 201, and the token is nowhere in the group once the old master
# follows the new one.
# (Run while the group is settled: just after a move, roles may move
# again as a returning site calls an election.)
write_across_role_move() {
	local m other= body='{"name":"across the move","abilities":["read"]}' out status
	find_master || { fail "no master and two replicas by health"; return; }
	m=$MASTER
	printf '%s' "$body" | site_run "$m" env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		REQUEST_URI=/api/v1/user/api-tokens SERVER_PROTOCOL=HTTP/1.1 \
		CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} \
		HTTP_AUTHORIZATION="Bearer $ALICE" REMOTE_ADDR=192.0.2.9 \
		PATGATE_TEST_STALL_MS=8000 PATGATE_REQUEST_TIMEOUT=30 timeout 30 "$FCGI" \
		>"$WORK/moved.out" 2>"$WORK/moved.err" &
	local cpid=$!
	sleep 1
	nip "$NS$m" link set eth0 down
	master_but "$m" && other=$OTHER
	[ -n "$other" ] || fail "the others elected no master in 10 s"
	nip "$NS$m" link set eth0 up
	wait "$cpid"
	out=$(tr -d '\r' <"$WORK/moved.out")
	status=$(printf '%s\n' "$out" | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	echo "# the create across the move: $status $(printf '%s\n' "$out" | sed '1,/^$/d' | head -c 300)"
	sed 's/^/# stderr: /' "$WORK/moved.err" | head -n 5
	expect_eq "the create's status" "$status" 503
	printf '%s\n' "$out" | grep -qx 'Retry-After: [0-9]*' || fail "no Retry-After with the 503"
	wait_health "$m" replica || fail "site $m: health $STATUS $BODY, want replica once back"
	find_master || { fail "no master and two replicas after the move"; return; }
	at "$MASTER" GET "/api/v1/user/api-tokens?state=all" -H "Authorization: Bearer $ALICE"
	expect_eq "tokens named as the create across the move" \
		"$(printf '%s' "$BODY" | jq '[.data[] | select(.name == "across the move")] | length')" 0
}

# A fourth site, started with the three others as its peers (theirs left
# as they are, as the README's "Adding a site" says), joins the group
# through them, copies the master's data and serves checks; a token made
# afterwards at the master reaches it.
fourth_site_joins() {
	local here there n tok
	ip netns add "${NS}4" &&
		nip "${NS}h" link add p4 type veth peer name eth0 netns "${NS}4" &&
		nip "${NS}h" link set p4 master br0 up &&
		nip "${NS}4" addr add "$NET.4/24" dev eth0 &&
		nip "${NS}4" link set eth0 up &&
		nip "${NS}4" link set lo up || { fail "no namespace for a fourth site"; return; }
	find_master || { fail "no master and two replicas by health"; return; }
	start_repd 4
	start_site 4
	wait_health 4 replica || { fail "site 4: health $STATUS $BODY, want replica"; return; }
	for n in $(seq 50); do
		here=$(site_run 4 "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
		there=$(site_run "$MASTER" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
		[ "$here" = "$there" ] && break
		sleep 0.2
	done
	expect_eq "tokens at the fourth site against the master" "$here" "$there"
	create_at "$MASTER" after-the-fourth
	expect_eq "create at the master" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	wait_pass 4 "$tok"
	expect_eq "the new token checked at the fourth site" "$STATUS" 200
	echo "# site 4 joined as a replica holding $here tokens, and passed a new one $POLL_MS ms after its 201"
}

# The fourth site stopped for good and taken out of the membership with
# `patgate site remove` at a replica.  An election needs a majority of the
# sites the group counts: with site 4 counted (four, one of them down),
# the two replicas cut off from their master are two of four and elect
# no one; once it is removed they are two of three, and elect a master.
removed_site_no_longer_counts() {
	local m keep= i t0 tok
	find_master || { fail "no master and two replicas by health"; return; }
	m=$MASTER
	# shellcheck disable=SC2046
	kill -9 $(ip netns pids "${NS}4") 2>/dev/null
	for i in $SITES; do [ "$i" != "$m" ] && keep=$i; done
	nip "$NS$m" link set eth0 down
	master_but "$m" && fail "site $OTHER became master, two of four"
	nip "$NS$m" link set eth0 up
	find_master || { fail "no master and two replicas once the link is back"; return; }
	site_run "$keep" "$CLI" site remove "$NET.4:$RPORT" >/dev/null 2>"$WORK/remove.err" ||
		fail "patgate site remove at replica $keep: exit $?: $(tail -n 3 "$WORK/remove.err")"
	site_run "$keep" "$CLI" site remove "$NET.$MASTER:$RPORT" >/dev/null 2>>"$WORK/cli.err" &&
		fail "the master was removed"
	m=$MASTER
	# The removal is the master's change, sent down its log like any other,
	# in two steps: `site remove` returns once the master has marked the
	# site as leaving, and the master's next acknowledged commit sets off
	# the second, which takes it out, in a transaction of its own.  So two
	# tokens, each made once the one before passes at both replicas: the
	# second shows each holds the whole removal.  A replica still counting
	# four sites when the master goes would rightly elect no one.
	for i in 1 2; do
		create_at "$m" "after-the-removal-$i"
		expect_eq "create $i at the master after the removal" "$STATUS" 201
		tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
		passes_at_replicas "$m" "token $i made after the removal" "$tok"
	done
	nip "$NS$m" link set eth0 down
	t0=$(date +%s%N)
	master_but "$m" || { fail "no master elected, two of three"; group_dump; }
	echo "# with site 4 removed, site ${OTHER:-none} was master $(( ($(date +%s%N) - t0) / 1000000 )) ms after site $m was cut off"
	nip "$NS$m" link set eth0 up
	wait_health "$m" replica || fail "site $m: health $STATUS $BODY, want replica once back"
	find_master || fail "no master and two replicas at the end"
}

# A backup taken at a replica (patgate backup) opens on its own as a
# single site and holds what that replica lists.
backup_at_replica() {
	local r= i n want got
	for n in $(seq 100); do
		for i in $SITES; do
			at "$i" GET /api/v1/health
			[ "$(printf '%s' "$BODY" | jq -r .role 2>/dev/null)" = replica ] && r=$i && break 2
		done
		sleep 0.2
	done
	[ -n "$r" ] || { fail "no site says replica"; return; }
	site_run "$r" "$CLI" backup "$WORK/backup" >/dev/null 2>>"$WORK/cli.err" ||
		{ fail "patgate backup at replica $r: $(tail -n 2 "$WORK/cli.err")"; return; }
	want=$(site_run "$r" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
	# Without the PATGATE_REPL_* settings: the copy is a store of its own.
	"$CLI" --db "$WORK/backup" check >/dev/null 2>>"$WORK/cli.err" ||
		fail "patgate check of the backup: $(tail -n 2 "$WORK/cli.err")"
	got=$("$CLI" --db "$WORK/backup" token list alice@example.com 2>/dev/null | grep -c .)
	expect_eq "tokens in the backup against the replica" "$got" "$want"
	[ "$got" -gt 0 ] || fail "the backup holds no token"
	echo "# the backup taken at replica $r lists $got tokens, as the replica does"
}

# The killed site, restarted, rejoins as a replica and holds exactly what
# the new master holds: every answered write, and no token it alone made.
old_master_rejoins() {
	local o=$OLD_MASTER here there
	[ -n "$o" ] || { fail "no killed site"; return; }
	start_repd "$o"
	start_site "$o"
	wait_health "$o" replica || { fail "site $o: health $STATUS $BODY, want replica"; return; }
	verify_at "$o"
	expect_eq "answered writes lost at the old master" "$LOST" 0
	for n in $(seq 50); do
		here=$(site_run "$o" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
		there=$(site_run "$MASTER" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
		[ "$here" = "$there" ] && break
		sleep 0.2
	done
	expect_eq "tokens at the old master against the new" "$here" "$there"
	echo "# site $o rejoined as a replica holding $here tokens, as the master does"
}

# A master whose replicas are all killed (-9) may be the only master
# left, or may have been replaced where it cannot see: once most of its
# group has been gone for PATGATE_REPL_STALE its checks are 503 too, as a
# cut-off replica's are, and pass again once the replicas are back.
master_left_alone() {
	local m i
	[ -n "${TOK:-}" ] || { fail "no token from the create case"; return; }
	find_master || { fail "no master and two replicas by health"; return; }
	m=$MASTER
	check "$m"
	expect_eq "check at the master with the group whole" "$STATUS" 200
	for i in $SITES; do
		# shellcheck disable=SC2046
		[ "$i" = "$m" ] || kill -9 $(ip netns pids "$NS$i") 2>/dev/null
	done
	check "$m"
	expect_eq "check at the master just after" "$STATUS" 200
	poll 503 150 check "$m"
	expect_eq "check at the master, its replicas gone" "$STATUS" 503
	expect_match "message" "$(printf '%s' "$BODY" | jq -r .message)" "not heard from its replication group"
	expect_eq "Retry-After" "$(grep -i '^Retry-After:' "$WORK/headers" | cut -d: -f2- | tr -d ' \r')" 1
	echo "# the master, site $m, refused checks $POLL_MS ms after its replicas were killed"
	for i in $SITES; do
		[ "$i" = "$m" ] && continue
		start_repd "$i"
		start_site "$i"
	done
	for i in $SITES; do
		[ "$i" = "$m" ] && continue
		wait_health "$i" replica || fail "site $i: health $STATUS $BODY, want replica once restarted"
	done
	poll 200 100 check "$m"
	expect_eq "check at the master once its replicas are back" "$STATUS" 200
	echo "# and passed them again $POLL_MS ms after both were replicas"
}

# A majority lost for good: every process of the master's site and of a
# replica's killed (-9).  The survivor can elect no master: a create there
# is 503 and, once it has heard no master for PATGATE_REPL_STALE, so is a
# check.  (It may win an election with the vote of a site dying as it
# voted; a master out of touch with most of its group fails closed alike.)
# The README's way out: stop it and start it as a single site
# (PATGATE_REPL_* unset); it serves what it held, and takes writes.
majority_lost() {
	local s= i want got tok
	find_master || { fail "no master and two replicas by health"; return; }
	for i in $SITES; do [ "$i" != "$MASTER" ] && s=$i; done
	# What the replica holds once it holds what the master does: a write
	# still on its way would otherwise land after the count.
	for i in $(seq 50); do
		want=$(site_run "$s" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
		[ "$want" = "$(site_run "$MASTER" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)" ] && break
		sleep 0.2
	done
	for i in $SITES; do
		# shellcheck disable=SC2046
		[ "$i" = "$s" ] || kill -9 $(ip netns pids "$NS$i") 2>/dev/null
	done
	create_at "$s" after-the-loss
	expect_eq "create at the survivor" "$STATUS" 503
	poll 503 150 check "$s"
	[ "$STATUS" = 503 ] || { grep -v fop_read_meta "$WORK/repd$s.err" | tail -n 6 | sed 's/^/# /';
		for i in $SITES 4; do echo "# left in $NS$i: $(ip netns pids "$NS$i" | tr '\n' ' ')"; done; }
	expect_eq "check at the survivor, no master heard" "$STATUS" 503
	echo "# the survivor, site $s, refused checks $POLL_MS ms after the others were killed"
	# shellcheck disable=SC2046
	kill $(ip netns pids "$NS$s") 2>/dev/null
	for i in $(seq 50); do [ -z "$(ip netns pids "$NS$s")" ] && break; sleep 0.1; done
	REPL_OFF=1 site_run "$s" "$CLI" token list alice@example.com >/dev/null 2>"$WORK/alone.err" &&
		fail "the CLI without PATGATE_REPL_* used the replica's regions"
	expect_match "the CLI's refusal" "$(cat "$WORK/alone.err")" "db5.3_recover -h"
	REPL_OFF=1 site_run "$s" db5.3_recover -h "$WORK/s$s/db" ||
		{ fail "db5.3_recover at site $s"; return; }
	REPL_OFF=1 start_site "$s"
	wait_health "$s" single || { fail "site $s alone: health $STATUS $BODY, want single"; return; }
	got=$(REPL_OFF=1 site_run "$s" "$CLI" token list alice@example.com 2>/dev/null | grep -c .)
	expect_eq "tokens at the single site against the replica it was" "$got" "$want"
	create_at "$s" single-after-the-loss
	[ "$STATUS" = 201 ] || { echo "# $BODY"; tail -n 5 "$WORK/s$s/lighttpd.err" | sed 's/^/# /'; }
	expect_eq "create at the single site" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	remember_secret "$tok"
	check_at "$s" "$tok"
	expect_eq "the new token checked there" "$STATUS" 200
	check "$s"
	expect_eq "the group's first token checked there" "$STATUS" 200
}

t_case "the group elects one master; health says master there, replica elsewhere" one_master_two_replicas
t_case "a token made at the master passes a check at each replica" master_token_passes_at_replicas
t_case "a use seen at a replica reaches the master's record, and every site's" replica_use_reaches_master
t_case "a create at a replica is 503 naming the master, and makes nothing" write_at_replica_names_master
t_case "a revoke's 200 comes once every replica refuses the token" revoke_reaches_replicas
t_case "a replica cut off from its master refuses checks, and serves once back" replica_cut_off_fails_closed
t_case "a write the master cannot have a quorum hold is 503, not 201" write_without_quorum_is_503
t_case "the master's fresh workers: their first writes are 201" fresh_master_workers_write
t_case "a create under way as the master's role moves is 503 and makes nothing" write_across_role_move
t_case "a replica's repd killed: 503 meanwhile, a replica again once restarted" repd_killed_and_restarted
t_case "a replica's environment fails (panic): repd exits, and started again recovers it" replica_panic_recovers
t_case "a replica's environment failed by an open finding a process dead: repd exits, and started again recovers it" replica_panic_recovers --register
t_case "through HAProxy a create reaches the master and checks any site" through_haproxy
t_case "the master's site killed: a new master within 10 s, writes resume, nothing answered lost" master_killed
t_case "the killed master, restarted, rejoins as a replica holding what the group holds" old_master_rejoins
t_case "the master cut off: a new master, 503 at the cut one, and it follows once back" master_cut_off
t_case "a fourth site joins through the others and holds what the group holds" fourth_site_joins
t_case "a site stopped and removed no longer counts toward the quorum" removed_site_no_longer_counts
t_case "a backup taken at a replica opens as a store holding what the replica holds" backup_at_replica
t_case "a master whose replicas are all killed refuses checks, and passes once they are back" master_left_alone
t_case "a majority lost for good: the survivor fails closed, and serves again as a single site" majority_lost
t_done
