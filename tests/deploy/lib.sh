# lib.sh: shared set-up for the deploy tests.  Each test runs one shipped
# recipe from deploy/ or cgi-bin/, templated only for ports and paths, behind
# the real web server started in the foreground with its own configuration,
# pid and logs in the test's directory; then the same smoke: create, list,
# use the PAT at the guarded backend, revoke, and see the backend refuse it.
# Builds on tests/integration/lib.sh (TAP, the database, curl helpers).

. "$(dirname "$0")/../integration/lib.sh"
# The web servers drop to www-data, and the workers run as nobody.
[ "$(id -u)" = 0 ] || skip_all "the deploy tests run web servers as other accounts: root only"
DEPLOY="$top_srcdir/deploy"
# The web server's account and the workers' account walk through $WORK.
chmod 0711 "$WORK"
# Logs the web servers may open after they have dropped to www-data.
LOGS="$WORK/log"
mkdir -p "$LOGS"
chown www-data:www-data "$LOGS"
SERVER_PID=
POOL_PID=

eval "integration_$(declare -f cleanup)"
cleanup() {
	stop_server
	stop_pool
	integration_cleanup
}

bail() {
	echo "Bail out! $*"
	exit 99
}

# need COMMAND...: skip the test unless each is installed.
need() { need_programs "$@"; }

# free_port: print a loopback TCP port nothing listens on, below the
# kernel's range for outgoing connections (32768 and up).
free_port() {
	local p
	for _ in $(seq 20); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	bail "no free port"
}

# template SRC DST FROM TO [FROM TO...]: copy a shipped file, replacing each
# literal FROM (which must occur, so a changed recipe fails loudly here
# instead of being tested with its production paths) by TO.
template() {
	local src=$1 dst=$2 text
	shift 2
	text=$(cat "$src") || bail "cannot read $src"
	while [ "$#" -ge 2 ]; do
		[[ $text == *"$1"* ]] || bail "$src no longer holds '$1'"
		text=${text//"$1"/"$2"}
		shift 2
	done
	printf '%s\n' "$text" >"$dst"
}

# set_key FILE KEY VALUE: in a KEY=value settings file, set KEY (a line for
# it, maybe commented out, must be there) to VALUE.
set_key() {
	grep -qE "^#?$2=" "$1" || bail "$1 has no $2 line"
	awk -v k="$2" -v v="$3" '
		!done && ($0 ~ "^" k "=" || $0 ~ "^#" k "=") { print k "=\"" v "\""; done = 1; next }
		{ print }' "$1" >"$1.new" && mv "$1.new" "$1"
}

# The account the FastCGI workers run as, as patgate.service would have it:
# not the web server's, which reaches them only through the socket's group.
POOL_USER=nobody
POOL_GROUP=nogroup

# pool_settings [FROM TO...]: the shipped settings file for patgate.service,
# templated (socket or port), with the test's database, rules and account.
pool_settings() {
	[ -f "$top_builddir/deploy/systemd/patgate.default" ] ||
		bail "no deploy/systemd/patgate.default in the build tree"
	template "$top_builddir/deploy/systemd/patgate.default" "$WORK/patgate.default" "$@"
	set_key "$WORK/patgate.default" PATGATE_DB "$WORK/db"
	set_key "$WORK/patgate.default" PATGATE_RULES "$WORK/rules"
	set_key "$WORK/patgate.default" SPAWN_FCGI_USER "$POOL_USER"
	set_key "$WORK/patgate.default" SPAWN_FCGI_GROUP "$POOL_GROUP"
	set_key "$WORK/patgate.default" WORKERS 2
}

# start_pool: run patgate.service's ExecStart line as systemd would, with
# the settings file from pool_settings, and wait until it listens; fails
# (for retry) when it does not.
start_pool() {
	local unit="$top_builddir/deploy/systemd/patgate.service" cmd
	cmd=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$cmd" ] || bail "no ExecStart in $unit"
	# A copy the workers' account can reach (the build tree may be under
	# a home directory it may not enter).
	mkdir -p "$WORK/sbin"
	install -m 755 "$FCGI" "$WORK/sbin/patgate.fcgi"
	cmd=$(printf '%s' "$cmd" | sed "s|[^ ]*/patgate\\.fcgi\$|$WORK/sbin/patgate.fcgi|")
	[[ $cmd == *" $WORK/sbin/patgate.fcgi" ]] || bail "ExecStart does not end in patgate.fcgi: $cmd"
	cp "$DEPLOY/rules.sample" "$WORK/rules"
	chown -R "$POOL_USER:$POOL_GROUP" "$WORK/db"
	(
		set -a
		. "$WORK/patgate.default"
		set +a
		eval "exec $cmd"
	) >"$WORK/pool.out" 2>&1 &
	POOL_PID=$!
	for _ in $(seq 50); do
		pgrep -P "$POOL_PID" -f patgate.fcgi >/dev/null && return 0
		kill -0 "$POOL_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# the workers did not start: $(cat "$WORK/pool.out")"
	stop_pool
	return 1
}

stop_pool() {
	[ -n "$POOL_PID" ] || return 0
	end_pid "$POOL_PID" "the worker pool"
	POOL_PID=
}

# start_server LOG COMMAND...: run a web server in the foreground, in the
# background of this shell, and wait until it answers on $PORT; fails (for
# retry) when it does not, or dies soon after (another program may have
# taken the port).  It gets a session of its own: Apache stops its children
# by signalling its whole process group, which would otherwise be this
# test's.
start_server() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; then
			sleep 0.3
			kill -0 "$SERVER_PID" 2>/dev/null && return 0
			break
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# $1 did not start: $(tail -n 5 "$log" "$LOGS"/*.err 2>/dev/null)"
	stop_server
	return 1
}

