#!/bin/bash
# make test-fleet: a fleet run from etcd (docs/fleet.md). etcd in a namespace of its own
# (data dir in a temp dir), three hosts as namespaces, each with its own xtapd and bpffs
# (ip netns exec gives each its own mount namespace), all on an underlay bridge; every
# address from documentation ranges. Desired state is written with xtapctl --etcd (the
# many ports of ports_converge with etcdctl, to time the hosts rather than xtapctl).
# Prints "-- PASS name" / "-- FAIL name" per test and "N passed, N failed, N skipped".
# Skips (77) without etcd-server, fails under CI=true (CI installs it).
set -uo pipefail
B=$(realpath "${XTAP_BUILD:-build}")
MOVEBENCH=$(dirname "$(realpath "$0")")/movebench.py   # first frame after a move (its docstring)
skip() {
	if [ "${CI:-}" = true ]; then echo "fleet: $1 (CI installs it: failing)"; exit 1; fi
	echo "fleet: skipped: $1"; exit 77
}
command -v etcd >/dev/null || skip "etcd-server is not installed (tools/install-deps.sh)"
command -v etcdctl >/dev/null || skip "etcd-client is not installed (tools/install-deps.sh)"
[ "$(id -u)" = 0 ] || skip "needs root (namespaces, taps, BPF)"
for f in xtapd xtapctl xtap-vmsim; do [ -x "$B/$f" ] || { echo "fleet: $B/$f missing (make)"; exit 1; }; done

P=xf$$-                       # namespace prefix: this run's only
T=$(mktemp -d /tmp/xtap-fleet.XXXXXX)
ETCD_IP=192.0.2.2
URL=http://$ETCD_IP:2379
HOSTS=(h1 h2 h3)
declare -A AGENT_PID HOST_IP=([h1]=192.0.2.11 [h2]=192.0.2.12 [h3]=192.0.2.13)
ETCD_PID=
BG_PIDS=()                    # helpers in the background (senders, receivers, the bench), killed by PID
passed=0 failed=0 skipped=0

