#!/bin/bash
# cgi.sh: patgate.fcgi as plain CGI (environment and stdin), and FastCGI
# spoken straight at the socket with cgi-fcgi.
. "$(dirname "$0")/lib.sh"
setup_db
start_workers 1

# cgi METHOD URI BODY [VAR=value...]: one plain-CGI run; sets OUT, STATUS,
# BODY.  URI - sets no REQUEST_URI.
cgi() {
	local m=$1 uri=$2 body=$3 u=()
	shift 3
	[ "$uri" = - ] || u=(REQUEST_URI="$uri")
	OUT=$(printf '%s' "$body" | env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD="$m" \
		"${u[@]}" SERVER_PROTOCOL=HTTP/1.1 CONTENT_TYPE=application/json \
		CONTENT_LENGTH=${#body} HTTP_AUTHORIZATION="Bearer $ALICE" REMOTE_ADDR=192.0.2.7 \
		"$@" timeout 20 "$FCGI" 2>"$WORK/cgi.err" | tr -d '\r')
	STATUS=$(printf '%s\n' "$OUT" | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	BODY=$(printf '%s\n' "$OUT" | sed '1,/^$/d')
}

cgi_create() {
	local tok
	cgi POST /api/v1/user/api-tokens '{"name":"from cgi"}'
	expect_eq "status" "$STATUS" 201
	printf '%s\n' "$OUT" | grep -q '^Content-Type: application/json' || fail "no Content-Type"
	printf '%s\n' "$OUT" | grep -q '^Cache-Control: no-store' || fail "no Cache-Control"
	expect_jq "name" '.data.name == "from cgi"'
	tok=$(printf '%s' "$BODY" | jq -r .data.token)
	pat_ok "$tok" || fail "token form"
	cli verify "$tok" >/dev/null || fail "CGI-minted token does not verify"
	grep -q 'event=token.create .*addr=192.0.2.7' "$WORK/cgi.err" || fail "no audit line on stderr"
}

cgi_lying_length() {
	local before t0
	before=$(count_tokens alice@example.com)
	t0=$(date +%s)
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' CONTENT_LENGTH=500
	expect_eq "short body" "$STATUS" 400
	[ $(($(date +%s) - t0)) -lt 10 ] || fail "took too long"
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' CONTENT_LENGTH=abc
	expect_eq "non-numeric length" "$STATUS" 400
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' CONTENT_LENGTH=99999999999999999999
	expect_eq "huge announced length" "$STATUS" 413
	expect_eq "nothing stored" "$(count_tokens alice@example.com)" "$before"
}

cgi_errors() {
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' HTTP_AUTHORIZATION=
	expect_eq "no credentials" "$STATUS" 401
	cgi GET /nowhere ''
	expect_eq "unknown path" "$STATUS" 404
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' PATGATE_ARGON2=bogus
	expect_eq "bad configuration" "$STATUS" 500
	cgi POST /api/v1/user/api-tokens '{"name":"x"}' PATGATE_DB="$WORK/nowhere"
	expect_eq "no database" "$STATUS" 500
	cgi GET /api/v1/health '' PATGATE_DB="$WORK/nowhere"
	expect_eq "health without a database" "$STATUS" 503
	cgi GET /api/v1/health ''
	expect_eq "health" "$STATUS" 200
	expect_jq "health body" '. == {"status":"ok","role":"single"}'
}

# A CGI host that sets no REQUEST_URI: SCRIPT_NAME + PATH_INFO, where a
# cgi-bin script's SCRIPT_NAME is its own URL and the API path is PATH_INFO.
cgi_path_info() {
	local before id
	cgi GET - '' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO=/api/v1/health
	expect_eq "health in PATH_INFO below cgi-bin" "$STATUS" 200
	expect_jq "health body" '.status == "ok"'
	cgi GET - '' SCRIPT_NAME=/api/v1/health
	expect_eq "the whole path in SCRIPT_NAME" "$STATUS" 200
	cgi GET - '' SCRIPT_NAME=/api PATH_INFO=/v1/health
	expect_eq "the path split between the two" "$STATUS" 200
	cgi POST - '{}' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO=/api/v1/health
	expect_eq "a method not served there" "$STATUS" 405
	printf '%s\n' "$OUT" | grep -q '^Allow: GET$' || fail "no Allow: GET"
	cgi GET - '' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO=/nowhere
	expect_eq "an unknown path" "$STATUS" 404
	cgi GET - '' SCRIPT_NAME=/cgi-bin/patgate.cgi
	expect_eq "the script alone" "$STATUS" 404
	cgi GET /nowhere '' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO=/api/v1/health
	expect_eq "REQUEST_URI, when set, decides" "$STATUS" 404
	before=$(count_tokens alice@example.com)
	cgi POST - '{"name":"by path info"}' SCRIPT_NAME=/cgi-bin/patgate.cgi \
		PATH_INFO=/api/v1/user/api-tokens
	expect_eq "create" "$STATUS" 201
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	expect_eq "stored" "$(count_tokens alice@example.com)" $((before + 1))
	cgi DELETE - '' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO="/api/v1/user/api-tokens/$id"
	expect_eq "revoke by its id in PATH_INFO" "$STATUS" 200
	cgi DELETE - '' SCRIPT_NAME=/cgi-bin/patgate.cgi PATH_INFO="/api/v1/user/api-tokens/$id"
	expect_eq "a second revoke finds nothing" "$STATUS" 404
}

# cgi_check TOKEN [VAR=value...]: one plain-CGI check of TOKEN for GET
# /service/data at the slow cost; MS is how long the process took.
cgi_check() {
	local tok=$1 t0
	shift
	t0=$(date +%s%N)
	cgi GET /api/v1/auth/check '' PATGATE_ARGON2="$SLOW" PATGATE_RULES="$WORK/rules.shared" \
		HTTP_AUTHORIZATION="Bearer $tok" HTTP_X_ORIGINAL_METHOD=GET \
		HTTP_X_ORIGINAL_URI=/service/data "$@"
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# A secret one CGI process passed through Argon2 is not hashed again by
# the next: the processes of an environment share the table of secrets
# that passed, in memory.  A revoke still bites at once, and a table that
# others could have written is not used.
cgi_shared_cache() {
	local tok id first second foreign shm
	SLOW=m=262144,t=2,p=1
	printf 'GET /service/* read\n' >"$WORK/rules.shared"
	cgi POST /api/v1/user/api-tokens '{"name":"shared","abilities":["read"]}' PATGATE_ARGON2="$SLOW"
	expect_eq "created at the slow cost" "$STATUS" 201
	tok=$(printf '%s' "$BODY" | jq -r '.data.token // empty')
	id=$(printf '%s' "$BODY" | jq -r '.data.id // empty')
	remember_secret "$tok"
	cgi_check "$tok"; first=$MS
	expect_eq "first check: Argon2" "$STATUS" 200
	cgi_check "$tok"; second=$MS
	expect_eq "second check, another process" "$STATUS" 200
	echo "# first check $first ms, the next process's $second ms"
	[ $((second * 2)) -lt "$first" ] || fail "the next process hashed again ($first ms, then $second ms)"
	cgi_check "${tok%?????}zzzzz"
	expect_eq "the same token number, another secret" "$STATUS" 401
	shm=/dev/shm/patgate-cache-1-$(id -u)-$(stat -c '%d-%i' "$PATGATE_DB")
	expect_eq "the table is the user's alone" "$(stat -c %a "$shm" 2>&1)" 600
	chmod 0644 "$shm"
	cgi_check "$tok"; foreign=$MS
	expect_eq "a table open to others: checked all the same" "$STATUS" 200
	[ $((foreign * 2)) -gt "$first" ] || fail "a table open to others was used ($first ms, then $foreign ms)"
	chmod 0600 "$shm"
	cli token revoke "$id" >/dev/null
	cgi_check "$tok"
	expect_eq "revoked, though its secret is in the table" "$STATUS" 401
}

cgi_fcgi_socket() {
	local out tok
	command -v cgi-fcgi >/dev/null || { fail "cgi-fcgi is not installed (libfcgi-bin)"; return; }
	out=$(printf '{"name":"raw fastcgi"}' | env -i REQUEST_METHOD=POST \
		REQUEST_URI=/api/v1/user/api-tokens CONTENT_TYPE=application/json \
		CONTENT_LENGTH=22 HTTP_AUTHORIZATION="Bearer $ALICE" \
		timeout 20 cgi-fcgi -bind -connect "$SOCK" 2>"$WORK/cgi-fcgi.err" | tr -d '\r')
	printf '%s\n' "$out" | grep -q '^Status: 201' || fail "cgi-fcgi got: $(printf %.200s "$out")"
	tok=$(printf '%s\n' "$out" | sed '1,/^$/d' | jq -r .data.token)
	cli verify "$tok" >/dev/null || fail "socket-minted token does not verify"
}

t_case "plain CGI: environment and stdin in, one response out" cgi_create
t_case "plain CGI: a lying Content-Length neither hangs nor stores" cgi_lying_length
t_case "plain CGI: errors and configuration problems answered in JSON" cgi_errors
t_case "plain CGI without REQUEST_URI: SCRIPT_NAME + PATH_INFO, as a cgi-bin host sends them" cgi_path_info
t_case "cgi-fcgi straight at the FastCGI socket" cgi_fcgi_socket
t_case "plain CGI: a secret one process passed costs the next no Argon2; a revoke still bites" cgi_shared_cache
t_done