# retry FUNCTION [ARGS...]: FUNCTION picks its ports and starts something;
# try it a few times, since a port found free may be taken before the bind.
retry() {
	local i
	for i in 1 2 3 4 5; do
		"$@" && return 0
	done
	bail "$1 failed $i times"
}

stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	end_pid "$SERVER_PID" "the web server"
	SERVER_PID=
}

# ---------------------------------------------------------------- the smoke

# guarded METHOD TOKEN: call the guarded sample backend; sets STATUS, BODY.
# A test whose backend lives elsewhere defines its own.
GUARDED=/protected/whoami.cgi
guarded() {
	call "$1" "$GUARDED" ${2:+-H "Authorization: Bearer $2"} ${3:+--data-binary "$3"}
}

# seen KEY: what the backend said it was told (KEY=value lines).
seen() { printf '%s\n' "$BODY" | sed -n "s/^$1=//p"; }

smoke_health() {
	call GET /api/v1/health
	expect_eq "status" "$STATUS" 200
	expect_jq "body" '. == {"status":"ok","role":"single"}'
}

smoke_create() {
	create "$ALICE" '{"name":"deploy smoke","abilities":["read"]}'
	expect_eq "status" "$STATUS" 201
	pat_ok "$TOKEN" || fail "not a PAT: $TOKEN"
	PAT=$TOKEN
	PAT_ID=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	expect_match "no-store" "$(header Cache-Control)" no-store
}

smoke_list() {
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	expect_eq "status" "$STATUS" 200
	expect_jq "the new token is listed" "[.data[].id] == [\"$PAT_ID\"]"
	expect_jq "no secret in the list" '[.data[] | has("token")] == [false]'
}

smoke_guard_allows() {
	guarded GET "$PAT"
	expect_eq "status" "$STATUS" 200
	expect_eq "the backend was told the user" "$(seen user)" "$ALICE_ID"
	expect_eq "the backend was told the token" "$(seen token)" "$PAT_ID"
	expect_eq "the backend was told the abilities" "$(seen abilities)" read
}

smoke_guard_refuses() {
	guarded GET ""
	expect_eq "no token" "$STATUS" 401
	guarded GET "$ALICE"
	expect_eq "a session is not a PAT" "$STATUS" 401
	guarded GET "1|nonsense"
	expect_eq "garbage" "$STATUS" 401
	expect_eq "garbage: WWW-Authenticate" "$(header WWW-Authenticate)" 'Bearer error="invalid_token"'
	guarded POST "$PAT" "x"
	expect_eq "a read token writing" "$STATUS" 403
	expect_eq "a read token writing: WWW-Authenticate" "$(header WWW-Authenticate)" \
		'Bearer error="insufficient_scope", scope="write"'
	[[ $BODY == *user=* ]] && fail "the backend answered a refused request"
	return 0
}

smoke_revoke() {
	call DELETE "/api/v1/user/api-tokens/$PAT_ID" -H "Authorization: Bearer $ALICE"
	expect_eq "status" "$STATUS" 200
	expect_jq "message" '.message == "Token revoked"'
	guarded GET "$PAT"
	expect_eq "the guard after the revoke" "$STATUS" 401
	[[ $BODY == *user=* ]] && fail "the backend answered a revoked token"
	call GET /api/v1/user/api-tokens -H "Authorization: Bearer $ALICE"
	expect_jq "no longer listed" '.data == []'
}

