#!/bin/bash
# Every command `xtapctl --help` lists has its entry in xtapctl(8): the page stays true to the table.
# usage: tools/man-check.sh XTAPCTL PAGE.scd
set -euo pipefail
missing=0
while read -r cmd; do
	grep -q "^\*$cmd\*\( \|$\)" "$2" || { echo "$2: no entry for \"xtapctl $cmd\" (add it under COMMANDS)" >&2; missing=1; }
done < <("$1" --help 2>&1 | sed -n 's/^  \([a-z]\+\( [a-z]\+\)*\)\( \|$\).*/\1/p')
exit $missing
