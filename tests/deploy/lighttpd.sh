#!/bin/bash
# lighttpd.sh: deploy/lighttpd/50-patgate.conf behind a real lighttpd, with
# the workers started as patgate.service starts them (spawn-fcgi +
# multiwatch, on the unix socket, as their own account).
. "$(dirname "$0")/lib.sh"
need lighttpd spawn-fcgi multiwatch
setup_db
pool_settings /run/patgate/fcgi.sock "$SOCK"
retry start_pool

protected_tree
ERRLOG=$LOGS/lighttpd.err
template "$DEPLOY/lighttpd/50-patgate.conf" "$WORK/50-patgate.conf" \
	/run/patgate/fcgi.sock "$SOCK" \
	/var/www/html "$WORK/www"
# What Debian's lighttpd.conf and lighty-enable-mod (by the recipe's
# "depends" line) would provide around the recipe.
serve() {
	PORT=$(free_port)
	cat >"$WORK/lighttpd.conf" <<CONF
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.username = "www-data"
server.groupname = "www-data"
server.errorlog = "$LOGS/lighttpd.err"
server.pid-file = "$WORK/lighttpd.pid"
server.modules += ("mod_fastcgi", "mod_cgi")
${LIGHTTPD_EXTRA:-}
include "$WORK/50-patgate.conf"
CONF
	start_server "$WORK/lighttpd.out" lighttpd -D -f "$WORK/lighttpd.conf"
}
retry serve

socket_is_private() {
	expect_eq "socket mode, owner, group" "$(stat -c '%a %U %G' "$SOCK")" "660 $POOL_USER www-data"
	expect_eq "workers' account" "$(ps -o user= --ppid "$POOL_PID" | sort -u | tr -d ' ')" "$POOL_USER"
}

t_case "lighttpd: the workers run as their own account; the socket is for www-data only" socket_is_private
run_smoke lighttpd
t_case "lighttpd: a token bound to 127.0.0.2 is refused from 127.0.0.1, passes from 127.0.0.2" \
	binding_address
# lighttpd decodes %2e and removes dot segments before it routes (not %2f),
# so every escape below still lands under /protected/ and in the authorizer,
# which is handed the raw REQUEST_URI: each refusal is patgate's own.
t_case "lighttpd: a token bound to /protected/in/* passes inside, 403 outside and on escapes" \
	binding_path \
	"/protected/out/../in/X 200 -" \
	"/protected/in/../out/X 403 patgate" \
	"/protected/in/%2e%2e/out/X 403 patgate" \
	"/protected/in/%2E%2E/out/X 403 patgate" \
	"/protected/in/..%2fout/X 403 patgate" \
	"/protected/in/%2e%2e%2fout/X 403 patgate" \
	"/protected/in/./..//out/X 403 patgate"
t_case "lighttpd: the authorizer is handed the client's address and raw request URI" \
	binding_handed_over
stop_server
# As lighty-enable-mod extforward would, with README.md's lines.
LIGHTTPD_EXTRA=$(readme_block extforward.forwarder)
retry serve
t_case "lighttpd: behind a proxy, with README.md's mod_extforward lines" binding_behind_proxy
t_done
