#!/bin/bash
# `make demo`: xtap end to end in private network namespaces, with simulated VMs.
#
#   bash tools/demo.sh           (re)builds, sets up, shows steering, anti-spoofing,
#                                an ACL, a rate limit and a VM over vhost-user, then
#                                leaves it all running
#   bash tools/demo.sh --clean   removes everything the demo made
#
# Nothing touches the host's interfaces: the agent, the taps and the uplink live
# in namespace xtap-demo; the "outside" is namespace xtap-demo-out, joined by a
# veth pair (uplink0 <-> out0). Its bpffs, socket, state and log are under
# /run/xtap-demo, the ports' vhost-user sockets under /run/xtap-demo/vhost.
# Addresses are documentation ones (192.0.2.0/24, 2001:db8::/64).
set -eEuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NS=xtap-demo
NS_OUT=xtap-demo-out
RUN=/run/xtap-demo
BPFFS=$RUN/bpf
PIN=$BPFFS/xtap
SOCK=$RUN/xtapd.sock
PIDFILE=$RUN/xtapd.pid
LOG=$RUN/xtapd.log
XTAPD=$ROOT/build/xtapd
CTL=$ROOT/build/xtapctl
VMSIM=$ROOT/build/xtap-vmsim
RATE=10m            # (d): the limit, as xtapctl takes it
RATE_BPS=10000000   # the same in bits/s
FRAME=1000          # bytes per frame in (d)

in_ns() { ip netns exec "$NS" "$@"; }
in_out() { ip netns exec "$NS_OUT" "$@"; }
ctl() { "$CTL" -s "$SOCK" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
xtapctl() { printf '$ xtapctl %s\n' "$*"; ctl "$@"; }   # shows the command, then runs it

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

xtapd_pid() {
	local pid
	[ -r "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE")
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = xtapd ] && echo "$pid"
}

