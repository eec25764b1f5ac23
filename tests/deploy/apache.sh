#!/bin/bash
# apache.sh: deploy/apache/patgate.conf behind a real Apache: the API
# through mod_proxy_fcgi and the guard through mod_authnz_fcgi, both to the
# workers as patgate.service starts them on loopback TCP; and, with the
# recipe's CGIPassAuth lines taken out, proof that they are what lets the
# bearer token through.
. "$(dirname "$0")/lib.sh"
need spawn-fcgi multiwatch
setup_db
pool() {
	FCGI_PORT=$(free_port)
	pool_settings \
		'#SPAWN_FCGI_LISTEN="-a 127.0.0.1 -p 9070"' "SPAWN_FCGI_LISTEN=\"-a 127.0.0.1 -p $FCGI_PORT\"" \
		'#FCGI_WEB_SERVER_ADDRS=127.0.0.1' 'FCGI_WEB_SERVER_ADDRS=127.0.0.1'
	start_pool
}
retry pool

protected_tree
ERRLOG=$LOGS/apache.err
# serve [FROM TO...]: the recipe, templated, and more changes if asked.
serve() {
	PORT=$(free_port)
	[ "$PORT" != "$FCGI_PORT" ] || return 1
	template "$DEPLOY/apache/patgate.conf" "$WORK/patgate.conf" \
		127.0.0.1:9070 "127.0.0.1:$FCGI_PORT" \
		/var/www/html "$WORK/www" "$@"
	start_apache "$WORK/patgate.conf" proxy proxy_fcgi authnz_fcgi ${APACHE_MORE_MODULES:-}
}
retry serve

keep_a_pat() {
	create "$ALICE" '{"name":"kept","abilities":["read"]}'
	expect_eq "status" "$STATUS" 201
	KEPT=$TOKEN
	guarded GET "$KEPT"
	expect_eq "it passes the guard" "$STATUS" 200
	expect_eq "the backend was told the user" "$(seen user)" "$ALICE_ID"
}

without_cgipassauth() {
	create "$ALICE" '{"name":"no header"}'
	expect_eq "the API never sees the session" "$STATUS" 401
	guarded GET "$KEPT"
	expect_eq "the authorizer never sees the PAT" "$STATUS" 401
}

run_smoke apache
t_case "apache: a token bound to 127.0.0.2 is refused from 127.0.0.1, passes from 127.0.0.2" \
	binding_address
# Apache decodes %2e and removes dot segments before it maps the request,
# so those escapes still reach the authorizer, handed the raw REQUEST_URI,
# and patgate refuses them.  An encoded slash Apache refuses itself, 404
# before any authorization (AllowEncodedSlashes Off, the default).
t_case "apache: a token bound to /protected/in/* passes inside, 403 outside and on escapes" \
	binding_path \
	"/protected/out/../in/X 200 -" \
	"/protected/in/../out/X 403 patgate" \
	"/protected/in/%2e%2e/out/X 403 patgate" \
	"/protected/in/%2E%2E/out/X 403 patgate" \
	"/protected/in/..%2fout/X 404 server" \
	"/protected/in/%2e%2e%2fout/X 404 server" \
	"/protected/in/./..//out/X 403 patgate"
t_case "apache: the authorizer is handed the client's address and raw request URI" \
	binding_handed_over
t_case "apache: another PAT for the control below" keep_a_pat
stop_server
retry serve "CGIPassAuth On" "# CGIPassAuth On"
t_case "apache: without the recipe's CGIPassAuth, Apache drops Authorization" without_cgipassauth
stop_server
# As a2enmod remoteip would, with README.md's lines next to the recipe.
APACHE_MORE_MODULES=remoteip
APACHE_EXTRA=$(readme_block RemoteIPHeader)
retry serve
t_case "apache: behind a proxy, with README.md's mod_remoteip lines" binding_behind_proxy
t_done
