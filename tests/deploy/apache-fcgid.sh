#!/bin/bash
# apache-fcgid.sh: deploy/apache/patgate-fcgid.conf behind a real Apache:
# the API through mod_fcgid, which starts the workers itself as www-data,
# and the guard through mod_authnz_fcgi to patgate.service on loopback TCP,
# run as www-data as the recipe says.  Without CGIPassAuth, no Authorization.
. "$(dirname "$0")/lib.sh"
need spawn-fcgi multiwatch
[ -f /usr/lib/apache2/modules/mod_fcgid.so ] || skip_all "mod_fcgid is not installed"
POOL_USER=www-data
POOL_GROUP=www-data
setup_db
pool() {
	FCGI_PORT=$(free_port)
	pool_settings \
		'#SPAWN_FCGI_LISTEN="-a 127.0.0.1 -p 9070"' "SPAWN_FCGI_LISTEN=\"-a 127.0.0.1 -p $FCGI_PORT\"" \
		'#FCGI_WEB_SERVER_ADDRS=127.0.0.1' 'FCGI_WEB_SERVER_ADDRS=127.0.0.1'
	start_pool
}
retry pool

# The program mod_fcgid starts, where www-data reaches it (and apart from
# the copy patgate.service's workers run, to tell them apart).
mkdir -p "$WORK/apache-sbin"
protected_tree
ERRLOG=$LOGS/apache.err
install -m 755 "$FCGI" "$WORK/apache-sbin/patgate.fcgi"
# What Debian's fcgid.conf sets at server level, with the test's paths (mod_fcgid
# makes the directory itself, for www-data).
APACHE_EXTRA="FcgidIPCDir \"$WORK/fcgid\"
FcgidProcessTableFile \"$WORK/fcgid/shm\""
# serve [FROM TO...]: the recipe, templated, and more changes if asked.
serve() {
	PORT=$(free_port)
	[ "$PORT" != "$FCGI_PORT" ] || return 1
	template "$DEPLOY/apache/patgate-fcgid.conf" "$WORK/patgate.conf" \
		/usr/local/sbin/patgate.fcgi "$WORK/apache-sbin/patgate.fcgi" \
		/usr/local/sbin "$WORK/apache-sbin" \
		/var/lib/patgate "$WORK/db" \
		/etc/patgate/rules "$WORK/rules" \
		127.0.0.1:9070 "127.0.0.1:$FCGI_PORT" \
		/var/www/html "$WORK/www" "$@"
	start_apache "$WORK/patgate.conf" alias fcgid authnz_fcgi
}
retry serve

served_by_mod_fcgid() {
	local p
	p=$(pgrep -f "^$WORK/apache-sbin/patgate.fcgi" | head -n 1)
	[ -n "$p" ] || fail "no patgate.fcgi started by Apache"
	[ -n "$p" ] && expect_eq "its account" "$(ps -o user= -p "$p" | tr -d ' ')" www-data
}

keep_a_pat() {
	create "$ALICE" '{"name":"kept","abilities":["read"]}'
	expect_eq "status" "$STATUS" 201
	KEPT=$TOKEN
}

without_cgipassauth() {
	create "$ALICE" '{"name":"no header"}'
	expect_eq "the API never sees the session" "$STATUS" 401
	guarded GET "$KEPT"
	expect_eq "the authorizer never sees the PAT" "$STATUS" 401
}

run_smoke apache-fcgid
t_case "apache-fcgid: a token bound to 127.0.0.2 is refused from 127.0.0.1, passes from 127.0.0.2" \
	binding_address
# The same guard as apache.sh's: see there for who refuses which escape.
t_case "apache-fcgid: a token bound to /protected/in/* passes inside, 403 outside and on escapes" \
	binding_path \
	"/protected/in/../out/X 403 patgate" \
	"/protected/in/%2e%2e/out/X 403 patgate" \
	"/protected/in/..%2fout/X 404 server"
t_case "apache-fcgid: the API is served by workers Apache started, as www-data" served_by_mod_fcgid
t_case "apache-fcgid: another PAT for the control below" keep_a_pat
stop_server
retry serve "CGIPassAuth On" "# CGIPassAuth On"
t_case "apache-fcgid: without the recipe's CGIPassAuth, Apache drops Authorization" without_cgipassauth
t_done