# The token page through the web server: the HTML with its CSP, and the
# script and style it loads.  $PAGE_BASE heads the path (a kit below the root).
smoke_page() {
	call GET "${PAGE_BASE:-}/tokens/"
	expect_eq "status" "$STATUS" 200
	expect_match "content-type" "$(header Content-Type)" '^text/html'
	expect_eq "CSP" "$(header Content-Security-Policy)" "default-src 'self'; frame-ancestors 'none'"
	expect_eq "nosniff" "$(header X-Content-Type-Options)" nosniff
	[[ $BODY == *'<script src="app.js"'* ]] || fail "the page does not load app.js"
	call GET "${PAGE_BASE:-}/tokens/app.js"
	expect_eq "the script: status" "$STATUS" 200
	expect_match "the script: content-type" "$(header Content-Type)" '^text/javascript'
	expect_eq "the script: CSP" "$(header Content-Security-Policy)" "default-src 'self'; frame-ancestors 'none'"
	[[ $BODY == *'../api/v1/'* ]] || fail "the script is not the page's"
	call GET "${PAGE_BASE:-}/tokens/app.css"
	expect_eq "the style: status" "$STATUS" 200
	expect_match "the style: content-type" "$(header Content-Type)" '^text/css'
}

# run_smoke LABEL: the same cases against whichever stack is running.
run_smoke() {
	t_case "$1: health through the web server" smoke_health
	t_case "$1: create a PAT with a session (Authorization reaches patgate)" smoke_create
	t_case "$1: list shows it, without the secret" smoke_list
	t_case "$1: the guarded backend accepts the PAT and is told who called" smoke_guard_allows
	t_case "$1: the guard refuses no token, a session, garbage (401) and a missing ability (403)" smoke_guard_refuses
	t_case "$1: after a revoke the guarded backend refuses the PAT" smoke_revoke
	t_case "$1: the token page at /tokens/ with its CSP, script and style" smoke_page
}

# ---------------------------------------------------------------- Apache

# start_apache RECIPE [MODULE...]: a real Apache (prefork, mod_cgi) on $PORT
# with docroot $WORK/www, the templated RECIPE included as Debian's
# a2enconf would, and the extra modules loaded as a2enmod would.  Lines in
# $APACHE_EXTRA go in at server level.
start_apache() {
	local recipe=$1 m apache2
	shift
	need apache2
	apache2=$(command -v apache2 || echo /usr/sbin/apache2)
	mkdir -p "$WORK/apache-run" "$WORK/www"
	{
		echo "ServerRoot \"$WORK\""
		echo "ServerName 127.0.0.1"
		echo "Listen 127.0.0.1:$PORT"
		echo "PidFile \"$WORK/apache.pid\""
		echo "DefaultRuntimeDir \"$WORK/apache-run\""
		echo "ErrorLog \"$LOGS/apache.err\""
		echo "LogLevel warn"
		echo "User www-data"
		echo "Group www-data"
		for m in mpm_prefork authz_core authz_user authn_core mime cgi "$@"; do
			echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_$m.so"
		done
		echo "TypesConfig /etc/mime.types"
		echo "DocumentRoot \"$WORK/www\""
		echo "<Directory />"
		echo "    AllowOverride None"
		echo "    Require all denied"
		echo "</Directory>"
		echo "<Directory \"$WORK/www\">"
		echo "    AllowOverride ${APACHE_OVERRIDE:-None}"
		echo "    Require all granted"
		echo "</Directory>"
		echo "${APACHE_EXTRA:-}"
		echo "Include \"$recipe\""
	} >"$WORK/apache.conf"
	"$apache2" -t -f "$WORK/apache.conf" >"$WORK/apache-t.out" 2>&1 ||
		bail "apache2 -t: $(cat "$WORK/apache-t.out")"
	start_server "$WORK/apache.out" "$apache2" -f "$WORK/apache.conf" -DFOREGROUND
}

# ---------------------------------------------------------------- bindings

# protected_tree: the guarded place under $WORK/www/protected (the recipes'
# whoami.cgi), and two more beside it, in/ and out/, for a token bound to
# one of them.
protected_tree() {
	local d
	for d in "" in/ out/; do
		mkdir -p "$WORK/www/protected/$d"
		install -m 755 "$DEPLOY/whoami.cgi" "$WORK/www/protected/${d}whoami.cgi"
	done
}
#
# A token's allowed_ips and paths, judged by patgate on what the web server
# hands it: REMOTE_ADDR, and the raw request URI (REQUEST_URI, or nginx's
# X-Original-URI).  The server listens on 127.0.0.1 and curl connects from
# 127.0.0.2 with --interface, so both addresses are real clients.
# Each test names its server's error log, where the workers' audit lines
# go, in ERRLOG.

