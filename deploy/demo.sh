#!/bin/bash
# demo.sh: on a fresh Debian 12 machine (as root), install, build, make a demo
# database with a demo user and a random password, serve the API on
# 127.0.0.1:8080 (lighttpd + spawn-fcgi + multiwatch), and print the token
# page's address and the curls that log in and create a token.
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
# A fresh random password each time, readable by root alone; it reaches
# patgate on stdin, never on a command line.
(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$DEMO/password")
PASSWORD=$(cat "$DEMO/password")
"$top/patgate" user add demo@example.com --name "Demo User" --password-stdin \
	<"$DEMO/password" >/dev/null 2>&1

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
  "/tokens/" => (( "socket" => "$DEMO/fcgi.sock", "check-local" => "disable" )),
  "/protected/" => (( "socket" => "$DEMO/fcgi.sock", "check-local" => "disable",
                      "mode" => "authorizer", "docroot" => "$DEMO/www" ))
)
CONF
lighttpd -f "$DEMO/lighttpd.conf"
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" && break
	sleep 0.1
done

# login.sh prints a session token for the demo user.  It holds the password,
# so it is root's alone; the body goes to curl as a here-document, so the
# password is in no process's arguments.
(umask 077; cat >"$DEMO/login.sh" <<LOGIN
curl -sS http://127.0.0.1:$PORT/api/v1/auth/login -H 'Content-Type: application/json' \\
  --data-binary @- <<'EOF' | jq -r .data.token
{"email": "demo@example.com", "password": "$PASSWORD"}
EOF
LOGIN
)
cat >"$DEMO/try.sh" <<TRY
# Log in as the demo user, then create a token with that session.
SESSION=\$(bash $DEMO/login.sh)
curl -sS -X POST http://127.0.0.1:$PORT/api/v1/user/api-tokens \\
  -H "Authorization: Bearer \$SESSION" \\
  -H 'Content-Type: application/json' \\
  -d '{"name": "CI Pipeline", "abilities": ["read"]}'
TRY
cat >"$DEMO/guard.sh" <<GUARD
# Mint a PAT, call the guarded backend with it, revoke it, call again.
resp=\$(bash $DEMO/try.sh); echo "\$resp"
PAT=\$(echo "\$resp" | jq -r .data.token); ID=\$(echo "\$resp" | jq -r .data.id)
curl -sS -i -H "Authorization: Bearer \$PAT" http://127.0.0.1:$PORT/protected/hello.cgi
SESSION=\$(bash $DEMO/login.sh)
curl -sS -X DELETE -H "Authorization: Bearer \$SESSION" http://127.0.0.1:$PORT/api/v1/user/api-tokens/\$ID; echo
curl -sS -i -H "Authorization: Bearer \$PAT" http://127.0.0.1:$PORT/protected/hello.cgi
GUARD
cat <<MSG
patgate is serving on http://127.0.0.1:$PORT (database $DEMO/db, log $DEMO/error.log).
Demo user demo@example.com, password $PASSWORD (also in $DEMO/password).

The token page, in a browser:  http://127.0.0.1:$PORT/tokens/

From here on no shell on the server is needed. Log in; the answer holds a
session token:

curl -sS http://127.0.0.1:$PORT/api/v1/auth/login -H 'Content-Type: application/json' \\
  --data-binary @- <<'EOF'
{"email": "demo@example.com", "password": "$PASSWORD"}
EOF

Create a personal access token with it (the session token in place of SESSION):

curl -sS -X POST http://127.0.0.1:$PORT/api/v1/user/api-tokens \\
  -H 'Authorization: Bearer SESSION' -H 'Content-Type: application/json' \\
  -d '{"name": "CI Pipeline", "abilities": ["read"]}'

Both in one go:             bash $DEMO/try.sh
Check the token it prints:  PATGATE_DB=$DEMO/db $top/patgate verify 'TOKEN'
Guarded sample backend:     bash $DEMO/guard.sh   (200 with the PAT, then 401 once revoked)
Log out:                    curl -sS -X POST -d '' -H 'Authorization: Bearer SESSION' http://127.0.0.1:$PORT/api/v1/auth/logout
Stop the demo:              $top/deploy/demo.sh stop
MSG
