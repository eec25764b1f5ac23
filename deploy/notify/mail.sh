#!/bin/sh
# mail.sh: a PATGATE_NOTIFY_CMD for patgate notify.  Reads one event (JSON)
# on stdin and mails the token's owner through the local sendmail -t
# (Postfix, Exim, msmtp-mta, ...).  Exits non-zero when the mail could not
# be handed over, so patgate notify keeps the event and tries again.
#
# Settings (environment): PATGATE_MAIL_FROM, the From: address (default
# patgate@ this host's name); PATGATE_SENDMAIL, the program to run with -t
# (default /usr/sbin/sendmail).  An event whose user has no email (the
# user was removed) is dropped with a line on stderr.
set -eu
event=$(cat)
field() { printf '%s' "$event" | jq -r "$1"; }
# Header values lose any line break, so nothing can add a header.
one_line() { tr '\r\n' '  ' | sed 's/ *$//'; }

to=$(field '.user.email // empty' | one_line)
if [ -z "$to" ]; then
	echo "mail.sh: event $(field .event) names no email; dropped" >&2
	exit 0
fi
from=${PATGATE_MAIL_FROM:-patgate@$(hostname -f 2>/dev/null || hostname)}
kind=$(field .event)
name=$(field '.token.name // "(unnamed)"' | one_line)
at=$(field .at)
case $kind in
token.revoke.leaked)
	subject="Your token \"$name\" was revoked: it was reported as leaked"
	text="Your personal access token \"$name\" was found where it must not be
and reported (from $(field '.addr // "an unknown address"')) at $at.
It has been revoked and no longer works.  Make a new token where you
need one, and remove the old one from wherever it was found." ;;
token.expiring)
	subject="Your token \"$name\" expires soon"
	text="Your personal access token \"$name\" expires at $(field .token.expires_at).
Rotate it or make a new one before then so nothing that uses it stops." ;;
token.reuse)
	subject="Your token \"$name\" was used after it was rotated"
	text="A rotated-away copy of your token \"$name\" was presented at $at.
Every token descended from it has been revoked; make a new one." ;;
token.canary)
	subject="Your decoy token \"$name\" was used"
	text="Someone used your canary token \"$name\" at $at
(from $(field '.addr // "?"'), $(field '.method // "?"') $(field '.path // "?"'))." ;;
*)
	subject="Token \"$name\": $kind"
	text="Something happened to your token \"$name\" at $at: $kind." ;;
esac
subject=$(printf '%s' "$subject" | one_line)

{
	printf 'From: %s\nTo: %s\nSubject: %s\n' "$from" "$to" "$subject"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n'
	printf 'Hello %s,\n\n%s\n\nThe event, as patgate recorded it:\n' \
	    "$(field '.user.name // .user.email')" "$text"
	printf '%s' "$event" | jq .
} | ${PATGATE_SENDMAIL:-/usr/sbin/sendmail} -t	# word-split: a program and its options