# as_bearer TOKEN PATH [curl args...]: GET PATH with the token; sets
# STATUS, BODY.
as_bearer() {
	local tok=$1 p=$2
	shift 2
	call GET "$p" -H "Authorization: Bearer $tok" "$@"
}

# A path under the guard ($GUARDED's directory) inside the pattern
# $BOUND_PATTERN, and one outside it; the backend answers both.
BOUND_PATTERN=/protected/in/*
bound_in() { echo "/protected/in/${GUARDED##*/}"; }
bound_out() { echo "/protected/out/${GUARDED##*/}"; }

binding_address() {
	local tok id bad_body bad_auth
	create "$ALICE" '{"name":"from 127.0.0.2","abilities":["read"],"allowed_ips":["127.0.0.2/32"]}'
	expect_eq "create" "$STATUS" 201
	tok=$TOKEN
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	as_bearer "1|nonsense" "$GUARDED"
	bad_body=$BODY
	bad_auth=$(header WWW-Authenticate)
	as_bearer "$tok" "$GUARDED"
	expect_eq "from 127.0.0.1" "$STATUS" 401
	expect_eq "from 127.0.0.1: the body of a bad token" "$BODY" "$bad_body"
	expect_eq "from 127.0.0.1: the header of a bad token" "$(header WWW-Authenticate)" "$bad_auth"
	[[ $BODY == *user=* ]] && fail "the backend answered a request from 127.0.0.1"
	# The shipped recipe trusts no client header for the address.
	as_bearer "$tok" "$GUARDED" -H "X-Forwarded-For: 127.0.0.2" -H "X-Real-IP: 127.0.0.2" \
		-H "Forwarded: for=127.0.0.2" -H "Client-IP: 127.0.0.2"
	expect_eq "from 127.0.0.1 claiming 127.0.0.2 in headers" "$STATUS" 401
	as_bearer "$tok" "$GUARDED" --interface 127.0.0.2
	expect_eq "from 127.0.0.2" "$STATUS" 200
	expect_eq "from 127.0.0.2: the backend was told the user" "$(seen user)" "$ALICE_ID"
	expect_eq "from 127.0.0.2: the backend was told the token" "$(seen token)" "$id"
	# What patgate was handed as REMOTE_ADDR, as it recorded it.
	call GET "/api/v1/user/api-tokens/$id" -H "Authorization: Bearer $ALICE"
	expect_jq "only the use from 127.0.0.2 was recorded" '[.data.last_used_ips[].ip] == ["127.0.0.2"]'
}

# denied_count: patgate's audit lines so far for a request refused by a
# token's paths, at the path outside them (every escape below lands there).
denied_count() {
	grep -cF "need=(paths) method=GET path=$(bound_out) " "${ERRLOG:?}"
}

# expect_bound PATH WANT BY [curl args...]: GET PATH (sent as it is) with
# $BOUND_TOKEN; the answer must be WANT, and never the backend's unless
# WANT is 200.  BY names who refused: "patgate" (its audit line for the
# token's paths follows, naming the path outside them) or "server" (none,
# and the same answer without a token: the web server refused the request
# before any authorization).
expect_bound() {
	local p=$1 want=$2 by=$3 before after
	shift 3
	before=$(denied_count)
	as_bearer "$BOUND_TOKEN" "$p" --path-as-is "$@"
	expect_eq "$p" "$STATUS" "$want"
	if [ "$want" = 200 ]; then
		expect_eq "$p: the backend was told the user" "$(seen user)" "$ALICE_ID"
		return 0
	fi
	[[ $BODY == *user=* ]] && fail "$p: the backend answered"
	for _ in $(seq 20); do
		after=$(denied_count)
		[ "$after" != "$before" ] && break
		[ "$by" = server ] && break
		sleep 0.05
	done
	case $by in
	patgate)
		[ "$after" -gt "$before" ] || fail "$p: no audit line from patgate for the refusal"
		[ "$want" != 403 ] ||
			expect_match "$p: WWW-Authenticate" "$(header WWW-Authenticate)" 'error="insufficient_scope"' ;;
	server)
		[ "$after" = "$before" ] || fail "$p: patgate refused it, not the web server"
		# Without a token too: the server answered before any authorization.
		call GET "$p" --path-as-is "$@"
		expect_eq "$p without a token" "$STATUS" "$want" ;;
	*) bail "expect_bound: who is $by?" ;;
	esac
}

