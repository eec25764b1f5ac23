#!/bin/bash
# cgi-bin.sh: the shared-hosting kit (cgi-bin/.htaccess and the patgate.cgi
# wrapper) under a real Apache with mod_cgi and mod_rewrite, allowed in
# .htaccess only what a modest host allows (FileInfo, Options=ExecCGI; no
# AuthConfig, so no CGIPassAuth).  The program and database sit outside the
# web root.  A PAT is checked at /api/v1/auth/check, as another program on
# the host would check it.
. "$(dirname "$0")/lib.sh"
HOME_DIR="$WORK/home/patgate"
setup_db
mkdir -p "$HOME_DIR" "$WORK/www/site"
mv "$WORK/db" "$HOME_DIR/db"
export PATGATE_DB="$HOME_DIR/db"
install -m 755 "$FCGI" "$HOME_DIR/patgate.fcgi"
cp "$DEPLOY/rules.sample" "$HOME_DIR/rules"
# CGI programs run as the web server's account; here it owns the database.
chown -R www-data:www-data "$HOME_DIR"
chmod 0711 "$WORK/home"

# The kit, as a user would upload it: at the site's root, and again below
# it in site/ with PATGATE_BASE set.
cp "$top_srcdir/cgi-bin/.htaccess" "$WORK/www/.htaccess"
template "$top_srcdir/cgi-bin/patgate.cgi" "$WORK/www/patgate.cgi" \
	/home/example/patgate "$HOME_DIR"
cp "$top_srcdir/cgi-bin/.htaccess" "$WORK/www/site/.htaccess"
template "$top_srcdir/cgi-bin/patgate.cgi" "$WORK/www/site/patgate.cgi" \
	/home/example/patgate "$HOME_DIR" \
	"PATGATE_BASE=" "PATGATE_BASE=/site"
# And in bare/ without the lines that hand Authorization over.
mkdir -p "$WORK/www/bare"
template "$top_srcdir/cgi-bin/.htaccess" "$WORK/www/bare/.htaccess" \
	$'RewriteCond %{HTTP:Authorization} .\nRewriteRule ^ - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]' ""
template "$top_srcdir/cgi-bin/patgate.cgi" "$WORK/www/bare/patgate.cgi" \
	/home/example/patgate "$HOME_DIR" \
	"PATGATE_BASE=" "PATGATE_BASE=/bare"
chmod 755 "$WORK/www/patgate.cgi" "$WORK/www/site/patgate.cgi" "$WORK/www/bare/patgate.cgi"

: >"$WORK/empty.conf"
APACHE_OVERRIDE="FileInfo Options=ExecCGI"
serve() {
	PORT=$(free_port)
	start_apache "$WORK/empty.conf" rewrite
}
retry serve

# The guarded service here is whatever program asks patgate about a PAT.
guarded() {
	call GET /api/v1/auth/check ${2:+-H "Authorization: Bearer $2"} \
		-H "X-Original-Method: $1" -H "X-Original-URI: /protected/whoami.cgi"
	[ "$STATUS" = 200 ] && BODY=$(printf '%s' "$BODY" |
		jq -r '"user=\(.user_id)\ntoken=\(.token_id)\nabilities=\(.abilities | join(","))"')
	return 0
}

below_the_root() {
	call GET /site/api/v1/health
	expect_eq "health" "$STATUS" 200
	call GET /site/api/user -H "Authorization: Bearer $ALICE"
	expect_eq "current user" "$STATUS" 200
	expect_jq "who" ".id == \"$ALICE_ID\""
	PAGE_BASE=/site smoke_page
}

authorization_needs_the_kit() {
	call GET /bare/api/v1/health
	expect_eq "the bare copy serves" "$STATUS" 200
	call GET /bare/api/user -H "Authorization: Bearer $ALICE"
	expect_eq "without the .htaccess line Apache drops Authorization" "$STATUS" 401
}

nothing_else_routed() {
	call GET /tokensmith
	expect_eq "a path that only starts like tokens" "$STATUS" 404
	[[ $BODY == *'"message"'* ]] && fail "patgate answered /tokensmith"
	call GET /apiary
	expect_eq "a path that only starts like api" "$STATUS" 404
	[[ $BODY == *'"message"'* ]] && fail "patgate answered /apiary"
	return 0
}

audit_in_error_log() {
	grep -q "event=token.create" "$LOGS/apache.err" || fail "no audit line in Apache's error log"
}

run_smoke cgi-bin
t_case "cgi-bin: the kit works below the site's root with PATGATE_BASE" below_the_root
t_case "cgi-bin: without the kit's rewrite line the session never arrives" authorization_needs_the_kit
t_case "cgi-bin: only api/ and tokens/ are routed to patgate" nothing_else_routed
t_case "cgi-bin: audit lines reach the web server's error log" audit_in_error_log
t_done
