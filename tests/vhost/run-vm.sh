#!/bin/bash
# Tier 4, the VM half (`make test-vhost`): runs commands inside a Debian-kernel VM
# that has the real vhost-net, libxdp's dispatcher (freplace works there) and no tcx.
#
#   bash tests/vhost/run-vm.sh [COMMAND]...      (as root; build first: make)
#
# Each COMMAND is a bash command line, run in that order inside the VM as root, in
# the repository's root, with XTAP_BUILD set to the (absolute) build directory.
# The VM sees the host's whole filesystem read-only (9p, under a tmpfs overlay),
# so it runs the binaries of the build directory with the host's libraries.
# Without COMMANDs it runs the tier's default list ($DEFAULT_CMDS below).
#
# The kernel is the one tier 3 uses (tests/guest/build-initramfs.sh, cached in
# ${XTAP_GUEST_CACHE:-/var/cache/xtap-guest}); this tier's initramfs is the "vhost"
# flavour next to it, with tests/vhost/vm-init.sh as /init. QEMU runs under TCG
# (KVM does not work on these hosts) and under `timeout`.
#
# The guest's console is printed with a "vm| " prefix (so the commands' own cmocka
# summaries are not taken for this script's). Each command counts as its cmocka
# summaries, or its last "N passed, N failed[, N skipped]" line, or else 1 passed
# (exit 0), 1 skipped (exit 77), 1 failed (any other exit); a non-zero exit with no
# failure counted is one failure. A VM that ends without its closing marker (panic,
# timeout) fails. Ends with "N passed, N failed[, N skipped]"; exit 0 when none failed.
# Exit 77 (one line why) when this machine cannot run the VM: not root, no QEMU, no
# kernel download; with CI=true a missing QEMU or download is a failure instead.
#
# Environment: XTAP_BUILD (build dir, default build), XTAP_GUEST_CACHE,
# XTAP_VM_TIMEOUT (seconds for the whole VM, default 900), XTAP_VM_MEM (default 1G),
# XTAP_VM_SMP (default 2), XTAP_VM_CMDLINE (extra kernel arguments, default "quiet"),
# XTAP_VM_LOGS (where the console log is kept, default $XTAP_BUILD/tests/vhost-vm-logs).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${XTAP_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
QEMU=${QEMU:-qemu-system-x86_64}
VM_TIMEOUT=${XTAP_VM_TIMEOUT:-900}
VM_MEM=${XTAP_VM_MEM:-1G}
VM_SMP=${XTAP_VM_SMP:-2}
VM_CMDLINE=${XTAP_VM_CMDLINE:-quiet}
LOGS=${XTAP_VM_LOGS:-$BUILD/tests/vhost-vm-logs}
# What the VM needs beyond tier 3's guests (each module's dependencies are added).
VM_MODULES="vhost_iotlb vhost tun tap vhost_net sch_ingress cls_bpf veth virtio_pci
	9pnet 9pnet_virtio netfs fscache 9p overlay"
DEFAULT_CMDS=(
	"\$XTAP_BUILD/tests/test_vhost"
	"bash tests/vhost/xdp-dispatcher.sh"
)

T_START=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN {printf "%.1f", b - a}'; }

skip_tier() { echo "vhost VM tier skipped: $*"; exit 77; }
fail_tier() { echo "vhost VM tier: $*"; echo "0 passed, 1 failed"; exit 1; }
# A missing prerequisite that CI is supposed to have fails there instead of skipping.
missing() { if [ "${CI:-}" = true ]; then fail_tier "$* (CI=true: this must work in CI)"; else skip_tier "$*"; fi; }

[ "$(id -u)" = 0 ] || skip_tier "needs root (QEMU's 9p export of / as root, the kernel download)"
command -v "$QEMU" >/dev/null || missing "no $QEMU (Debian package qemu-system-x86)"
command -v timeout >/dev/null || missing "no timeout (coreutils)"
[ -x "$BUILD/xtapd" ] && [ -x "$BUILD/xtapctl" ] || fail_tier "no $BUILD/xtapd or $BUILD/xtapctl: build first (make)"
[ $# -gt 0 ] || set -- "${DEFAULT_CMDS[@]}"

# --- the image ------------------------------------------------------------------------
. "$ROOT/tests/guest/image.sh"
XTAP_GUEST_FLAVOUR=vhost XTAP_GUEST_INIT=$HERE/vm-init.sh XTAP_GUEST_MODULES="$(echo $VM_MODULES)" \
	guest_image VM
T_IMAGE=$(elapsed "$T_START")
echo "VM kernel $KVER ($PKG), image $([ "$CACHE_HIT" = 1 ] && echo "cached" || echo "built now") in $T_IMAGE s"

# --- the run directory: the commands in, artifacts out (9p, writable) ----------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/xtap-vm.XXXXXX") || fail_tier "mktemp failed"
QPID=
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null   # timeout(1) passes it on to QEMU
		for _ in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$QPID" 2>/dev/null
		wait "$QPID" 2>/dev/null
	fi
	mkdir -p "$LOGS" && cp "$RUN/console" "$RUN/qemu.log" "$LOGS/" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'echo "vhost VM tier: interrupted"; exit 130' INT TERM

mkdir -p "$RUN/cmd"
i=0
for c in "$@"; do
	i=$((i + 1))
	printf '%s\n' "cd $(printf %q "$ROOT") || exit 1" \
		"export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		"export XTAP_BUILD=$(printf %q "$BUILD") XTAP_VM_RUN=$(printf %q "$RUN") CI=${CI:-}" \
		"# This VM has what the commands would otherwise skip without: a missing one is a failure." \
		"export XTAP_EXPECT_DATA_PLANE=vhost-net XTAP_REQUIRE_DISPATCHER=1" \
		"$c" >"$RUN/cmd/$i"
done
N_CMDS=$i

# --- boot ----------------------------------------------------------------------------------
echo "booting: $QEMU, TCG, -smp $VM_SMP -m $VM_MEM, timeout $VM_TIMEOUT s; $N_CMDS command(s)"
T_QEMU=$EPOCHREALTIME
: >"$RUN/console"
timeout -k 5 "$VM_TIMEOUT" "$QEMU" -machine q35 -accel tcg -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
	-nodefaults -no-user-config -display none -no-reboot -monitor none \
	-serial "file:$RUN/console.raw" \
	-kernel "$KERNEL" -initrd "$INITRD" \
	-append "console=ttyS0 panic=-1 oops=panic $VM_CMDLINE xtap.run=$RUN" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$RUN,mount_tag=xtaprun,security_model=none,multidevs=remap" \
	</dev/null >"$RUN/qemu.log" 2>&1 &
QPID=$!

# The console, live: prefixed on stdout, plain in $RUN/console, markers timed by the host.
declare -A SEEN=()
while IFS= read -r line; do
	line=${line%$'\r'}
	printf 'vm| %s\n' "$line"
	printf '%s\n' "$line" >>"$RUN/console"
	case $line in
	XTAP-VM-INIT*) SEEN[init]=$EPOCHREALTIME ;;
	XTAP-VM-READY*) SEEN[ready]=$EPOCHREALTIME ;;
	esac
