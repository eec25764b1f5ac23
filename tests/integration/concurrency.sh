#!/bin/bash
# concurrency.sh: 50 creates in parallel through two workers.
. "$(dirname "$0")/lib.sh"
start_stack 2

parallel_creates() {
	local n bad
	export PORT ALICE
	seq 50 | xargs -P 10 -I{} sh -c '
		curl -sS --max-time 60 -o "$0/out.{}" -w "%{http_code}\n" \
			-H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
			--data-binary "{\"name\":\"parallel {}\"}" \
			"http://127.0.0.1:$PORT/api/v1/user/api-tokens"' "$WORK" >"$WORK/codes"
	bad=$(grep -vc '^201$' "$WORK/codes")
	expect_eq "non-201 answers" "$bad" 0
	cat "$WORK"/out.* | jq -r .data.token >"$WORK/tokens"
	cat "$WORK"/out.* | jq -r .data.id >"$WORK/ids"
	expect_eq "distinct tokens" "$(sort -u "$WORK/tokens" | grep -c .)" 50
	expect_eq "distinct numbers" "$(cut -d'|' -f1 "$WORK/tokens" | sort -u | grep -c .)" 50
	expect_eq "distinct ids" "$(sort -u "$WORK/ids" | grep -c .)" 50
	n=0
	while read -r tok; do
		cli verify "$tok" >/dev/null && n=$((n + 1))
	done <"$WORK/tokens"
	expect_eq "tokens that verify" "$n" 50
	expect_eq "records stored" "$(count_tokens alice@example.com)" 50
}

t_case "50 parallel creates: all 201, distinct, all verify" parallel_creates
t_done
