#!/bin/bash
# Runs libFuzzer targets (tests/libfuzzer/NAME_fuzz.c, built as BUILD/fuzz/NAME_fuzz), each:
#   1. replays every input in tests/libfuzzer/regress/NAME/ (crashes found before: they must pass now)
#      and in corpus/NAME/;
#   2. fuzzes for SECONDS from the kept corpus tests/libfuzzer/corpus/NAME/ (read-only here: new
#      inputs go to a scratch directory). A crash is written to regress/NAME/ (commit it with the fix)
#      and fails the run;
#   3. with --merge, folds what the scratch directory found into corpus/NAME/ (libFuzzer -merge=1
#      keeps only inputs that add coverage): `make fuzz` does that, `make test` leaves the tree as it is.
# Prints "N passed, N failed" (tests/run.sh reads it): one test per replay and one per fuzzing run.
# Exits 77 (skipped) when a target says it cannot run here (no root for its namespace; a failure with
# CI=true): libFuzzer's own exit code for a crash, 77 too by default, is made 1.
# usage: tests/libfuzzer/run.sh [--merge] BUILD SECONDS NAME...
set -uo pipefail
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
for name in "$@"; do
	bin=$build/fuzz/${name}_fuzz
	corpus=$here/corpus/$name regress=$here/regress/$name
	mkdir -p "$corpus" "$regress"
	scratch=$(mktemp -d)
	# Every kept input once: regressions and the corpus (it must not crash either). -runs=0 with
	# directories: libFuzzer runs each input in them, writes nothing, and stops.
	echo "--- $name: replaying $(ls "$regress" | wc -l) regression and $(ls "$corpus" | wc -l) corpus input(s)"
	"$bin" -runs=0 -error_exitcode=1 -artifact_prefix="$scratch/" "$regress" "$corpus" >"$scratch.log" 2>&1
	rc=$?
	tail -1 "$scratch.log"
	if [ $rc -eq 77 ]; then
		cat "$scratch.log"
		echo "--- $name: skipped (it cannot run on this machine; see above)"
		skipped=$((skipped + 1)); rm -rf "$scratch" "$scratch.log"; continue
	fi
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		cat "$scratch.log"
		echo "--- $name: a kept input fails (see above)"
	fi
	rm -f "$scratch.log"
	echo "--- $name: fuzzing for ${seconds}s from $(ls "$corpus" | wc -l) corpus input(s)"
	# -timeout: an input taking 10 s is a hang (the server must never block); crashes go to regress/.
	"$bin" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$regress/" "$scratch" "$corpus"
	rc=$?
	if [ $rc -eq 77 ]; then
		echo "--- $name: skipped (it cannot run on this machine; see above)"
		skipped=$((skipped + 1))
	elif [ $rc -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "--- $name: FAILED; the input that did it is in $regress/ (replay: $bin FILE)"
	fi
	if [ $merge -eq 1 ]; then
		"$bin" -merge=1 "$corpus" "$scratch" && echo "--- $name: corpus now $(ls "$corpus" | wc -l) input(s)"
	fi
	rm -rf "$scratch"
done
# Under CI=true (.ci/run) a target that cannot run is a failure, as the guest and VM tiers' are.
if [ "${CI:-}" = true ] && [ $skipped -gt 0 ]; then
	echo "CI=true: $skipped target(s) could not run here; this must work in CI"
	failed=$((failed + skipped)) skipped=0
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [ $failed -eq 0 ] && [ $passed -eq 0 ] && [ $skipped -gt 0 ]; then exit 77; fi
[ $failed -eq 0 ]