done < <(tail -s 0.2 -n +1 -F --pid="$QPID" "$RUN/console.raw" 2>/dev/null)
wait "$QPID"
QRC=$?
QPID=
T_VM=$(elapsed "$T_QEMU")

# --- results --------------------------------------------------------------------------------
passed=0 failed=0 skipped=0
SUMMARY=()
CON=$RUN/console
exit_line=$(grep -m1 '^XTAP-VM-EXIT ' "$CON")
setup=$(sed -n 's/^XTAP-VM-SETUP-FAILED //p' "$CON" | head -n 1)
[ -z "$setup" ] || { SUMMARY+=("VM setup failed: $setup"); failed=$((failed + 1)); }
for i in $(seq "$N_CMDS"); do
	c=$(tail -n 1 "$RUN/cmd/$i")
	# This command's output: between its begin and end markers.
	out=$(sed -n "/^XTAP-VM-CMD $i begin/,/^XTAP-VM-CMD $i end/p" "$CON")
	end=$(printf '%s\n' "$out" | sed -n "s/^XTAP-VM-CMD $i end //p")
	if [ -z "$out" ]; then
		[ -n "$setup" ] || { SUMMARY+=("[$i] $c: did not run"); failed=$((failed + 1)); }
		continue
	fi
	if [ -z "$end" ]; then
		SUMMARY+=("[$i] $c: did not finish (VM ended or timed out)")
		failed=$((failed + 1))
		continue
	fi
	rc=$(printf '%s\n' "$end" | sed -n 's/.*rc=\([0-9]*\).*/\1/p')
	secs=$(printf '%s\n' "$end" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | awk '{s += $1} END {print s + 0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | awk '{s += $1} END {print s + 0}')
	s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:/\1/p' | awk '{s += $1} END {print s + 0}')
	how=cmocka
	if [ "$((p + f + s))" = 0 ]; then
		how="its summary"
		line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
		p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
		f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
		s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
		p=${p:-0} f=${f:-0} s=${s:-0}
		if [ -z "$line" ]; then
			how="exit status"
			case $rc in 0) p=1 ;; 77) s=1 ;; *) f=1 ;; esac
		fi
	fi
	[ "$rc" = 0 ] || [ "$rc" = 77 ] || [ "$f" -gt 0 ] || f=1
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	SUMMARY+=("[$i] $c: exit $rc in $secs s ($how: $p passed, $f failed, $s skipped)")
done
if [ -z "$exit_line" ]; then
	why="no closing marker"
	[ "$QRC" = 124 ] && why="QEMU killed after $VM_TIMEOUT s (XTAP_VM_TIMEOUT)"
	grep -q 'Kernel panic' "$CON" && why="kernel panic: $(grep -m1 'Kernel panic' "$CON")"
	SUMMARY+=("VM ended without its closing marker: $why (QEMU exit $QRC)")
	failed=$((failed + 1))
elif [ "$QRC" != 0 ]; then
	SUMMARY+=("QEMU exited $QRC after the guest's closing marker: $(tail -n 2 "$RUN/qemu.log" | tr '\n' ' ')")
	failed=$((failed + 1))
fi

boot=-
[ -z "${SEEN[init]:-}" ] || boot="$(elapsed "$T_QEMU" "${SEEN[init]}") s to /init, $(elapsed "$T_QEMU" "${SEEN[ready]:-${SEEN[init]}}") s to the commands"
echo
echo "== vhost VM summary"
printf '   %s\n' "${SUMMARY[@]}"
echo "   image $T_IMAGE s; QEMU start -> $boot; VM $T_VM s in all; tier $(elapsed "$T_START") s"
echo "   console log: $LOGS/console"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