cleanup() {
	local h p
	for h in "${HOSTS[@]}"; do
		p=${AGENT_PID[$h]:-}
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	[ -n "$ETCD_PID" ] && kill -KILL "$ETCD_PID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in etcd ul "${HOSTS[@]}"; do ip netns del "$P$h" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "fleet: kept $T" || rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "-- PASS $1"; passed=$((passed + 1)); }
fail() { echo "-- FAIL $1: $2"; failed=$((failed + 1)); }
in_ns() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }
ectl() { in_ns etcd etcdctl --endpoints="$URL" "$@"; }
# xtapctl --etcd, from host h1's namespace (any host reaches etcd)
fctl() { in_ns h1 "$B/xtapctl" --etcd "$URL" "$@"; }
# a host's own xtapd, over its socket
hctl() { local h=$1; shift; "$B/xtapctl" -s "$T/$h/xtapd.sock" "$@"; }
now_ms() { date +%s%3N; }
# poll CMD until it succeeds or SECONDS pass
wait_for() {
	local secs=$1; shift
	local end=$(( $(date +%s) + secs ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# ---- the underlay: one bridge, a veth per node ----
ip netns add "${P}ul" && in_ns ul ip link add br0 type bridge && in_ns ul ip link set br0 up || { echo "fleet: namespaces: failed"; exit 1; }
in_ns ul ip link set lo up
node() {
	local n=$1 ip=$2
	ip netns add "$P$n"
	ip link add "u-$n-$$" netns "${P}ul" type veth peer name ul0 netns "$P$n"
	# VXLAN adds 50 bytes: an underlay of 1550 carries the VMs' 1500
	in_ns ul ip link set "u-$n-$$" mtu 1550 master br0 up
	# XDP redirected into ul0 reaches its bridge-side peer only when that peer runs NAPI
	# (GRO on, or an XDP program): without this line the VXLAN unicast tests fail
	in_ns ul ethtool -K "u-$n-$$" gro on >/dev/null
	in_ns "$n" ip addr add "$ip/24" dev ul0
	in_ns "$n" ip link set ul0 mtu 1550 up
	in_ns "$n" ip link set lo up
}
node etcd $ETCD_IP
for h in "${HOSTS[@]}"; do
	node "$h" "${HOST_IP[$h]}"
	mkdir -p "$T/$h"
	# the underlay: this host's VTEP; the datapath asks the FIB for outer MACs (forwarding on, neighbours known)
	echo "{\"underlay\": {\"ifname\": \"ul0\", \"vtep\": \"${HOST_IP[$h]}\"}}" >"$T/$h/xtapd.json"
	in_ns "$h" sysctl -qw net.ipv4.conf.all.forwarding=1
done
for h in "${HOSTS[@]}"; do
	for o in "${HOSTS[@]}"; do
		[ "$h" = "$o" ] && continue
		in_ns "$h" ip neigh replace "${HOST_IP[$o]}" dev ul0 nud permanent \
			lladdr "$(in_ns "$o" cat /sys/class/net/ul0/address)"
	done
done

start_etcd() {
	# ip netns exec directly, not in_ns: $! is then etcd itself (ip execs it)
	ip netns exec "${P}etcd" etcd --name fleet --data-dir "$T/etcd" --listen-client-urls "$URL" \
		--advertise-client-urls "$URL" --listen-peer-urls "http://$ETCD_IP:2380" \
		--initial-advertise-peer-urls "http://$ETCD_IP:2380" --initial-cluster "fleet=http://$ETCD_IP:2380" \
		>>"$T/etcd.log" 2>&1 &
	ETCD_PID=$!
	wait_for 30 ectl endpoint health
}
stop_etcd() { kill -TERM "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null; ETCD_PID=; }

# xtapd without xtap-vhost beside it: no vhost-user server per port (1000 ports here).
mkdir -p "$T/bin" && cp "$B/xtapd" "$T/bin/xtapd"
start_agent() {
	local h=$1
	ip netns exec "$P$h" "$T/bin/xtapd" -c "$T/$h/xtapd.json" --etcd "$URL" --host "$h" --socket "$T/$h/xtapd.sock" \
		--state "$T/$h/state.json" >>"$T/$h/xtapd.log" 2>&1 &
	AGENT_PID[$h]=$!
	wait_for 30 hctl "$h" status
}
agent_connected() { [ "$(hctl "$1" -j status | jq .etcd.connected)" = true ]; }
has_port() { hctl "$1" -j port list | jq -e --arg n "$2" 'any(.[]; .name == $n)' >/dev/null; }
no_port() { ! has_port "$@"; }
# the status xtapd wrote back for HOST/PORT, as JSON
port_status() { ectl get --print-value-only "/xtap/status/$1/$2"; }
applied_at() { port_status "$1" "$2" | grep -q "\"state\":\"applied\",\"revision\":$3"; }
rev_of() { sed -n 's/.*(revision \([0-9]*\)).*/\1/p'; }

start_etcd || { echo "fleet: etcd did not start:"; tail -5 "$T/etcd.log"; exit 1; }
# The etcd client alone (tests/fleet/test_etcd.c, cmocka), before any agent watches: each of its
# tests becomes one line here (its own summary is left out: this script's closes the tier).
if [ -x "$B/tests/test_etcd" ]; then
	XTAP_ETCD_URL=$URL XTAP_ETCD_COMPACT="etcdctl --endpoints=$URL compaction \$(etcdctl --endpoints=$URL endpoint status -w json | sed -n 's/.*\"revision\":\([0-9]*\).*/\1/p') >/dev/null" \
		ip netns exec "${P}etcd" "$B/tests/test_etcd" >"$T/test_etcd.out" 2>&1
	while read -r name; do pass "etcd_client: $name"; done < <(sed -n 's/^\[       OK \] \(.*\)/\1/p' "$T/test_etcd.out")
	while read -r name; do
		fail "etcd_client: $name" "$(grep -B3 "FAILED  \] $name" "$T/test_etcd.out" | grep -v "^\[" | head -2 | tr '\n' ' ')"
	done < <(sed -n 's/^\[  FAILED  \] \([a-z_]*\)$/\1/p' "$T/test_etcd.out" | sort -u)
else
	fail etcd_client "$B/tests/test_etcd missing (make)"
fi

for h in "${HOSTS[@]}"; do
	start_agent "$h" || { echo "fleet: xtapd on $h did not start:"; tail -5 "$T/$h/xtapd.log"; exit 1; }
done

# ---- tests ----
t=agents_registered
if wait_for 20 bash -c "[ \$(ip netns exec ${P}etcd etcdctl --endpoints=$URL get --prefix --keys-only /xtap/hosts/ | grep -c .) = 3 ]" &&
   agent_connected h1 && agent_connected h2 && agent_connected h3; then pass $t
else fail $t "hosts: $(ectl get --prefix --keys-only /xtap/hosts/ | tr '\n' ' ')"; fi

t=port_from_etcd
out=$(fctl segment add 1 2>&1) || fail $t "segment add: $out"
out=$(fctl --host h1 port add vm1 --segment 1 --mac 02:00:00:00:01:01 --addr 192.0.2.101/32 2>&1)
rev=$(echo "$out" | rev_of)
if [ -n "$rev" ] && wait_for 20 applied_at h1 vm1 "$rev" && in_ns h1 ip link show vm1 >/dev/null 2>&1 &&
   no_port h2 vm1; then pass $t
else fail $t "$out; status: $(port_status h1 vm1)"; fi

t=etcd_write_validated
# vm2 on another host with vm1's MAC in the same segment: refused before etcd changes.
before=$(ectl get --prefix --keys-only /xtap/ports/ | grep -c .)
out=$(fctl --host h2 port add vm2 --segment 1 --mac 02:00:00:00:01:01 2>&1); rc=$?
after=$(ectl get --prefix --keys-only /xtap/ports/ | grep -c .)
if [ $rc = 1 ] && echo "$out" | grep -q "already used by port vm1" && [ "$before" = "$after" ]; then pass $t
else fail $t "rc $rc: $out ($before -> $after keys)"; fi
out=$(fctl --host h2 port add vm2 --segment 9 --mac 02:00:00:00:01:02 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "segment 9 does not exist"; then pass ${t}_segment
else fail ${t}_segment "rc $rc: $out"; fi

t=port_set_keeps_tap
ifi=$(in_ns h1 cat /sys/class/net/vm1/ifindex)
out=$(fctl port set vm1 --segment 1 --mac 02:00:00:00:01:01 --addr 192.0.2.101/32 --addr 192.0.2.111/32 2>&1)
rev=$(echo "$out" | rev_of)
if [ -n "$rev" ] && wait_for 20 applied_at h1 vm1 "$rev" && hctl h1 -j port show vm1 | grep -q 192.0.2.111 &&
   [ "$(in_ns h1 cat /sys/class/net/vm1/ifindex)" = "$ifi" ]; then pass $t
else fail $t "$out; status: $(port_status h1 vm1)"; fi

t=local_socket_refuses_etcd_objects
out=$(hctl h1 port del vm1 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "from etcd" && has_port h1 vm1 && hctl h1 port list >/dev/null &&
   hctl h1 stats vm1 >/dev/null; then pass $t
else fail $t "rc $rc: $out"; fi
out=$(hctl h1 segment add 7 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "xtapctl --etcd"; then pass ${t}_segment
else fail ${t}_segment "rc $rc: $out"; fi

t=port_moves_between_hosts
t0=$(now_ms)
out=$(fctl --host h2 port set vm1 --segment 1 --mac 02:00:00:00:01:01 --addr 192.0.2.101/32 2>&1)
rev=$(echo "$out" | rev_of)
if [ -n "$rev" ] && wait_for 20 applied_at h2 vm1 "$rev" && wait_for 20 no_port h1 vm1 &&
   ! in_ns h1 ip link show vm1 >/dev/null 2>&1 && in_ns h2 ip link show vm1 >/dev/null 2>&1 &&
   wait_for 10 bash -c "! ip netns exec ${P}etcd etcdctl --endpoints=$URL get /xtap/status/h1/vm1 | grep -q ."; then
	pass "$t ($(( $(now_ms) - t0 )) ms from the etcd write to the port on h2 and gone from h1)"
else fail $t "$out; h2 status $(port_status h2 vm1); h1 $(hctl h1 port list 2>&1 | head -3)"; fi

t=port_del
out=$(fctl port del vm1 2>&1)
if wait_for 20 no_port h2 vm1 && ! in_ns h2 ip link show vm1 >/dev/null 2>&1; then pass $t
else fail $t "$out"; fi

# ---- the overlay: segment 2 (VNI 100) spans hosts ----
MA=02:00:00:00:02:01 MB=02:00:00:00:02:02 MZ=02:00:00:00:03:01
# frames FROM (tap on host H) to MAC; prints what the receiver counted
recv_start() { # HOST TAP FROM_MAC SECONDS
	ip netns exec "$P$1" "$B/xtap-vmsim" recv --tap "$2" --expect-src-mac "$3" --duration "$4" >"$T/recv-$2.out" 2>&1 &
	RECV_PID=$!
	sleep 0.3
}
# recv_done TAP: waits for the receiver (not in $(...): it is this shell's child), then sets GOT
recv_done() { wait "$RECV_PID"; GOT=$(sed -n 's/^received \([0-9]*\) frames.*/\1/p' "$T/recv-$1.out"); }
send() { # HOST TAP SRC_MAC DST_MAC SRC_IP DST_IP COUNT [vmsim options]
	local h=$1 tap=$2 sm=$3 dm=$4 si=$5 di=$6 n=$7; shift 7
	in_ns "$h" "$B/xtap-vmsim" send --tap "$tap" --src-mac "$sm" --dst-mac "$dm" --src-ip "$si" --dst-ip "$di" \
		--proto udp --count "$n" --pps 1000 "$@" >/dev/null 2>&1
}
# the VTEP HOST's overlay has for MAC in SEGMENT (empty: none)
rmac_vtep() { hctl "$1" -j overlay show | jq -r --arg m "$3" --argjson s "$2" '.macs[]? | select(.mac == $m and .segment == $s) | .vtep'; }
rmac_at() { [ "$(rmac_vtep "$1" "$2" "$3")" = "$4" ]; }

t=overlay_unicast_both_ways
fctl segment add 2 --vni 100 >/dev/null 2>&1
fctl --host h1 port add va --segment 2 --mac $MA --addr 198.51.100.1/32 >/dev/null 2>&1
out=$(fctl --host h2 port add vb --segment 2 --mac $MB --addr 198.51.100.2/32 2>&1)
rev=$(echo "$out" | rev_of)
if wait_for 20 applied_at h2 vb "$rev" && wait_for 20 rmac_at h1 2 $MB 192.0.2.12 && wait_for 20 rmac_at h2 2 $MA 192.0.2.11; then
	recv_start h2 vb $MA 3; send h1 va $MA $MB 198.51.100.1 198.51.100.2 200; recv_done vb; ab=$GOT
	recv_start h1 va $MB 3; send h2 vb $MB $MA 198.51.100.2 198.51.100.1 200; recv_done va; ba=$GOT
	if [ "$ab" = 200 ] && [ "$ba" = 200 ]; then pass "$t (200/200 each way)"
	else
		fail $t "h1->h2 ${ab:-?}/200, h2->h1 ${ba:-?}/200; h1 overlay counters $(hctl h1 -j overlay show | jq -c .counters); va from-vm $(hctl h1 -j stats va | jq -c '.va["from-vm"]')"; fi
else fail $t "remote MACs not programmed: $out; h1 sees vb at '$(rmac_vtep h1 2 $MB)'"; fi

t=overlay_broadcast
recv_start h2 vb $MA 3; send h1 va $MA ff:ff:ff:ff:ff:ff 198.51.100.1 198.51.100.255 100; recv_done vb; got=$GOT
if [ "$got" = 100 ]; then pass "$t (100/100 broadcasts reached the other host)"; else fail $t "${got:-?}/100"; fi

t=vni_isolation
fctl segment add 3 --vni 200 >/dev/null 2>&1
out=$(fctl --host h2 port add vz --segment 3 --mac $MZ --addr 198.51.100.9/32 2>&1)
rev=$(echo "$out" | rev_of)
if wait_for 20 applied_at h2 vz "$rev" && [ -z "$(rmac_vtep h1 2 $MZ)" ]; then
	recv_start h2 vz $MA 3; send h1 va $MA $MZ 198.51.100.1 198.51.100.9 100; recv_done vz; got=$GOT
	if [ "$got" = 0 ]; then pass "$t (0 of 100 frames from VNI 100 reached a VM of VNI 200)"
	else fail $t "$got of 100 crossed"; fi
else fail $t "$out"; fi

t=policy_on_cross_host_traffic
drops() { hctl h1 -j stats va | jq '.va["from-vm"].drops.spoof_ipv4.packets // 0'; }
d0=$(drops)
recv_start h2 vb $MA 3; send h1 va $MA $MB 198.51.100.1 198.51.100.2 100 --spoof-src-ip 198.51.100.77; recv_done vb; got=$GOT
d1=$(drops)
if [ "$got" = 0 ] && [ $((d1 - d0)) -ge 100 ]; then pass "$t (spoofed source: 0 of 100 crossed, dropped at the source host)"
else fail $t "received ${got:-?}, spoof drops $d0 -> $d1"; fi

# VXLAN for VNI 100 to h2's VTEP, inner frame va -> vb (IPv4/UDP): from an unknown VTEP
# (etcd's address) it must be dropped; the same bytes from h1's VTEP are delivered.
t=forged_vxlan_dropped
vxlan='\x08\x00\x00\x00\x00\x00\x64\x00'
inner='\x02\x00\x00\x00\x02\x02\x02\x00\x00\x00\x02\x01\x08\x00\x45\x00\x00\x1c\x00\x00\x40\x00\x40\x11\xb5\x3d\xc0\x00\x02\xc9\xc0\x00\x02\xca\x04\xd2\x04\xd2\x00\x08\x00\x00'
forge() { in_ns "$1" bash -c "for i in \$(seq 20); do printf '$vxlan$inner' >/dev/udp/192.0.2.12/4789; done"; }
recv_start h2 vb $MA 2; forge etcd; recv_done vb; forged=$GOT
recv_start h2 vb $MA 2; forge h1; recv_done vb; real=$GOT
if [ "$forged" = 0 ] && [ "${real:-0}" -gt 0 ]; then pass "$t (unknown VTEP: 0 of 20; known VTEP: $real of 20)"
else fail $t "from an unknown VTEP ${forged:-?} of 20 delivered, from h1 ${real:-?}"; fi

# A stream va (h1) -> vb (h2) while etcd goes away and comes back.
t=etcd_down_datapath_runs
recv_start h2 vb $MA 9
in_ns h1 "$B/xtap-vmsim" send --tap va --src-mac $MA --dst-mac $MB --src-ip 198.51.100.1 --dst-ip 198.51.100.2 \
	--proto udp --count 3000 --pps 500 >"$T/send.out" 2>&1 &
spid=$!
sleep 1
stop_etcd
down=$(wait_for 20 bash -c "! $B/xtapctl -s $T/h1/xtapd.sock -j status | jq -e .etcd.connected" && echo yes)
sleep 1
start_etcd >/dev/null
wait "$spid"
sent=$(sed -n 's/^sent \([0-9]*\) frames.*/\1/p' "$T/send.out")
recv_done vb; got=$GOT
if [ "$down" = yes ] && [ -n "$sent" ] && [ "$sent" = "$got" ] && wait_for 30 agent_connected h1; then
	pass "$t ($got of $sent cross-host frames across an etcd restart)"
else fail $t "etcd seen down: ${down:-no}; sent ${sent:-?} received ${got:-?}"; fi

t=watch_resumes_after_etcd_restart
out=$(fctl --host h3 port add vc --segment 1 --mac 02:00:00:00:02:03 2>&1)
rev=$(echo "$out" | rev_of)
if [ -n "$rev" ] && wait_for 30 applied_at h3 vc "$rev"; then pass $t
else fail $t "$out; status: $(port_status h3 vc)"; fi

# h2's watch falls behind a compaction: it lists again and converges.
t=relist_after_compaction
stop_etcd
wait_for 20 bash -c "! $B/xtapctl -s $T/h2/xtapd.sock -j status | jq -e .etcd.connected"
kill -STOP "${AGENT_PID[h2]}"
start_etcd >/dev/null
out=$(fctl --host h2 port add vd --segment 1 --mac 02:00:00:00:02:04 2>&1)
fctl --host h2 port set vd --segment 1 --mac 02:00:00:00:02:04 --addr 192.0.2.204/32 >/dev/null 2>&1
ectl compaction "$(ectl endpoint status -w json | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')" >/dev/null
kill -CONT "${AGENT_PID[h2]}"
if wait_for 40 bash -c "$B/xtapctl -s $T/h2/xtapd.sock -j port show vd | grep -q 192.0.2.204" &&
   grep -q "compacted" "$T/h2/xtapd.log"; then pass $t
else fail $t "$(tail -3 "$T/h2/xtapd.log")"; fi

# vb moves h2 -> h3 under a stream from va (1000 frames/s): every host points its MAC at h3's
# VTEP. A receiver on h3 (movebench.py recv) attaches to vb as soon as xtapd creates it there
# and stamps the first frame from va: the time from the write until traffic flows again.
t=vm_moves_traffic_follows
# ip netns exec directly, not in_ns (a function: $! would be a subshell, and kill would miss the sender)
ip netns exec "${P}h1" "$B/xtap-vmsim" send --tap va --src-mac $MA --dst-mac $MB --src-ip 198.51.100.1 --dst-ip 198.51.100.2 \
	--proto udp --count 20000 --pps 1000 >/dev/null 2>&1 &
spid=$!; BG_PIDS+=("$spid")
echo arm | ip netns exec "${P}h3" python3 "$MOVEBENCH" recv --tap vb --src-mac $MA --timeout 30 >"$T/first.out" 2>&1 &
fpid=$!; BG_PIDS+=("$fpid")
wait_for 10 grep -q ready "$T/first.out"
sleep 0.3
t0=$(date +%s.%N)
out=$(fctl --host h3 port set vb --segment 2 --mac $MB --addr 198.51.100.2/32 2>&1)
t1=$(date +%s.%N)
rev=$(echo "$out" | rev_of)
if [ -n "$rev" ] && wait_for 20 applied_at h3 vb "$rev" && wait_for 20 rmac_at h1 2 $MB 192.0.2.13; then
	t2=$(date +%s.%N)
	wait "$fpid"
	first=$(sed -n 's/^frame //p' "$T/first.out")
	recv_start h3 vb $MA 1; recv_done vb; got=$GOT
	gone_h2=$(wait_for 10 no_port h2 vb && echo yes)
	if [ -n "$first" ] && [ "${got:-0}" -gt 0 ] && [ "$gone_h2" = yes ]; then
		pass "$t ($(echo "$t0 $t1 $t2 $first" | awk '{printf "%.0f ms from the etcd write (xtapctl --etcd port set, %.0f ms itself) to the first frame at vb on h3, %.0f ms to the port applied there and h1'"'"'s FDB at h3'"'"'s VTEP (polled)", ($4 - $1) * 1000, ($2 - $1) * 1000, ($3 - $1) * 1000}'); then $got frames/s at h3)"
	else fail $t "first frame at h3: $(cat "$T/first.out" | tr '\n' ' '); received ${got:-?} at h3; gone from h2: ${gone_h2:-no}"; fi
else fail $t "$out; h1 sees vb at '$(rmac_vtep h1 2 $MB)'"; fi
kill "$spid" "$fpid" 2>/dev/null; wait "$spid" "$fpid" 2>/dev/null

# A VM that arrives on a host with an uplink is announced there as QEMU's announce-self
# does: RARPs from its MAC. Each host's uplink is a tap, read here as the "switch".
t=moved_vm_announced
MR=02:00:00:00:05:01
for h in "${HOSTS[@]}"; do in_ns "$h" ip tuntap add up0 mode tap && in_ns "$h" ip link set up0 up; done
fctl segment add 5 --uplink up0 >/dev/null 2>&1
out=$(fctl --host h1 port add vr --segment 5 --mac $MR 2>&1)
rev=$(echo "$out" | rev_of)
if wait_for 20 applied_at h1 vr "$rev"; then
	recv_start h3 up0 $MR 3
	out=$(fctl --host h3 port set vr --segment 5 --mac $MR 2>&1)
	recv_done up0; rarps=$GOT
	if [ "$rarps" = 3 ]; then
		pass "$t (3 RARPs from the VM's MAC on h3's uplink after the move)"
	else fail $t "$out; frames from the VM on h3's uplink: ${rarps:-?}"; fi
else fail $t "$out"; fi

# FLEET_BENCH=N (not in make test): N moves of vb between h2 and h3 under a 1000 frames/s
# stream from va on h1, timed by movebench.py (its docstring): one etcd transaction per move
# (the one xtapctl --etcd port set --host writes), a receiver on each host stamping the first
# frame at vb on its new host, a sniffer on h1's underlay port stamping the sender's switch to
# the new VTEP, an etcd watch stamping the new host's status; p50, p99 and max of each.
if [ "${FLEET_BENCH:-0}" -gt 0 ]; then
	t=fleet_bench_moves
	ip netns exec "${P}h1" "$B/xtap-vmsim" send --tap va --src-mac $MA --dst-mac $MB --src-ip 198.51.100.1 --dst-ip 198.51.100.2 \
		--proto udp --duration 36000 --pps 1000 >"$T/bench-send.out" 2>&1 &
	spid=$!; BG_PIDS+=("$spid")
	sleep 0.5
	ip netns exec "${P}etcd" python3 "$MOVEBENCH" bench --url "$URL" --port vb --src-mac $MA \
		--hosts h2=${HOST_IP[h2]},h3=${HOST_IP[h3]} --ns-prefix "$P" --sniff-ns ul --sniff-dev "u-h1-$$" \
		--sniff-src ${HOST_IP[h1]} --moves "$FLEET_BENCH" --out "$T/bench.moves" >"$T/bench.out" 2>&1 &
	bpid=$!; BG_PIDS+=("$bpid")
	wait "$bpid"; rc=$?
	kill -0 "$spid" 2>/dev/null || echo "bench: the sender had stopped: $(cat "$T/bench-send.out")"
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	cat "$T/bench.out"
	if [ $rc = 0 ]; then pass "$t ($FLEET_BENCH moves, each with its first frame delivered)"
	else fail $t "$(tail -3 "$T/bench.moves" 2>/dev/null | tr '\n' ' '); h1 sees vb at '$(rmac_vtep h1 2 $MB)'"; fi
fi

# Many ports at once: written while their segment does not exist yet (refused), then the segment:
# the time from that one write until every port is applied on its host and every host knows
# the others' MACs.
N=${FLEET_PORTS:-1000}
t=ports_converge
for ((i = 1; i <= N; i++)); do
	h=${HOSTS[$((i % 3))]}
	printf 'put /xtap/ports/%s/p%04d {"name":"p%04d","segment":4,"mac":"02:00:00:10:%02x:%02x"}\n' \
		"$h" "$i" "$i" $((i / 256)) $((i % 256))
done | xargs -d '\n' -P 4 -n 50 bash -c 'for l; do l=${l#put }
	ip netns exec "'"${P}etcd"'" etcdctl --endpoints="'"$URL"'" put "${l%% *}" "${l#* }" >/dev/null; done' _
t0=$(now_ms)
fctl segment add 4 --vni 300 >/dev/null
applied() { [ "$(ectl get --prefix /xtap/status/ | paste - - | grep '/p[0-9]' | grep -c '"applied"')" -ge "$N" ]; }
if wait_for 600 applied; then
	t1=$(now_ms)
	want=$((N - N / 3))
	if wait_for 300 bash -c "[ \$($B/xtapctl -s $T/h1/xtapd.sock -j overlay show | jq '[.macs[]? | select(.segment == 4)] | length') -ge $want ]"; then
		t2=$(now_ms)
		pass "$t ($N ports on 3 hosts: all applied $((t1 - t0)) ms after the segment's write; h1 knows the $want remote MACs after $((t2 - t0)) ms)"
	else fail $t "h1 has $(hctl h1 -j overlay show | jq '[.macs[]? | select(.segment == 4)] | length') of $want remote MACs"; fi
else fail $t "$(ectl get --prefix /xtap/status/ | paste - - | grep '/p[0-9]' | grep -c '"applied"') of $N applied"; fi

t=dead_host_removed
t0=$(now_ms)
dead=${AGENT_PID[h3]}
kill -KILL "$dead"; wait "$dead" 2>/dev/null; AGENT_PID[h3]=
gone() { [ -z "$(ectl get --prefix --keys-only "$1")" ]; }
no_h3_macs() { [ "$(hctl h1 -j overlay show | jq '[.macs[]? | select(.vtep == "192.0.2.13")] | length')" = 0 ] &&
	[ "$(hctl h2 -j overlay show | jq '[.macs[]? | select(.vtep == "192.0.2.13")] | length')" = 0 ]; }
if wait_for 30 gone /xtap/hosts/h3 && gone /xtap/status/h3/ && wait_for 60 no_h3_macs; then
	pass "$t (host key, statuses and every remote MAC behind h3 gone from h1 and h2 $(( $(now_ms) - t0 )) ms after SIGKILL; lease TTL 10 s)"
else fail $t "$(ectl get --prefix --keys-only /xtap/hosts/ | tr '\n' ' '); h1 MACs at h3: $(hctl h1 -j overlay show | jq '[.macs[]? | select(.vtep == "192.0.2.13")] | length')"; fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
