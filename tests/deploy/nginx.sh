#!/bin/bash
# nginx.sh: deploy/nginx/patgate.conf behind a real nginx: the API through
# fastcgi_pass, the guard through auth_request to /api/v1/auth/check, and the
# recipe's sample backend; the workers as patgate.service starts them.
. "$(dirname "$0")/lib.sh"
need nginx spawn-fcgi multiwatch
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
setup_db
pool_settings /run/patgate/fcgi.sock "$SOCK"
retry start_pool

GUARDED=/protected/whoami
ERRLOG=$LOGS/nginx.err
# What Debian's nginx.conf provides around a site, with the test's paths.
ln -s /etc/nginx/fastcgi_params "$WORK/fastcgi_params"
mkdir -p "$WORK/nginx-temp"
# serve [FROM TO...]: the recipe, templated, and more changes if asked.
serve() {
	PORT=$(free_port)
	BACKEND_PORT=$(free_port)
	[ "$BACKEND_PORT" != "$PORT" ] || return 1
	template "$DEPLOY/nginx/patgate.conf" "$WORK/patgate.conf" \
		"listen 80;" "listen 127.0.0.1:$PORT;" \
		127.0.0.1:8081 "127.0.0.1:$BACKEND_PORT" \
		/run/patgate/fcgi.sock "$SOCK" "$@"
	cat >"$WORK/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $LOGS/nginx.err info;
events { worker_connections 64; }
http {
    access_log $LOGS/nginx.access;
    client_body_temp_path $WORK/nginx-temp/body;
    fastcgi_temp_path $WORK/nginx-temp/fastcgi;
    proxy_temp_path $WORK/nginx-temp/proxy;
    uwsgi_temp_path $WORK/nginx-temp/uwsgi;
    scgi_temp_path $WORK/nginx-temp/scgi;
    include $WORK/patgate.conf;
}
CONF
	"$NGINX" -t -q -e "$LOGS/nginx.err" -p "$WORK" -c "$WORK/nginx.conf" >"$WORK/nginx-t.out" 2>&1 ||
		bail "nginx -t: $(cat "$WORK/nginx-t.out")"
	start_server "$WORK/nginx.out" "$NGINX" -e "$LOGS/nginx.err" -p "$WORK" -c "$WORK/nginx.conf" \
		-g "daemon off;"
}
retry serve

# A client's own headers must not choose the rule or name the caller.
no_forged_headers() {
	create "$ALICE" '{"name":"forger","abilities":["read"]}'
	call POST "$GUARDED" -H "Authorization: Bearer $TOKEN" --data-binary x \
		-H "X-Original-Method: GET" -H "X-Original-URI: /protected/whoami"
	expect_eq "a read token writing, with forged X-Original-*" "$STATUS" 403
	call GET "$GUARDED" -H "Authorization: Bearer $TOKEN" -H "X-Patgate-User-Id: someone-else"
	expect_eq "status" "$STATUS" 200
	expect_eq "the backend was told the real user" "$(seen user)" "$ALICE_ID"
	call GET "$GUARDED" -H "X-Patgate-User-Id: someone-else"
	expect_eq "identity headers alone" "$STATUS" 401
}

forged_original_uri() {
	expect_bound "$(bound_out)" 403 patgate -H "X-Original-URI: $(bound_in)"
}

the_check_is_internal() {
	call GET /_patgate/check -H "Authorization: Bearer $ALICE"
	expect_eq "status" "$STATUS" 404
}

# The token's expiry reaches the client's answer; a token without one adds no header.
expiry_to_the_client() {
	local exp
	exp=$(date -u -d '+5 days' +%Y-%m-%dT%H:%M:%SZ)
	create "$ALICE" "{\"name\":\"expiring\",\"abilities\":[\"read\"],\"expires_at\":\"$exp\"}"
	call GET "$GUARDED" -H "Authorization: Bearer $TOKEN"
	expect_eq "status" "$STATUS" 200
	expect_eq "Patgate-Token-Expires-At" "$(header Patgate-Token-Expires-At)" "$exp"
	create "$ALICE" '{"name":"forever","abilities":["read"]}'
	call GET "$GUARDED" -H "Authorization: Bearer $TOKEN"
	expect_eq "status" "$STATUS" 200
	expect_eq "no expiry, no header" "$(header Patgate-Token-Expires-At)" ""
}

run_smoke nginx
t_case "nginx: a token bound to 127.0.0.2 is refused from 127.0.0.1, passes from 127.0.0.2" \
	binding_address
# nginx decodes (%2f too), removes dot segments and merges slashes to pick
# the location, so every escape below lands in /protected/; the subrequest
# hands patgate X-Original-URI as the client sent it ($request_uri), and the
# refusal is patgate's own.  The sample backend answers any path, so an
# escape patgate let through would come back 200.
t_case "nginx: a token bound to /protected/in/* passes inside, 403 outside and on escapes" \
	binding_path \
	"/protected/out/../in/X 200 -" \
	"/protected/in/../out/X 403 patgate" \
	"/protected/in/%2e%2e/out/X 403 patgate" \
	"/protected/in/%2E%2E/out/X 403 patgate" \
	"/protected/in/..%2fout/X 403 patgate" \
	"/protected/in/%2e%2e%2fout/X 403 patgate" \
	"/protected/in/./..//out/X 403 patgate"
t_case "nginx: a client's own X-Original-URI does not choose the path judged" forged_original_uri
t_case "nginx: the auth_request subrequest carries the client's address and raw URI" \
	binding_handed_over
t_case "nginx: the token's expiry reaches the client as Patgate-Token-Expires-At" expiry_to_the_client
t_case "nginx: forged X-Original-* and X-Patgate-* headers change nothing" no_forged_headers
t_case "nginx: the auth_request location is not reachable from outside" the_check_is_internal
stop_server
# README.md's lines in the recipe's server block.
retry serve "server_name tokens.example.com;" "server_name tokens.example.com;
$(readme_block real_ip_header)"
t_case "nginx: behind a proxy, with README.md's real_ip lines" binding_behind_proxy
t_done
