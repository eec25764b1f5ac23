#!/bin/sh
# whoami.cgi: a sample backend for patgate to guard.  A CGI program that
# answers with what the authorizer told the web server about the caller;
# lighttpd and Apache put it in the environment as PATGATE_USER_ID,
# PATGATE_TOKEN_ID and PATGATE_ABILITIES.
printf 'Content-Type: text/plain\r\nCache-Control: no-store\r\n\r\n'
printf 'user=%s\ntoken=%s\nabilities=%s\nmethod=%s\n' \
	"${PATGATE_USER_ID-unset}" "${PATGATE_TOKEN_ID-unset}" \
	"${PATGATE_ABILITIES-unset}" "${REQUEST_METHOD-}"
