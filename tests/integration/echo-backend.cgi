#!/bin/sh
# echo-backend.cgi: the protected backend of the tests: a CGI program that
# echoes what the authorizer told it about the caller.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'user=%s\ntoken=%s\nabilities=%s\nmethod=%s\nexpires=%s\n' \
	"${PATGATE_USER_ID-unset}" "${PATGATE_TOKEN_ID-unset}" \
	"${PATGATE_ABILITIES-unset}" "$REQUEST_METHOD" "${PATGATE_TOKEN_EXPIRES_AT-unset}"
