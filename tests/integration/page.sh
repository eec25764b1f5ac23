#!/bin/bash
# page.sh: the token page at /tokens/ in headless Chromium (Debian's
# chromium and chromium-driver, driven by python3-selenium) against the real
# stack behind lighttpd: log in (a wrong password first), a 422 at its
# field, create a token named like HTML, see the token once, reload, revoke
# after the page's own dialog, rotate, a session ended by another client, log
# out, a server answering 503 and one gone.  axe-core, installed by npm into
# a cache in the build tree and injected by the driver, checks every step.
# Screenshots (1280 and 320 px wide) go to page-shots/ beside this log.
. "$(dirname "$0")/lib.sh"
need_programs chromium chromedriver npm
PY=/usr/bin/python3
"$PY" -c 'import selenium' 2>/dev/null || skip_all "python3-selenium is not installed"
export PATGATE_PASSWORD_ARGON2=m=1024,t=1,p=1

# PATGATE_AXE_DIR: a cache shared by several builds (run-all.sh's passes).
AXE_DIR="${PATGATE_AXE_DIR:-$top_builddir/tests/.cache/axe}"
AXE="$AXE_DIR/node_modules/axe-core/axe.min.js"
if [ ! -f "$AXE" ]; then
	mkdir -p "$AXE_DIR"
	# Bounded: a registry that stops answering fails the test, not the run.
	timeout 300 npm install --no-save --no-audit --no-fund --prefix "$AXE_DIR" axe-core \
		>"$WORK/npm.out" 2>&1 || { echo "Bail out! npm install axe-core: $(tail -n 3 "$WORK/npm.out")"; exit 99; }
fi

setup_db
PASSWORD="page test $RANDOM$RANDOM"
printf '%s\n' "$PASSWORD" | cli user add page@example.com --name "Page User" --password-stdin >/dev/null ||
	{ echo "Bail out! user add"; exit 99; }
# The gate, so that a token can be used once and show where from.
printf 'GET /reports/* read\n' >"$WORK/rules"
export PATGATE_RULES="$WORK/rules"
start_workers 2
LIGHTTPD_EXTRA="fastcgi.server += ( \"/tokens/\" => (( \"socket\" => \"$SOCK\", \"check-local\" => \"disable\" )) )"
start_lighttpd

# A session that lasts two seconds: long expired when the page is handed it.
EXPIRED=$(cli session new page@example.com --ttl 2)
remember_secret "$EXPIRED"
SHOTS="$top_builddir/tests/integration/page-shots"
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
PAGE_URL="http://127.0.0.1:$PORT/tokens/" API_URL="http://127.0.0.1:$PORT/api/v1/" \
	EMAIL=page@example.com PASSWORD="$PASSWORD" AXE="$AXE" SHOTS="$SHOTS" MINTED="$WORK/minted" \
	EXPIRED_SESSION="$EXPIRED" \
	timeout 110 "$PY" "$top_srcdir/tests/integration/page.py" 2>"$WORK/page.err" | tee "$WORK/page.tap"
rc=${PIPESTATUS[0]}
[ -s "$WORK/page.err" ] && sed 's/^/# /' "$WORK/page.err" | tail -n 20
grep -q '^# [0-9.]* s in the browser' "$WORK/page.tap" ||
	{ echo "Bail out! the browser test stopped early (exit $rc)"; exit 99; }
# The browser's steps are TAP lines already; the check for leaked secrets
# (the sessions and tokens the page was given) follows them.
TAP_N=$(grep -cE '^(not )?ok ' "$WORK/page.tap")
TAP_FAILED=$(grep -c '^not ok ' "$WORK/page.tap")
t_done
