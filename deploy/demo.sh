#!/bin/bash
# demo.sh: on a fresh Debian 12 machine (as root), install, build, make a demo
# database with a demo user and session, serve the API on 127.0.0.1:8080
# (lighttpd + spawn-fcgi + multiwatch), and print a curl that creates a token.
#   deploy/demo.sh          set up and start (again, from scratch)
#   deploy/demo.sh stop     stop the demo
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
DEMO=${PATGATE_DEMO_DIR:-/var/tmp/patgate-demo}
PORT=${PATGATE_DEMO_PORT:-8080}

stop_demo() {
	local f
	for f in "$DEMO/lighttpd.pid" "$DEMO/spawn.pid"; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
	sleep 0.5
}

if [ "${1:-}" = stop ]; then
	stop_demo
	echo "patgate demo stopped"
	exit 0
fi

"$top/deploy/debian-packages.sh"
"$top/deploy/build.sh"
stop_demo
rm -rf "$DEMO"
mkdir -p "$DEMO/www"
export PATGATE_DB="$DEMO/db"
"$top/patgate" init 2>/dev/null
"$top/patgate" user add demo@example.com --name "Demo User" >/dev/null 2>&1
SESSION=$("$top/patgate" session new demo@example.com 2>/dev/null)

# A sample backend for patgate to guard, and the rules it is guarded by.
mkdir -p "$DEMO/www/protected"
cat >"$DEMO/www/protected/hello.cgi" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
printf 'Hello, user %s: token %s with abilities %s\n' \
	"$PATGATE_USER_ID" "$PATGATE_TOKEN_ID" "$PATGATE_ABILITIES"
CGI
chmod 755 "$DEMO/www/protected/hello.cgi"
cat >"$DEMO/rules" <<'RULES'
# METHOD PATH-PATTERN ABILITY: the first matching line decides
GET /protected/* read
*   /protected/* write
RULES
export PATGATE_RULES="$DEMO/rules"

# multiwatch keeps two workers alive and restarts any that dies.
spawn-fcgi -s "$DEMO/fcgi.sock" -M 0660 -P "$DEMO/spawn.pid" -- \
	/usr/bin/multiwatch -f 2 -r 1000 -t 10000 -- "$top/patgate.fcgi" >/dev/null

cat >"$DEMO/lighttpd.conf" <<CONF
server.document-root = "$DEMO/www"
server.port = $PORT
server.bind = "127.0.0.1"
server.errorlog = "$DEMO/error.log"
server.pid-file = "$DEMO/lighttpd.pid"
server.modules += ("mod_fastcgi", "mod_cgi")
cgi.assign = (".cgi" => "")
fastcgi.server = (
  "/api/" => (( "socket" => "$DEMO/fcgi.sock", "check-local" => "disable" )),
  "/protected/" => (( "socket" => "$DEMO/fcgi.sock", "check-local" => "disable",
                      "mode" => "authorizer", "docroot" => "$DEMO/www" ))
)
CONF
lighttpd -f "$DEMO/lighttpd.conf"
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" && break
	sleep 0.1
done

cat >"$DEMO/try.sh" <<TRY
curl -sS -X POST http://127.0.0.1:$PORT/api/v1/user/api-tokens \\
  -H 'Authorization: Bearer $SESSION' \\
  -H 'Content-Type: application/json' \\
  -d '{"name": "CI Pipeline", "abilities": ["read"]}'
TRY
cat >"$DEMO/guard.sh" <<GUARD
# Mint a PAT, call the guarded backend with it, revoke it, call again.
resp=\$(bash $DEMO/try.sh); echo "\$resp"
PAT=\$(echo "\$resp" | jq -r .data.token); ID=\$(echo "\$resp" | jq -r .data.id)
curl -sS -i -H "Authorization: Bearer \$PAT" http://127.0.0.1:$PORT/protected/hello.cgi
curl -sS -X DELETE -H 'Authorization: Bearer $SESSION' http://127.0.0.1:$PORT/api/v1/user/api-tokens/\$ID; echo
curl -sS -i -H "Authorization: Bearer \$PAT" http://127.0.0.1:$PORT/protected/hello.cgi
GUARD
cat <<MSG
patgate is serving on http://127.0.0.1:$PORT (database $DEMO/db, log $DEMO/error.log).
Demo user demo@example.com; its session token is in the command below.
Create a personal access token:

$(cat "$DEMO/try.sh")

Check the token it prints:  PATGATE_DB=$DEMO/db $top/patgate verify 'TOKEN'
Guarded sample backend:     bash $DEMO/guard.sh   (200 with the PAT, then 401 once revoked)
Stop the demo:              $top/deploy/demo.sh stop
MSG
