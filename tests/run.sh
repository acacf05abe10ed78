#!/bin/bash
# Runs test tiers (each a cmocka runner, or a script printing "N passed, N failed[, N skipped]")
# and closes with one line CI can read: "P passed, F failed, S skipped".
# A tier that exits 77 could not run on this machine: it said why and counts as skipped.
# usage: tests/run.sh NAME COMMAND [NAME COMMAND]...
set -uo pipefail
passed=0 failed=0 skipped=0
failures=()
# Marks the processes this run starts (they inherit it), so the reaper below
# never touches another run's, e.g. a second checkout testing at the same time.
export XTAP_TEST_RUN="$$.$RANDOM"

# The host tests' xtap-vhost processes outlive their xtapd by design; a tier that
# crashed before its teardown leaves them: those of this run with the tests' status path go.
reap_vhosts() {
	local pid
	for pid in $(pgrep -f -- '^[^ ]*xtap-vhost .*--status /run/xtap-test/vhost/'); do
		tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "XTAP_TEST_RUN=$XTAP_TEST_RUN" &&
			kill -KILL "$pid" 2>/dev/null
	done
}
while [ $# -ge 2 ]; do
	name=$1 cmd=$2
	shift 2
	echo "=== tier: $name"
	out=$(mktemp)
	bash -c "$cmd" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	reap_vhosts
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "=== tier $name: skipped"
		rm -f "$out"
		continue
	fi
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
	if [ -z "$p$f" ]; then
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
		p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
		f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
		s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	fi
	p=${p:-0} f=${f:-0} s=${s:-0}
	# A runner that died without a summary, or failed with none counted, is one failure.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	# Named again at the end, where CI's tail shows them: cmocka's failed tests and
	# their messages, the scripts' "-- FAIL name" lines.
	if [ "$f" -gt 0 ]; then
		n_named=0
		while read -r t; do
			failures+=("$name: $t")
			n_named=$((n_named + 1))
		done < <({ sed -n 's/^\[  FAILED  \] \([^ ,]*\)$/\1/p; s/^\[  ERROR   \] --- \(.*\)/  \1/p' "$out"
			   sed -n 's/^\(vm| \)\{0,1\}-- FAIL \(.*\)/\2/p' "$out"; } | awk '!seen[$0]++' | head -20)
		[ "$n_named" -gt 0 ] || failures+=("$name: $f failed (its output above says which)")
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "=== tier $name: $p passed, $f failed, $s skipped"
	rm -f "$out"
done
for t in "${failures[@]}"; do
	echo "FAILED $t"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