# The ports' xtap-vhost processes are detached from xtapd and outlive it: the
# ones it did not stop (xtapd gone, or teardown failed), by the pids in their
# status files, each only if /proc/PID/cmdline is an xtap-vhost of this demo.
# Running and not a zombie (the detached ones are reaped by whoever is PID 1).
pid_running() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] && [ -d "/proc/$1" ]; }
stop_vhosts() {
	local f pid pids=() live=()
	for f in "$RUN"/vhost/*.json; do
		[ -r "$f" ] || continue
		pid=$(sed -n 's/.*"pid":[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$f")
		[ -n "$pid" ] || continue
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'xtap-vhost$' || continue
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$f" || continue
		kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	[ ${#pids[@]} -gt 0 ] || return 0
	echo "stopping ${#pids[@]} xtap-vhost process(es) left running: ${pids[*]}"
	for _ in $(seq 50); do
		live=()
		for pid in "${pids[@]}"; do
			if pid_running "$pid"; then live+=("$pid"); fi
		done
		[ ${#live[@]} -gt 0 ] || return 0
		sleep 0.1
	done
	echo "xtap-vhost ${live[*]} ignored SIGTERM: killing"
	kill -KILL "${live[@]}" 2>/dev/null || true
}

clean() {
	local pid
	if pid=$(xtapd_pid) && [ -S "$SOCK" ]; then
		"$CTL" -s "$SOCK" teardown >/dev/null 2>&1 || echo "clean: xtapctl teardown failed (continuing)"
	fi
	if pid=$(xtapd_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
	fi
	stop_vhosts
	! ns_exists "$NS_OUT" || ip netns del "$NS_OUT"
	! ns_exists "$NS" || ip netns del "$NS"
	! mountpoint -q "$BPFFS" 2>/dev/null || umount "$BPFFS"
	rm -rf "$RUN"
}

case "${1:-}" in
--clean)
	[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }
	if ! ns_exists "$NS" && ! ns_exists "$NS_OUT" && [ ! -e "$RUN" ]; then
		echo "no xtap demo to remove"
		exit 0
	fi
	clean
	echo "xtap demo removed (agent stopped, namespaces $NS and $NS_OUT deleted, $RUN gone)"
	exit 0 ;;
-h|--help)
	sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 0 ;;
"") ;;
*)
	echo "usage: bash tools/demo.sh [--clean]" >&2
	exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "demo: run as root (namespaces, taps, BPF)" >&2; exit 1; }
cd "$ROOT"
START=$SECONDS
DONE=0
FAIL_AT=
trap '[ -n "$FAIL_AT" ] || FAIL_AT="line $LINENO: $BASH_COMMAND"' ERR
on_exit() {
	local rc=$?
	if [ "$DONE" != 1 ]; then
		echo
		echo "demo: failed (exit $rc)${FAIL_AT:+ at $FAIL_AT}; cleaning up" >&2
		if [ -r "$LOG" ]; then
			echo "--- last lines of $LOG ---" >&2
			tail -n 20 "$LOG" >&2 || true
		fi
		clean || true
	fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

say "dependencies and build"
bash tools/install-deps.sh
make -s all build/xtap-vmsim

if ns_exists "$NS" || ns_exists "$NS_OUT" || [ -e "$RUN" ]; then
	echo "removing the previous demo run"
	clean
fi

say "namespaces $NS (agent, taps, uplink0) and $NS_OUT (the outside, out0)"
mkdir -p "$BPFFS"
mount -t bpf bpf "$BPFFS"   # in the host mount namespace: ip netns exec remounts /sys, not /run
ip netns add "$NS"
ip netns add "$NS_OUT"
in_ns ip link set lo up
in_out ip link set lo up
# Without this, the host side of each tap and out0 would send router
# solicitations and MLD reports to the VMs: noise in the counts below.
in_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
in_out sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
in_ns ip link add uplink0 type veth peer name out0 netns "$NS_OUT"
in_ns ip link set uplink0 up
in_out ip addr add 192.0.2.254/24 dev out0
in_out ip link set out0 up
# XDP redirects into a veth need NAPI on its peer: GRO on out0 enables it, so
# does any XDP program on out0.
if command -v ethtool >/dev/null; then
	in_out ethtool -K out0 gro on
	echo "out0: GRO on (NAPI for XDP redirects into uplink0)"
else
	# Five lines of C rather than a dependency: XDP_PASS is 2.
	printf '%s\n' 'struct xdp_md;' \
		'__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx) { return 2; }' \
		'__attribute__((section("license"), used)) char _license[] = "GPL";' |
		clang -O2 -target bpf -c -x c - -o "$RUN/xdp_pass.o"
	in_out ip link set dev out0 xdp obj "$RUN/xdp_pass.o" sec xdp
	echo "out0: an XDP_PASS program attached (NAPI for XDP redirects into uplink0; ethtool is not installed)"
fi
OUT_MAC=$(in_out cat /sys/class/net/out0/address)
# Simulated VMs answer no ARP: the outside knows their MACs statically.
for i in 1 2 3 4; do
	in_out ip neigh replace 192.0.2.$i lladdr 02:00:00:00:00:0$i dev out0 nud permanent
done

say "xtapd"
setsid ip netns exec "$NS" "$XTAPD" --pin-dir "$PIN" --socket "$SOCK" --state "$RUN/state.json" \
	</dev/null >"$LOG" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 100); do
	ctl status >/dev/null 2>&1 && break
	kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { echo "xtapd exited:" >&2; cat "$LOG" >&2; exit 1; }
	sleep 0.1
done
ctl status >/dev/null
echo "xtapd running, pid $(cat "$PIDFILE"), log $LOG"
xtapctl segment add 1 --uplink uplink0
for i in 1 2 3 4; do
	xtapctl port add vm$i --segment 1 --mac 02:00:00:00:00:0$i --addr 192.0.2.$i/32 --addr 2001:db8::$i/128
done

# rx TAP SECONDS [recv options]: xtap-vmsim recv in the background; its output lands in $RUN/rx.
# Waits until the tap's carrier is up, i.e. recv holds it open, before returning.
RX_PID=
rx() {
	local tap=$1 secs=$2
	shift 2
	in_ns "$VMSIM" recv --tap "$tap" --duration "$secs" "$@" >"$RUN/rx" &
	RX_PID=$!
	for _ in $(seq 50); do
		[ "$(in_ns cat "/sys/class/net/$tap/carrier" 2>/dev/null)" = 1 ] && return 0
		sleep 0.02
	done
	echo "recv did not attach to $tap" >&2
	return 1
}
# rx_wait: waits for it, shows its output, sets RX_FRAMES, RX_BPS and RX_BAD.
rx_wait() {
	wait "$RX_PID"
	cat "$RUN/rx"
	read -r RX_FRAMES RX_BPS RX_BAD < <(awk '/^received/ {print $2, $6, $8}' "$RUN/rx")
}
# send FROM-TAP [send options]: vm1's identity unless overridden.
send() {
	local tap=$1
	shift
	printf '$ xtap-vmsim send --tap %s %s\n' "$tap" "$*"
	in_ns "$VMSIM" send --tap "$tap" "$@"
}
VM1=(--src-mac 02:00:00:00:00:01 --src-ip 192.0.2.1)
TO_VM2=(--dst-mac 02:00:00:00:00:02 --dst-ip 192.0.2.2)

# The same as a VMM on a port's vhost-user socket (any namespace: it is a path).
# rx_vu SOCKET PORT SECONDS [recv options]: returns once xtap-vhost runs both of
# the VM's rings (xtapctl -j port show PORT: .status.vhost_user.rings_running).
rx_vu() {
	local sock=$1 port=$2 secs=$3
	shift 3
	"$VMSIM" recv --vhost-user "$sock" --duration "$secs" "$@" >"$RUN/rx" &
	RX_PID=$!
	for _ in $(seq 50); do
		[ "$(ctl -j port show "$port" | jq '.status.vhost_user.rings_running')" = 2 ] && return 0
		sleep 0.02
	done
	echo "recv did not attach to $sock" >&2
	return 1
}
send_vu() {
	local sock=$1
	shift
	printf '$ xtap-vmsim send --vhost-user %s %s\n' "$sock" "$*"
	"$VMSIM" send --vhost-user "$sock" "$@"
}
VM4=(--src-mac 02:00:00:00:00:04 --src-ip 192.0.2.4)
TO_VM1=(--dst-mac 02:00:00:00:00:01 --dst-ip 192.0.2.1)

FAILED=()
check() { # check WHAT EXPECTED ACTUAL [TOLERANCE%]
	local what=$1 want=$2 got=$3 tol=${4:-0}
	if awk -v w="$want" -v g="$got" -v t="$tol" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= w * t / 100) }'; then
		echo "   ok: $what"
	else
		echo "   UNEXPECTED: $what (expected $want, got $got)"
		FAILED+=("$what")
	fi
}
out_rx() { in_out cat /sys/class/net/out0/statistics/rx_packets; }
# drops PORT REASON: packets dropped for REASON, both directions added up (from xtapctl -j stats).
drops() {
	ctl -j stats "$1" | awk -v r="\"$2\":" 'index($0, r) {f = 1} f && /"packets"/ {gsub(/[^0-9]/, ""); n += $0; f = 0}
		END {print n + 0}'
}

say "(a) steering: vm1 -> vm2 by XDP redirect, tap to tap"
rx vm2 1.5 --expect-src-mac 02:00:00:00:00:01
send vm1 "${VM1[@]}" "${TO_VM2[@]}" --count 1000 --pps 5000
send vm1 "${VM1[@]}" "${TO_VM2[@]}" --proto tcp --count 1000 --pps 5000 --partial-csum
rx_wait
check "vm2 received all 2000 frames" 2000 "$RX_FRAMES"
check "every checksum verifies (XDP completed the 1000 partial ones before redirecting)" 0 "$RX_BAD"

echo "-- vm1 -> the outside (out0's MAC): XDP redirect into the uplink"
before=$(out_rx)
send vm1 "${VM1[@]}" --dst-mac "$OUT_MAC" --dst-ip 192.0.2.254 --count 100 --pps 5000
sleep 0.2
after=$(out_rx)
echo "out0 rx_packets: $before -> $after"
check "out0 received the 100 frames" 100 $((after - before))

echo "-- the outside -> vm2: ping from $NS_OUT (vm2 is simulated and never answers)"
rx vm2 1.5 --expect-src-mac "$OUT_MAC"
printf '$ ip netns exec %s ping -c 5 -i 0.2 -W 0.2 192.0.2.2\n' "$NS_OUT"
in_out ping -c 5 -i 0.2 -W 0.2 -q 192.0.2.2 >/dev/null 2>&1 || true
rx_wait
check "vm2 received the 5 echo requests through the uplink" 5 "$RX_FRAMES"

say "(b) anti-spoofing: vm1 sends with a source address it does not own"
rx vm2 1 --expect-src-mac 02:00:00:00:00:01
send vm1 --src-mac 02:00:00:00:00:01 --spoof-src-ip 192.0.2.99 "${TO_VM2[@]}" --count 100 --pps 5000
send vm1 --src-mac 02:00:00:00:00:01 --spoof-src-ip 192.0.2.2 --dst-mac ff:ff:ff:ff:ff:ff --dst-ip 192.0.2.3 --arp-spoof --count 10
rx_wait
check "vm2 received none of them" 0 "$RX_FRAMES"
xtapctl stats vm1
check "xtapctl stats vm1 counts 100 spoof_ipv4 drops" 100 "$(drops vm1 spoof_ipv4)"
check "xtapctl stats vm1 counts 10 spoof_arp drops" 10 "$(drops vm1 spoof_arp)"

say "(c) an ACL: vm2 takes no UDP to port 5001"
xtapctl acl add vm2 to-vm deny --proto udp --ports 5001
rx vm2 1 --expect-src-mac 02:00:00:00:00:01
send vm1 "${VM1[@]}" "${TO_VM2[@]}" --dport 5001 --count 100 --pps 5000
rx_wait
check "vm2 received nothing on UDP port 5001" 0 "$RX_FRAMES"
rx vm2 1 --expect-src-mac 02:00:00:00:00:01
send vm1 "${VM1[@]}" "${TO_VM2[@]}" --dport 5002 --count 100 --pps 5000
rx_wait
check "vm2 received all 100 frames on UDP port 5002" 100 "$RX_FRAMES"

say "(d) a rate limit: vm1 may send $((RATE_BPS / 1000000)) Mbit/s and tries twice that for 3 s"
xtapctl rate set vm1 from-vm --rate "$RATE"
PPS=$((2 * RATE_BPS / 8 / FRAME))
rx vm2 3.5 --expect-src-mac 02:00:00:00:00:01
send vm1 "${VM1[@]}" "${TO_VM2[@]}" --dport 5002 --size "$FRAME" --pps "$PPS" --duration 3
rx_wait
MEASURED=$RX_BPS
awk -v m="$MEASURED" -v c="$RATE_BPS" -v s=$((2 * RATE_BPS)) 'BEGIN {
	printf "   offered %.2f Mbit/s, configured %.2f Mbit/s, measured at vm2 %.2f Mbit/s (%+.1f%%)\n",
	       s / 1e6, c / 1e6, m / 1e6, (m - c) * 100 / c }'
check "vm2 receives about $((RATE_BPS / 1000000)) Mbit/s (within 10%)" "$RATE_BPS" "$MEASURED" 10

say "(e) vm4 over vhost-user: a VMM shares its guest's memory with the port's xtap-vhost"
VU_SOCK=$(ctl -j port show vm4 | jq -r '.status.vhost_user.socket')
echo "vm4's vhost-user socket (xtapctl -j port show vm4 | jq -r .status.vhost_user.socket): $VU_SOCK"
echo "-- vm1 -> vm4: xtap-vmsim recv connects to it as vm4's VMM (tests/vhost/frontend.c is its virtio driver)"
rx_vu "$VU_SOCK" vm4 1 --expect-src-mac 02:00:00:00:00:01
printf '$ xtapctl port show vm4 | jq .status\n'
ctl port show vm4 | jq .status
check "vm4's frontend is connected" connected "$(ctl -j port show vm4 | jq -r '.status.vhost_user.frontend')"
send vm1 "${VM1[@]}" --dst-mac 02:00:00:00:00:04 --dst-ip 192.0.2.4 --count 100 --pps 5000
rx_wait
check "vm4 received the 100 frames from its RX virtqueue" 100 "$RX_FRAMES"

echo "-- vm4 -> vm1: from vm4's TX virtqueue through xtap-vhost into its tap, then XDP"
rx vm1 1 --expect-src-mac 02:00:00:00:00:04
send_vu "$VU_SOCK" "${VM4[@]}" "${TO_VM1[@]}" --count 1000 --pps 5000
rx_wait
check "vm1 received all 1000 frames" 1000 "$RX_FRAMES"

echo "-- vm4 claims vm2's address: anti-spoofing applies as on any port"
rx vm1 1 --expect-src-mac 02:00:00:00:00:04
send_vu "$VU_SOCK" --src-mac 02:00:00:00:00:04 --spoof-src-ip 192.0.2.2 "${TO_VM1[@]}" --count 100 --pps 5000
rx_wait
check "vm1 received none of them" 0 "$RX_FRAMES"
check "xtapctl stats vm4 counts 100 spoof_ipv4 drops" 100 "$(drops vm4 spoof_ipv4)"

echo "-- a real VM on this port: QEMU as in README.md (its RAM shared, the socket from port show)"
cat <<EOF
qemu-system-x86_64 ... -m 1G \\
    -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \\
    -chardev socket,id=c0,path=$VU_SOCK,reconnect=1 \\
    -netdev vhost-user,id=n0,chardev=c0 \\
    -device virtio-net-pci,netdev=n0,mac=02:00:00:00:00:04
EOF
echo "-- or under libvirt (README.md, \"With libvirt\"): the domain's RAM shared, its interface on the same socket;"
echo "   libvirt runs QEMU as libvirt-qemu, which may not open a root 0600 socket: add the port with its --owner/--group"
cat <<EOF
<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
<interface type='vhostuser'>
  <mac address='02:00:00:00:00:04'/>
  <source type='unix' path='$VU_SOCK' mode='client'><reconnect enabled='yes' timeout='1'/></source>
  <model type='virtio'/>
</interface>
EOF

say "the state of things"
xtapctl port list
echo
xtapctl stats
echo
xtapctl acl list vm2
echo
printf '$ bpftool map dump pinned %s/xtap_ports | head -n 40\n' "$PIN"
bpftool map dump pinned "$PIN/xtap_ports" | head -n 40 || true

say "summary"
if [ ${#FAILED[@]} -eq 0 ]; then
	echo "all checks passed in $((SECONDS - START)) s"
else
	echo "${#FAILED[@]} check(s) did not come out as expected:"
	printf '  - %s\n' "${FAILED[@]}"
fi
cat <<EOF

The demo is still running, for you to explore:
  xtapd          pid $(cat "$PIDFILE"), in namespace $NS; log: $LOG
  taps           vm1 vm2 vm3 vm4 (02:00:00:00:00:01-04, 192.0.2.1-4) in $NS, segment 1
  vhost-user     every port's socket in $RUN/vhost (vm4's: $VU_SOCK), served by an xtap-vhost
  a real VM      QEMU's command line or libvirt's <interface type='vhostuser'> printed above (README.md:
                 "Then give the VM its port" and "With libvirt")
  uplink         uplink0 in $NS <-> out0 (192.0.2.254/24) in $NS_OUT
  maps and links pinned in $PIN

Look inside (xtapctl reaches the agent by its socket, from any namespace):
  $CTL -s $SOCK port list
  $CTL -s $SOCK port show vm1
  $CTL -s $SOCK stats
  $CTL -s $SOCK top
  $CTL -s $SOCK fdb
  $CTL -s $SOCK acl list vm2
  $CTL -s $SOCK rate clear vm1 from-vm
  ip netns exec $NS $VMSIM recv --tap vm2 --duration 5 &
  $VMSIM recv --vhost-user $VU_SOCK --duration 5 &
  ip netns exec $NS $VMSIM send --tap vm1 --src-mac 02:00:00:00:00:01 --dst-mac 02:00:00:00:00:02 \\
      --src-ip 192.0.2.1 --dst-ip 192.0.2.2 --dport 5002 --pps 1000 --duration 3
      (vm2 still denies UDP port 5001 and vm1 is still limited to $((RATE_BPS / 1000000)) Mbit/s)
  ip netns exec $NS ip -d link show vm1
  ip netns exec $NS_OUT ping 192.0.2.2
  bpftool map dump pinned $PIN/xtap_ports
  bpftool prog show; bpftool link show

Clean up:
  bash tools/demo.sh --clean
EOF
DONE=1
[ ${#FAILED[@]} -eq 0 ]
