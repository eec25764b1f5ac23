#!/bin/sh
# patgate.cgi: patgate on a host that only runs CGI.  The web server runs
# this script for every request under /api/ (see .htaccess); it sets the
# configuration and hands the request to the real program, which answers it
# and exits.
#
# Why a script rather than SetEnv in .htaccess: a host may lack mod_env or
# forbid it in .htaccess, and suEXEC, common on shared hosts, passes the
# program only a fixed list of variables, none of them PATGATE_*.  What is
# set here reaches patgate.fcgi everywhere.

# Edit this line: a directory outside the web root holding patgate.fcgi (the
# program, copied from the build), db/ (made with `patgate --db DIR/db init`)
# and, if you guard anything, rules.
PATGATE_HOME=/home/example/patgate

# If this kit sits below the site's root (https://example.com/tokens/api/...),
# name that part of the path here (/tokens) so that patgate sees /api/...
PATGATE_BASE=

PATGATE_DB=$PATGATE_HOME/db
export PATGATE_DB
if [ -f "$PATGATE_HOME/rules" ]; then
	PATGATE_RULES=$PATGATE_HOME/rules
	export PATGATE_RULES
fi
# Audit lines go to stderr, which the web server writes to its error log.
#PATGATE_LOG=syslog; export PATGATE_LOG

# .htaccess hands Authorization over through mod_rewrite; Apache renames the
# variable REDIRECT_HTTP_AUTHORIZATION when it routes the request here.
if [ -z "${HTTP_AUTHORIZATION:-}" ] && [ -n "${REDIRECT_HTTP_AUTHORIZATION:-}" ]; then
	HTTP_AUTHORIZATION=$REDIRECT_HTTP_AUTHORIZATION
	export HTTP_AUTHORIZATION
fi
if [ -n "$PATGATE_BASE" ]; then
	REQUEST_URI=${REQUEST_URI#"$PATGATE_BASE"}
	export REQUEST_URI
fi
exec "$PATGATE_HOME/patgate.fcgi"
