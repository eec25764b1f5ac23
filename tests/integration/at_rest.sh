#!/bin/bash
# at_rest.sh: what the environment holds: hashes, never a secret; private files.
. "$(dirname "$0")/lib.sh"
start_stack 2

dump_has_no_secret() {
	local i tok secrets=() f s hashes
	for i in 1 2 3; do
		create "$ALICE" "{\"name\":\"rest $i\"}"
		tok=$TOKEN
		secrets+=("${tok#*|}" "${tok: -48:40}")
		cli verify "$tok" >/dev/null || fail "token $i does not verify"
	done
	secrets+=("$ALICE" "${ALICE: -48:40}" "$BOB")
	: >"$WORK/dump"
	for f in "$PATGATE_DB"/*.db; do
		"$DB_DUMP" -p -h "$PATGATE_DB" "$(basename "$f")" >>"$WORK/dump" ||
			fail "db_dump of $(basename "$f") failed"
	done
	for s in "${secrets[@]}"; do
		grep -qF "$s" "$WORK/dump" && fail "a secret is in the dump"
		grep -rqF "$s" "$PATGATE_DB" && fail "a secret is in a file of the environment"
	done
	hashes=$(grep -o '\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]*\$[A-Za-z0-9+/]*' "$WORK/dump" | sort -u | grep -c .)
	[ "$hashes" -ge 5 ] || fail "only $hashes Argon2id hashes in the dump (3 tokens, 2 sessions)"
}

private_files() {
	local f mode
	mode=$(stat -c %a "$PATGATE_DB")
	expect_eq "directory mode" "$mode" 700
	for f in "$PATGATE_DB"/*; do
		[ -f "$f" ] || continue
		mode=$(stat -c %a "$f")
		[ "$mode" = 600 ] || fail "$(basename "$f") has mode $mode"
	done
}

t_case "db_dump of every database: Argon2id hashes, no secret" dump_has_no_secret
t_case "environment directory 0700, files 0600" private_files
t_done
