#!/bin/bash
# lighttpd.sh: deploy/lighttpd/50-patgate.conf behind a real lighttpd, with
# the workers started as patgate.service starts them (spawn-fcgi +
# multiwatch, on the unix socket, as their own account).
. "$(dirname "$0")/lib.sh"
need lighttpd spawn-fcgi multiwatch
setup_db
pool_settings /run/patgate/fcgi.sock "$SOCK"
retry start_pool

mkdir -p "$WORK/www/protected"
install -m 755 "$DEPLOY/whoami.cgi" "$WORK/www/protected/whoami.cgi"
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
t_done