# binding_path ESCAPE...: a token bound to $BOUND_PATTERN passes inside,
# is 403 outside, and each ESCAPE ("PATH STATUS BY", PATH with X for the
# backend's file name) answers as its server does.
binding_path() {
	local e p want by x=${GUARDED##*/}
	create "$ALICE" "{\"name\":\"one place\",\"abilities\":[\"read\"],\"paths\":[\"$BOUND_PATTERN\"]}"
	expect_eq "create" "$STATUS" 201
	BOUND_TOKEN=$TOKEN
	expect_bound "$(bound_in)" 200 -
	expect_bound "$(bound_out)" 403 patgate
	for e in "$@"; do
		read -r p want by <<<"$e"
		expect_bound "${p//X/$x}" "$want" "$by"
	done
}

# events_as_workers: the events queued so far (JSON, one a line), read by
# the CLI as the workers' account, which owns the database.
events_as_workers() {
	install -m 755 "$CLI" "$WORK/sbin/patgate"
	runuser -u "$POOL_USER" -- env PATGATE_DB="$PATGATE_DB" "$WORK/sbin/patgate" notify --dry-run \
		2>>"$WORK/cli.err"
}

# What the web server hands patgate, seen as a canary's use records it: the
# client's address (from 127.0.0.2) and the request URI as the client sent
# it, dot segments, escapes and query and all.
binding_handed_over() {
	local id raw="/protected/in/%2e%2e/out/./${GUARDED##*/}?q=../%41"
	create "$ALICE" '{"name":"decoy","canary":true,"abilities":["read"]}'
	expect_eq "create" "$STATUS" 201
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	as_bearer "$TOKEN" "$raw" --path-as-is --interface 127.0.0.2
	expect_eq "a canary at the guard" "$STATUS" 401
	[[ $BODY == *user=* ]] && fail "the backend answered a canary"
	for _ in $(seq 20); do
		BODY=$(events_as_workers | jq -sc "[.[] | select(.event == \"token.canary\" and .token.id == \"$id\")]")
		[ "$BODY" != "[]" ] && break
		sleep 0.1
	done
	expect_jq "one token.canary" 'length == 1'
	expect_jq "REMOTE_ADDR was the client's" '.[0].addr == "127.0.0.2"'
	expect_jq "the path was the client's, as sent" ".[0].path == \"$raw\""
}

# readme_block WORD: README.md's fenced block that holds WORD (the lines it
# tells you to add behind a proxy), with its proxy, 192.0.2.10, made
# 127.0.0.1: the proxy in these tests.
readme_block() {
	local text
	text=$(awk -v w="$1" '
		/^```/ { if (inb) { if (hit) printf "%s", buf; inb = 0; buf = ""; hit = 0 } else inb = 1; next }
		inb { buf = buf $0 "\n"; if (index($0, w)) hit = 1 }' "$top_srcdir/README.md")
	[[ $text == *192.0.2.10* ]] || bail "README.md has no block with $1 and 192.0.2.10"
	printf '%s\n' "${text//192.0.2.10/127.0.0.1}"
}

# With README.md's lines for a proxy at 127.0.0.1 in place: the client's
# address the proxy vouches for is judged, and no one else's word counts.
binding_behind_proxy() {
	local tok
	create "$ALICE" '{"name":"behind a proxy","abilities":["read"],"allowed_ips":["127.0.0.2/32"]}'
	expect_eq "create" "$STATUS" 201
	tok=$TOKEN
	as_bearer "$tok" "$GUARDED" -H "X-Forwarded-For: 127.0.0.2"
	expect_eq "the proxy, for 127.0.0.2" "$STATUS" 200
	expect_eq "the backend was told the user" "$(seen user)" "$ALICE_ID"
	as_bearer "$tok" "$GUARDED"
	expect_eq "the proxy, for no one" "$STATUS" 401
	as_bearer "$tok" "$GUARDED" -H "X-Forwarded-For: 127.0.0.2, 127.0.0.3"
	expect_eq "the proxy, for 127.0.0.3 who claimed 127.0.0.2" "$STATUS" 401
	as_bearer "$tok" "$GUARDED" -H "X-Forwarded-For: 127.0.0.2" --interface 127.0.0.3
	expect_eq "127.0.0.3, not the proxy, claiming 127.0.0.2" "$STATUS" 401
	[[ $BODY == *user=* ]] && fail "the backend answered a refused request"
	return 0
}
