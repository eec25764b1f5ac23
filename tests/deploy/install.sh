#!/bin/bash
# install.sh: `make install DESTDIR=...` gives the layout the recipes and the
# man pages promise, with the unit and settings naming the configured paths;
# an operator's edited settings survive a reinstall and an uninstall; the
# man pages are clean under mandoc -Tlint; the unit passes systemd-analyze.
. "$(dirname "$0")/lib.sh"
need mandoc
DEST="$WORK/dest"
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s -C "$top_builddir" "$@"; }
# var NAME: a configured directory, as make expands it.
var() { printf 'print-var:\n\t@echo $(%s)\n' "$1" | mk -f Makefile -f - print-var; }
bindir=$(var bindir)
sbindir=$(var sbindir)
sysconfdir=$(var sysconfdir)
localstatedir=$(var localstatedir)
mandir=$(var mandir)
pkgdatadir=$(var pkgdatadir)
unitdir=$(var systemdsystemunitdir)
[ -n "$sbindir" ] && [ -n "$pkgdatadir" ] || bail "cannot read the configured paths"
mk install DESTDIR="$DEST" >"$WORK/install.out" 2>&1 || bail "make install: $(tail -n 20 "$WORK/install.out")"

layout() {
	local f
	for f in "$bindir/patgate" "$sbindir/patgate.fcgi" "$sbindir/patgate-repd" \
		"$pkgdatadir/cgi-bin/patgate.cgi" "$pkgdatadir/deploy/whoami.cgi" \
		"$pkgdatadir/deploy/notify/mail.sh" "$pkgdatadir/deploy/notify/webhook.sh"; do
		[ -x "$DEST$f" ] || fail "$f is not installed executable"
	done
	for f in "$mandir/man8/patgate.8" "$mandir/man8/patgate.fcgi.8" "$mandir/man8/patgate-repd.8" \
		"$sysconfdir/default/patgate" "$sysconfdir/patgate/rules" \
		"$pkgdatadir/deploy/lighttpd/50-patgate.conf" "$pkgdatadir/deploy/nginx/patgate.conf" \
		"$pkgdatadir/deploy/apache/patgate.conf" "$pkgdatadir/deploy/apache/patgate-fcgid.conf" \
		"$pkgdatadir/deploy/rules.sample" "$pkgdatadir/deploy/systemd/patgate.default" \
		"$pkgdatadir/cgi-bin/.htaccess" "$pkgdatadir/cgi-bin/README.md"; do
		[ -f "$DEST$f" ] || fail "$f is not installed"
	done
	[ -n "$unitdir" ] && { [ -f "$DEST$unitdir/patgate.service" ] || fail "no patgate.service in $unitdir"; }
	[ -n "$unitdir" ] && { [ -f "$DEST$unitdir/patgate-notify.service" ] || fail "no patgate-notify.service in $unitdir"; }
	[ -n "$unitdir" ] && { [ -f "$DEST$unitdir/patgate-repd.service" ] || fail "no patgate-repd.service in $unitdir"; }
	expect_eq "the database directory" "$(stat -c %a "$DEST$localstatedir/lib/patgate" 2>&1)" 700
	"$DEST$bindir/patgate" --help >/dev/null || fail "patgate --help"
	"$DEST$sbindir/patgate.fcgi" --help >/dev/null || fail "patgate.fcgi --help"
}

configured_paths() {
	local unit="$top_builddir/deploy/systemd/patgate.service" settings="$DEST$sysconfdir/default/patgate"
	grep -q "^ExecStart=.* $sbindir/patgate.fcgi\$" "$unit" || fail "ExecStart does not run $sbindir/patgate.fcgi"
	grep -q "^EnvironmentFile=$sysconfdir/default/patgate\$" "$unit" || fail "EnvironmentFile is not $sysconfdir/default/patgate"
	grep -q "^PATGATE_DB=$localstatedir/lib/patgate\$" "$settings" || fail "PATGATE_DB is not $localstatedir/lib/patgate"
	grep -q "^PATGATE_RULES=$sysconfdir/patgate/rules\$" "$settings" || fail "PATGATE_RULES is not $sysconfdir/patgate/rules"
	grep -q "^ExecStart=$bindir/patgate notify --follow\$" "$top_builddir/deploy/systemd/patgate-notify.service" ||
		fail "patgate-notify.service does not run $bindir/patgate notify --follow"
	grep -q "^ExecStart=$sbindir/patgate-repd\$" "$top_builddir/deploy/systemd/patgate-repd.service" ||
		fail "patgate-repd.service does not run $sbindir/patgate-repd"
	grep -q '@[a-z]*@' "$unit" "$settings" "$top_builddir/deploy/systemd/patgate-notify.service" \
		"$top_builddir/deploy/systemd/patgate-repd.service" &&
		fail "an unsubstituted @variable@"
	return 0
}

man_pages_lint() {
	local out
	out=$(mandoc -Tlint -Wwarning "$DEST$mandir/man8/patgate.8" "$DEST$mandir/man8/patgate.fcgi.8" \
		"$DEST$mandir/man8/patgate-repd.8" 2>&1) ||
		fail "mandoc -Tlint: $out"
}

unit_verifies() {
	local out
	# The notify unit runs patgate from bindir, here still under DEST; the
	# copies sit apart, as verify also loads units beside the ones named.
	mkdir -p "$WORK/units"
	cp "$DEST$unitdir/patgate.service" "$WORK/units/"
	sed "s|^ExecStart=/|ExecStart=$DEST/|" "$DEST$unitdir/patgate-notify.service" \
		>"$WORK/units/patgate-notify.service"
	out=$(systemd-analyze verify --man=no "$WORK/units/patgate.service" \
		"$WORK/units/patgate-notify.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
}

operator_edits_kept() {
	local settings="$DEST$sysconfdir/default/patgate"
	echo "WORKERS=8" >>"$settings"
	mk install DESTDIR="$DEST" >"$WORK/install2.out" 2>&1 || fail "second make install"
	tail -n 1 "$settings" | grep -q '^WORKERS=8$' || fail "a reinstall overwrote the settings"
	mk uninstall DESTDIR="$DEST" >"$WORK/uninstall.out" 2>&1 || fail "make uninstall"
	expect_eq "what uninstall leaves" "$(cd "$DEST" && find . -type f | sort)" ".$sysconfdir/default/patgate"
}

t_case "make install: programs, man pages, unit, settings, rules, recipes, database directory" layout
t_case "the unit and settings name the configured paths" configured_paths
t_case "the man pages pass mandoc -Tlint" man_pages_lint
if [ -n "$unitdir" ] && command -v systemd-analyze >/dev/null 2>&1; then
	t_case "patgate.service and patgate-notify.service pass systemd-analyze verify" unit_verifies
else
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - patgate.service passes systemd-analyze verify # SKIP no systemd-analyze, or no unit"
fi
t_case "an edited settings file survives reinstall and uninstall; nothing else is left" operator_edits_kept
t_done
