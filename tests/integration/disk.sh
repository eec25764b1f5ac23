#!/bin/bash
# disk.sh: the environment on a small tmpfs that fills up: creates fail with
# 500 and store nothing half-way, and the service comes back by itself when
# space returns.  Needs root (mount).
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/small"
mount -t tmpfs -o size=48m tmpfs "$WORK/small" 2>/dev/null ||
	{ echo "1..0 # SKIP cannot mount a tmpfs here"; trap - EXIT; rm -rf "$WORK"; exit 0; }
trap '{ stop_workers; umount -l "$WORK/small"; } 2>/dev/null; cleanup' EXIT
export PATGATE_DB="$WORK/small/db" PATGATE_MAX_TOKENS_PER_USER=100000
start_stack 2

full_disk_then_space_returns() {
	local ok=0 failed=0 i t0 before
	for i in $(seq 20); do create "$ALICE" "{\"name\":\"before $i\"}"; done
	before=$(count_tokens alice@example.com)
	# Fill what is left of the file system.
	dd if=/dev/zero of="$WORK/small/filler" bs=64k 2>/dev/null
	# Log files are zeroed when made, so the current one still takes
	# some hundreds of creates; go on until three have failed.
	for i in $(seq 3000); do
		create "$ALICE" "{\"name\":\"while full $i\"}"
		case $STATUS in
		201) ok=$((ok + 1)); echo "$TOKEN" >>"$WORK/acked" ;;
		500) failed=$((failed + 1)) ;;
		*) fail "status $STATUS while the disk is full" ;;
		esac
		[ "$failed" -lt 3 ] || break
	done
	echo "# disk full: $failed creates answered 500, $ok still fitted"
	[ "$failed" -ge 1 ] || fail "no create failed on a full disk"
	expect_jq "a JSON message on the 500" '.message | length > 0'
	rm -f "$WORK/small/filler"
	t0=$(date +%s)
	until create "$ALICE" '{"name":"space is back"}' && [ "$STATUS" = 201 ]; do
		[ $(($(date +%s) - t0)) -lt 15 ] || { fail "no 201 within 15 s after space returned"; break; }
		sleep 0.5
	done
	echo "$TOKEN" >>"$WORK/acked"
	while read -r t; do
		cli verify "$t" >/dev/null || fail "an acknowledged token does not verify"
	done <"$WORK/acked"
	expect_eq "stored: those before, those acknowledged, nothing half-way" \
		"$(count_tokens alice@example.com)" $((before + ok + 1))
	cli check >"$WORK/check.out" || fail "patgate check: $(head -3 "$WORK/check.out")"
}

t_case "a full disk: 500 and nothing half-stored; back by itself when space returns" full_disk_then_space_returns
t_done
