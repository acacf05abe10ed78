# Sourced by tests/guest/run.sh and tests/libvirt/run.sh: the guests' command channel and
# the scenarios' results. The caller sets RUN (the guests' files: NAME.ctl.log) and QPID[NAME]
# (a process that lives as long as the guest's QEMU), SEQ=0, and declares CTLFD, DEAD; ctl runs xtapctl.
# gsend NAME CMD: sends a command, sets SENT to its id
gsend() {
	local vm=$1
	shift
	SEQ=$((SEQ + 1))
	SENT=$SEQ
	echo "   [$vm] \$ $*"
	[ -z "${DEAD[$vm]:-}" ] || return 0
	printf '%s %s\n' "$SEQ" "$*" >&"${CTLFD[$vm]}"
}
# gwait NAME ID TIMEOUT: waits for the command's end; GOUT its output, GRC its exit status
# (255: no answer; the guest is then considered dead and later commands fail at once)
gwait() {
	local vm=$1 id=$2 deadline=$((SECONDS + $3)) line
	GOUT='' GRC=255
	if [ -n "${DEAD[$vm]:-}" ]; then
		echo "     (guest $vm is dead: ${DEAD[$vm]})"
		return 255
	fi
	while ! line=$(grep -m1 "^$id DONE " "$RUN/$vm.ctl.log"); do
		if ! kill -0 "${QPID[$vm]}" 2>/dev/null; then
			DEAD[$vm]="QEMU exited"
			break
		fi
		if [ $SECONDS -ge $deadline ]; then
			DEAD[$vm]="command $id got no answer within $3 s"
			break
		fi
		sleep 0.05
	done
	if [ -n "${DEAD[$vm]:-}" ]; then
		echo "     (guest $vm: ${DEAD[$vm]})"
		return 255
	fi
	GRC=${line##* }
	GOUT=$(sed -n "s/^$id| //p" "$RUN/$vm.ctl.log")
	[ -z "$GOUT" ] || printf '%s\n' "$GOUT" | sed 's/^/     /'
	[ "$GRC" = 0 ] || echo "     (exit $GRC)"
	return "$GRC"
}
# g NAME TIMEOUT CMD: gsend + gwait
g() {
	local vm=$1 to=$2
	shift 2
	gsend "$vm" "$@"
	gwait "$vm" "$SENT" "$to"
}
# field KEY: the value of KEY=VALUE in GOUT
field() { printf '%s\n' "$GOUT" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n 1; }

# --- results -------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0
SUMMARY=()
S_NAME='' S_FAILS=0 S_START=''
scenario() {
	S_NAME=$1 S_FAILS=0 S_START=$EPOCHREALTIME
	echo
	echo "== $S_NAME"
}
# verify DESCRIPTION COMMAND...: one check of the current scenario
verify() {
	local what=$1
	shift
	if "$@"; then
		echo "   ok   $what"
	else
		echo "   FAIL $what"
		S_FAILS=$((S_FAILS + 1))
	fi
}
note() { echo "   note $*"; }
scenario_end() {
	local t
	t=$(elapsed "$S_START")
	if [ "$S_FAILS" = 0 ]; then
		PASSED=$((PASSED + 1))
		echo "-- PASS $S_NAME ($t s)"
		SUMMARY+=("PASS  $S_NAME ($t s)")
	else
		FAILED=$((FAILED + 1))
		echo "-- FAIL $S_NAME: $S_FAILS check(s) failed ($t s)"
		SUMMARY+=("FAIL  $S_NAME ($t s)")
	fi
}
scenario_skip() {
	SKIPPED=$((SKIPPED + 1))
	echo "-- SKIP $S_NAME: $*"
	SUMMARY+=("SKIP  $S_NAME: $*")
}

# Counters: snap prints `xtapctl -j stats`; cnt SNAP PATH reads one (0 when absent);
# delta OLD NEW PATH the difference. PATH e.g. '.vmA."from-vm".drops.spoof_ipv4.packets'
snap() { ctl -j stats; }
cnt() { jq -r "($2) // 0" <<<"$1"; }
delta() { echo $(($(cnt "$2" "$3") - $(cnt "$1" "$3"))); }
ge() { [ "${1:-0}" -ge "$2" ] 2>/dev/null; }
eq() { [ "$1" = "$2" ]; }
ne() { [ "$1" != "$2" ]; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
hasnt() { ! has "$1" "$2"; }
# within VALUE TARGET LOW% HIGH%: TARGET - LOW% <= VALUE <= TARGET + HIGH%
within() { awk -v v="$1" -v t="$2" -v lo="$3" -v hi="$4" 'BEGIN {exit !(v != "" && v >= t * (1 - lo / 100) && v <= t * (1 + hi / 100))}'; }
mbit() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.3f", b * 8 / s / 1e6}'; }
# spoof drops of a port, both directions, every spoof reason
spoofs() { jq -r --arg p "$2" '[.[$p]["from-vm", "to-vm"].drops | to_entries[] | select(.key | startswith("spoof")) | .value.packets] | add // 0' <<<"$1"; }

# ping_both A IP_A B IP_B: A pings B and B pings A at the same time, 3 echo requests each
ping_both() {
	local ida idb
	gsend "$1" "ping -q -c 3 -w 10 $4"
	ida=$SENT
	gsend "$3" "ping -q -c 3 -w 10 $2"
	idb=$SENT
	gwait "$1" $ida 20
	verify "$1 -> $3: 3 of 3 echo replies" has "$GOUT" "3 packets received"
	gwait "$3" $idb 20
	verify "$3 -> $1: 3 of 3 echo replies" has "$GOUT" "3 packets received"
}
