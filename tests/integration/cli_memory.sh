#!/bin/bash
# cli_memory.sh: the CLI under valgrind: no memory definitely or indirectly
# lost by any command.
. "$(dirname "$0")/lib.sh"
need_programs valgrind
if nm "$CLI" 2>/dev/null | grep -q __asan_init; then
	echo "1..0 # SKIP valgrind cannot run an ASan build"; exit 0
fi
setup_db

# vg NAME ARGS...: run the CLI under valgrind; fail on any leak it reports.
vg() {
	local name=$1 out
	shift
	out="$WORK/vg.$name"
	valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=0 --log-file="$out" "$CLI" "$@" >"$WORK/vg.$name.stdout" 2>/dev/null </dev/null
	grep -q "definitely lost: 0 bytes\|no leaks are possible" "$out" || fail "$name: $(grep 'definitely lost' "$out")"
	grep -q "indirectly lost: 0 bytes\|no leaks are possible" "$out" || fail "$name: $(grep 'indirectly lost' "$out")"
}

no_leaks() {
	local tok id
	create_token_by_cgi
	vg user-add user add carol@example.com --name Carol
	vg user-list user list
	vg session-new session new carol@example.com
	vg token-list token list alice@example.com
	vg verify verify "$TOKEN"
	vg verify-bad verify "1|nonsense"
	vg check check
	vg backup backup "$WORK/copy"
	vg prune prune --days 0
	id=$(cli token list alice@example.com | jq -r .id | head -n 1)
	vg revoke token revoke "$id"
	vg usage bogus
}

create_token_by_cgi() {
	TOKEN=$(printf '{"name":"vg"}' | REQUEST_METHOD=POST REQUEST_URI=/api/v1/user/api-tokens \
		CONTENT_TYPE=application/json CONTENT_LENGTH=13 HTTP_AUTHORIZATION="Bearer $ALICE" \
		"$FCGI" 2>/dev/null | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
	remember_secret "$TOKEN"
}

t_case "valgrind: no CLI command leaks memory" no_leaks
t_done
