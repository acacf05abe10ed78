#!/bin/bash
# The libvirt tier (`make test-libvirt`): xtap ports under libvirt, the VM manager operators use.
#
#   bash tests/libvirt/run.sh          (as root; build first: make)
#
# It starts its own libvirtd (no systemd): in xtapd's network namespace (so that
# <target dev='TAP' managed='no'/> finds the tap) and in a private mount namespace
# whose /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
# /var/cache/libvirt are this run's directories, /dev/kvm hidden (TCG). qemu.conf
# runs QEMU as libvirt-qemu:libvirt-qemu (created when missing, as
# libvirt-daemon-system would, and kept), security_driver "none", stdio_handler
# "file". The domains boot the Debian-kernel guest of tests/guest (image.sh):
#   U  <interface type='vhostuser'> on port vmU's socket (memfd shared memory,
#      reconnect, vectors=0 through <qemu:override> for TCG); the port is added
#      with --owner/--group libvirt-qemu so that QEMU may connect
#   E  <interface type='ethernet'><target dev='vmE' managed='no'/>: libvirt opens
#      the tap by name and hands QEMU the fd
# Scenarios: 0 boot; 1 ping U<->E; 2 TCP 8 MiB U->E and E->U with md5; 3 a spoof
# from each dropped and counted; 4 xtapd restarted under the running domains (U's
# frames keep passing while it is down); 5 a vhostuser domain without shared
# memory: port show says "not shared" with a hint; 6 a vhostuser domain on a
# socket libvirt-qemu may not open: `virsh start` hangs, port show hints, destroy
# ends it; 7 destroy and undefine: nothing left behind.
# The guests are driven through their second serial port as in tests/guest
# (guest-init.sh, harness.sh). Ends with "N passed, N failed". Exit 77 (one line
# why) without root, /dev/net/tun, QEMU or libvirtd; with CI=true a missing
# package is a failure instead.
#
# Environment: XTAP_BUILD (default build), XTAP_GUEST_CACHE (the guest image),
# XTAP_LIBVIRT_LOGS (consoles, libvirtd's, QEMU's and xtapd's logs are copied
# there, default $XTAP_BUILD/tests/libvirt-logs).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GUEST=$ROOT/tests/guest
BUILD=${XTAP_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
XTAPD=$BUILD/xtapd
CTL=$BUILD/xtapctl
LOGS=${XTAP_LIBVIRT_LOGS:-$BUILD/tests/libvirt-logs}
QEMU=qemu-system-x86_64
QEMU_USER=libvirt-qemu

T_START=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
skip_tier() { echo "libvirt tier skipped: $*"; exit 77; }
fail_tier() { echo "libvirt tier: $*"; echo "0 passed, 1 failed"; exit 1; }
missing() { if [ "${CI:-}" = true ]; then fail_tier "$* (CI=true: this must work in CI)"; else skip_tier "$*"; fi; }

# --- prerequisites ---------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip_tier "needs root (network namespaces, taps, BPF, libvirtd)"
[ -c /dev/net/tun ] || skip_tier "no /dev/net/tun"
command -v libvirtd >/dev/null || missing "no libvirtd (Debian packages libvirt-daemon libvirt-daemon-driver-qemu)"
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
	missing "libvirtd has no QEMU driver (Debian package libvirt-daemon-driver-qemu)"
command -v virsh >/dev/null || missing "no virsh (Debian package libvirt-clients)"
command -v "$QEMU" >/dev/null || missing "no $QEMU (Debian package qemu-system-x86)"
for tool in timeout jq ip unshare; do
	command -v $tool >/dev/null || missing "no $tool (make deps installs it)"
done
[ -x "$XTAPD" ] && [ -x "$CTL" ] || fail_tier "no $XTAPD or $CTL: build first (make)"

. "$GUEST/image.sh"
. "$GUEST/sandbox.sh"
guest_image guest
echo "guest kernel $KVER ($PKG), $( [ "$CACHE_HIT" = 1 ] && echo "cached" || echo "built now")"

# Without libvirt-daemon-system there is no libvirt-qemu user: libvirtd refuses a qemu.conf naming a missing one.
if ! getent group "$QEMU_USER" >/dev/null; then
	groupadd --system "$QEMU_USER" || fail_tier "cannot create the group $QEMU_USER"
	echo "created the group $QEMU_USER (libvirt runs QEMU under it; libvirt-daemon-system would have; kept)"
fi
if ! id "$QEMU_USER" >/dev/null 2>&1; then
	useradd --system --gid "$QEMU_USER" --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
		"$QEMU_USER" || fail_tier "cannot create the user $QEMU_USER"
	echo "created the user $QEMU_USER (libvirt runs QEMU as it; libvirt-daemon-system would have; kept)"
fi
QUID=$(id -u "$QEMU_USER") QGID=$(getent group "$QEMU_USER" | cut -d: -f3)

# --- the sandbox -------------------------------------------------------------------
NS=xtap-libvirt-$$
RUN=/run/xtap-libvirt-$$
LV=$RUN/libvirt                   # this run's /etc/libvirt, /run/libvirt, ... (see start_libvirtd)
BPFFS=$RUN/bpf
SOCK=$RUN/xtapd.sock
XTAPD_PID= LIBVIRTD_PID=
declare -A QPID=() CTLFD=() READER=() DEAD=() BOOT=()
SEQ=0
# Where libvirtd keeps state: mount points in its own mount namespace (made here if missing, removed after).
LV_DIRS="/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt"
MADE_DIRS=()

MAC_U=02:00:00:00:03:01 IP_U=192.0.2.31
MAC_E=02:00:00:00:03:02 IP_E=192.0.2.32
MAC_N=02:00:00:00:03:03 IP_N=192.0.2.33
MAC_P=02:00:00:00:03:04 IP_P=192.0.2.34

in_ns() { ip netns exec "$NS" "$@"; }
ctl() { "$CTL" -s "$SOCK" "$@"; }
virsh_() { virsh -q -c "qemu+unix:///system?socket=$LV/run/libvirt-sock" "$@"; }
# stop_pid PID: SIGTERM, SIGKILL after 5 s
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
}

cleanup() {
	local d pid
	for vm in "${!READER[@]}"; do
		kill "${READER[$vm]}" 2>/dev/null
		wait "${READER[$vm]}" 2>/dev/null
	done
	if [ -n "$LIBVIRTD_PID" ] && kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
		for d in $(virsh_ list --all --name 2>/dev/null); do
			virsh_ destroy "$d" >/dev/null 2>&1
			virsh_ undefine "$d" >/dev/null 2>&1
		done
		stop_pid "$LIBVIRTD_PID"
		wait "$LIBVIRTD_PID" 2>/dev/null
	fi
	# QEMU processes libvirtd started (it leaves them running when it stops): ours have our RUN in their argv.
	for pid in $(pgrep -f -- "^$(command -v $QEMU) .*$RUN/"); do stop_pid "$pid"; done
	if [ -n "$XTAPD_PID" ] && kill -0 "$XTAPD_PID" 2>/dev/null; then
		ctl teardown >/dev/null 2>&1
		stop_pid "$XTAPD_PID"
		wait "$XTAPD_PID" 2>/dev/null
	fi
	kill_vhosts "$RUN"
	ns_exists "$NS" && ip netns del "$NS"
	mountpoint -q "$BPFFS" 2>/dev/null && umount "$BPFFS"
	for d in "${MADE_DIRS[@]}"; do rmdir "$d" 2>/dev/null; done
	if [ -d "$RUN" ]; then
		mkdir -p "$LOGS" && rm -rf "${LOGS:?}"/* &&
			cp "$RUN"/*.console "$RUN"/*.ctl.log "$RUN"/*.xml "$RUN"/xtapd.log "$RUN"/libvirtd.log "$LOGS"/ 2>/dev/null
		cp "$LV"/log/qemu/*.log "$LOGS"/ 2>/dev/null
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT
trap 'echo "libvirt tier: interrupted"; exit 130' INT TERM

reap_stale xtap-libvirt '^xtap-libvirt-[0-9]+$'

# libvirt-qemu must reach the guest's files, the FIFOs and the vhost-user sockets under RUN.
mkdir -p "$BPFFS" "$LV"/etc "$LV"/run "$LV"/log && chmod 755 "$RUN" || fail_tier "cannot create $RUN"
mount -t bpf bpf "$BPFFS" || fail_tier "cannot mount bpffs on $BPFFS"
ip netns add "$NS" || fail_tier "cannot create the network namespace $NS"
in_ns ip link set lo up
in_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

start_xtapd() {
	setsid ip netns exec "$NS" "$XTAPD" --pin-dir "$BPFFS/xtap" --socket "$SOCK" --state "$RUN/state.json" \
		</dev/null >>"$RUN/xtapd.log" 2>&1 &
	XTAPD_PID=$!
	for _ in $(seq 150); do
		ctl status >/dev/null 2>&1 && return 0
		kill -0 "$XTAPD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
start_xtapd || { cat "$RUN/xtapd.log"; fail_tier "xtapd did not start"; }
ctl segment add 1 >/dev/null || fail_tier "xtapctl segment add failed"
OWNER=(--owner "$QUID" --group "$QGID")
ctl port add vmU --segment 1 --mac $MAC_U --addr $IP_U/32 "${OWNER[@]}" >/dev/null &&
	ctl port add vmE --segment 1 --mac $MAC_E --addr $IP_E/32 >/dev/null &&
	ctl port add vmN --segment 1 --mac $MAC_N --addr $IP_N/32 "${OWNER[@]}" >/dev/null &&
	ctl port add vmP --segment 1 --mac $MAC_P --addr $IP_P/32 >/dev/null || fail_tier "xtapctl port add failed"
echo "xtapd in namespace $NS; segment 1: vmU, vmN (vhost-user, sockets owned by $QEMU_USER $QUID:$QGID), vmE (tap), vmP (vhost-user, socket root's)"

# libvirtd as the setup without systemd needs it (README "With libvirt").
cat >"$LV/etc/qemu.conf" <<EOF
user = "$QEMU_USER"
group = "$QEMU_USER"
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
EOF
cat >"$LV/etc/libvirtd.conf" <<EOF
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$RUN/libvirtd.log"
EOF
for d in $LV_DIRS; do
	[ -d "$d" ] && continue
	mkdir -p "$d" && MADE_DIRS+=("$d")
done
# /dev/kvm hidden (an empty file QEMU's user may not open): KVM does not work on these hosts, and with a
# /dev/kvm it may use libvirt probes it again for every domain defined or started (30 s each here, loaded).
# The domains are type 'qemu' (TCG). namespaces = [ ] in qemu.conf: QEMU stays in this mount namespace
# (libvirt's own /dev for QEMU copies device nodes and refuses the file).
: >"$LV/no-kvm" && chmod 000 "$LV/no-kvm"
T_LV=$EPOCHREALTIME
setsid ip netns exec "$NS" unshare -m --propagation private sh -c "
	mount --bind '$LV/etc' /etc/libvirt && mount --bind '$LV/run' /run/libvirt &&
	mount -t tmpfs tmpfs /var/lib/libvirt && mount --bind '$LV/log' /var/log/libvirt &&
	mount -t tmpfs tmpfs /var/cache/libvirt || exit 1
	[ ! -e /dev/kvm ] || mount --bind '$LV/no-kvm' /dev/kvm || exit 1
	exec libvirtd -p '$LV/run/libvirtd.pid' -f /etc/libvirt/libvirtd.conf" </dev/null >"$RUN/libvirtd.out" 2>&1 &
LIBVIRTD_PID=$!
for _ in $(seq 150); do
	virsh_ version >/dev/null 2>&1 && break
	kill -0 "$LIBVIRTD_PID" 2>/dev/null || { cat "$RUN/libvirtd.out"; fail_tier "libvirtd exited at start"; }
	sleep 0.1
done
virsh_ version >/dev/null 2>&1 || fail_tier "libvirtd did not answer within 15 s"
echo "libvirtd $(libvirtd --version | awk '{print $NF}') (pid $LIBVIRTD_PID) in $NS, its own mount namespace; QEMU runs as $QEMU_USER"
# libvirtd probes QEMU's capabilities as it starts: waited for here, so that the boot times below are the domains'.
virsh_ domcapabilities --virttype qemu --arch x86_64 --machine q35 >/dev/null || fail_tier "virsh domcapabilities failed"
echo "libvirtd answers with QEMU's capabilities $(elapsed "$T_LV") s after its start"

# --- domains ---------------------------------------------------------------------
# domain_xml NAME KIND MAC IP PORT: KIND vhostuser | ethernet | vhostuser-unshared (no <memoryBacking>)
domain_xml() {
	local name=$1 kind=$2 mac=$3 ip=$4 port=$5 mem='' nic override=''
	case $kind in
	vhostuser*)
		[ "$kind" = vhostuser-unshared ] ||
			mem="  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
		nic="    <interface type='vhostuser'>
      <mac address='$mac'/>
      <source type='unix' path='$RUN/vhost/$port.sock' mode='client'>
        <reconnect enabled='yes' timeout='1'/>
      </source>
      <model type='virtio'/>
      <alias name='ua-xtap0'/>
      <rom enabled='no'/>
    </interface>"
		# QEMU 7.2 under TCG crashes setting up MSI-X for a vhost backend: INTx. libvirt passes -device as
		# JSON, so `-set` cannot reach it; an override on the interface's alias can.
		override="  <qemu:override>
    <qemu:device alias='ua-xtap0'>
      <qemu:frontend><qemu:property name='vectors' type='unsigned' value='0'/></qemu:frontend>
    </qemu:device>
  </qemu:override>"
		;;
	ethernet)
		nic="    <interface type='ethernet'>
      <mac address='$mac'/>
      <target dev='$port' managed='no'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>"
		;;
	esac
	cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
$mem
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 panic=-1 oops=panic quiet xtap.name=$name xtap.ip=$ip/24</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v $QEMU)</emulator>
    <serial type='file'><source path='$RUN/$name.console'/><target port='0'/></serial>
    <serial type='pipe'><source path='$RUN/$name.ctl'/><target port='1'/></serial>
$nic
    <memballoon model='none'/>
  </devices>
$override
</domain>
EOF
}

# domain_start NAME KIND MAC IP PORT: defines and starts it (virsh start in the background: it
# may hang, scenario 6); the command channel as in tests/guest (FIFOs QEMU opens as libvirt-qemu).
domain_start() {
	local vm=$1 fd
	domain_xml "$@" | grep -v '^$' >"$RUN/$vm.xml"
	mkfifo "$RUN/$vm.ctl.in" "$RUN/$vm.ctl.out"
	chown "$QUID:$QGID" "$RUN/$vm.ctl.in" "$RUN/$vm.ctl.out"
	: >"$RUN/$vm.ctl.log"
	cat 0<>"$RUN/$vm.ctl.out" >>"$RUN/$vm.ctl.log" &
	READER[$vm]=$!
	exec {fd}<>"$RUN/$vm.ctl.in"
	CTLFD[$vm]=$fd
	T_DEFINE=$EPOCHREALTIME
	virsh_ define "$RUN/$vm.xml" >/dev/null || { DEAD[$vm]="virsh define failed"; return 1; }
	note "virsh define $vm: $(elapsed "$T_DEFINE") s"
	BOOT[$vm]=$EPOCHREALTIME
	timeout 120 virsh -q -c "qemu+unix:///system?socket=$LV/run/libvirt-sock" start "$vm" >"$RUN/$vm.start" 2>&1 &
	START_PID[$vm]=$!
}
declare -A START_PID=()
# domain_ready NAME TIMEOUT: virsh start returned 0 and the guest said HELLO; QPID[NAME] = its QEMU,
# BOOT[NAME] the seconds from virsh start to HELLO ("-" when it did not boot)
domain_ready() {
	domain_boot "$@" || { BOOT[$1]=-; return 1; }
}
domain_boot() {
	local vm=$1 deadline=$((SECONDS + $2)) rc
	wait "${START_PID[$vm]}"
	rc=$?
	note "virsh start $vm returned after $(elapsed "${BOOT[$vm]}") s"
	[ $rc = 0 ] || { DEAD[$vm]="virsh start exited $rc: $(tr '\n' ' ' <"$RUN/$vm.start")"; return 1; }
	QPID[$vm]=$(cat "$LV/run/qemu/$vm.pid" 2>/dev/null)
	[ -n "${QPID[$vm]}" ] || { DEAD[$vm]="no pid file of $vm"; return 1; }
	while ! grep -q '^HELLO ' "$RUN/$vm.ctl.log"; do
		kill -0 "${QPID[$vm]}" 2>/dev/null || { DEAD[$vm]="QEMU exited during boot"; return 1; }
		[ $SECONDS -lt $deadline ] || { DEAD[$vm]="no HELLO within $2 s"; return 1; }
		sleep 0.05
	done
	BOOT[$vm]=$(elapsed "${BOOT[$vm]}")
}
# domain_gone NAME: destroyed and undefined, its QEMU exited
domain_gone() {
	virsh_ destroy "$1" >/dev/null 2>&1
	virsh_ undefine "$1" >/dev/null 2>&1
	[ -z "${QPID[$1]:-}" ] || for _ in $(seq 50); do kill -0 "${QPID[$1]}" 2>/dev/null || break; sleep 0.1; done
	! virsh_ domstate "$1" >/dev/null 2>&1 && { [ -z "${QPID[$1]:-}" ] || ! kill -0 "${QPID[$1]}" 2>/dev/null; }
}

. "$GUEST/harness.sh"
vu() { ctl -j port show "$1" | jq -c ".status.vhost_user | $2"; }

# --- scenarios ---------------------------------------------------------------------
s0_boot() {
	local vm st
	scenario "0 boot: domain U (vhostuser, memfd shared memory) and E (ethernet, target dev vmE managed='no') under libvirtd"
	T_BOOT=$EPOCHREALTIME
	domain_start U vhostuser $MAC_U $IP_U vmU
	domain_start E ethernet $MAC_E $IP_E vmE
	domain_ready U 120
	domain_ready E 120
	T_BOOT=$(elapsed "$T_BOOT")
	for vm in U E; do
		if [ -n "${DEAD[$vm]:-}" ]; then
			verify "domain $vm boots (${DEAD[$vm]})" false
			tail -n 20 "$RUN/$vm.console" "$LV/log/qemu/$vm.log" 2>/dev/null | sed 's/^/   | /'
			continue
		fi
		verify "domain $vm: virsh start to the guest's command channel in ${BOOT[$vm]} s" true
		verify "domain $vm's QEMU runs as $QEMU_USER ($(ps -o user= -p "${QPID[$vm]}"))" eq "$(ps -o uid= -p "${QPID[$vm]}" | tr -d ' ')" "$QUID"
	done
	st=$(vu vmU '{frontend, rings_running, guest_memory, socket_mode, socket_uid}')
	verify "port vmU: libvirt's QEMU connected, 2 rings, memory shared: $st" \
		has "$st" "\"frontend\":\"connected\",\"rings_running\":2,\"guest_memory\":\"shared\",\"socket_mode\":\"0660\",\"socket_uid\":$QUID"
	st=$(ctl -j port show vmE | jq -c '.status | {state, carrier, data_plane}')
	verify "port vmE: libvirt opened the tap by name for QEMU: $st" has "$st" '"state":"up","carrier":true,"data_plane":"tap"'
	g U 30 'dd if=/dev/urandom of=/tmp/tx bs=1M count=8 2>/dev/null; echo md5=$(md5sum </tmp/tx | cut -d" " -f1)'
	MD5_U=$(field md5)
	g E 30 'dd if=/dev/urandom of=/tmp/tx bs=1M count=8 2>/dev/null; echo md5=$(md5sum </tmp/tx | cut -d" " -f1)'
	MD5_E=$(field md5)
	verify "8 MiB of random bytes in each guest" ne "$MD5_U$MD5_E" ""
	scenario_end
}

s1_ping() {
	local S0 S1
	scenario "1 ping U<->E"
	S0=$(snap)
	ping_both U $IP_U E $IP_E
	S1=$(snap)
	verify "xtapctl stats: vmU from-vm to_port +$(delta "$S0" "$S1" '.vmU."from-vm".verdicts.to_port.packets') (>= 6)" \
		ge "$(delta "$S0" "$S1" '.vmU."from-vm".verdicts.to_port.packets')" 6
	scenario_end
}

# tcp FROM TO TO_IP PORT MD5: 8 MiB from FROM's /tmp/tx to TO, md5 compared
tcp() {
	local from=$1 to=$2 ip=$3 port=$4 md5=$5 t
	g "$to" 10 "listen $port /tmp/rx$port"
	t=$EPOCHREALTIME
	g "$from" 90 "nc $ip $port </tmp/tx"
	verify "$from's nc sent 8 MiB to $to and exited 0 ($(elapsed "$t") s)" eq "$GRC" 0
	g "$to" 60 "received /tmp/rx$port 30"
	verify "$from -> $to: md5 equal ($md5)" eq "$(field md5)" "$md5"
	note "$from -> $to: $(field mbps) Mbit/s measured at $to"
}
s2_tcp() {
	scenario "2 TCP 8 MiB U->E and E->U (vhost-user <-> tap), md5 on both sides"
	tcp U E $IP_E 5000 "$MD5_U"
	tcp E U $IP_U 5001 "$MD5_E"
	scenario_end
}

# spoof VM IP PEER_IP PEER_MAC PORT: VM pings from an address not its port's
spoof() {
	local vm=$1 ip=$2 peer=$3 peer_mac=$4 port=$5 S0 S1 d
	S0=$(snap)
	g "$vm" 20 "ip addr del $ip/24 dev eth0; ip addr add 192.0.2.99/24 dev eth0; arp -i eth0 -s $peer $peer_mac; ping -q -c 3 -W 1 -w 5 $peer"
	verify "$vm's ping from 192.0.2.99 fails (0 replies)" has "$GOUT" "0 packets received"
	S1=$(snap)
	d=$(delta "$S0" "$S1" ".$port.\"from-vm\".drops.spoof_ipv4.packets")
	verify "xtapctl stats: $port from-vm drops spoof_ipv4 +$d (>= 3)" ge "$d" 3
	g "$vm" 20 "ip addr del 192.0.2.99/24 dev eth0; ip addr add $ip/24 dev eth0; arp -i eth0 -d $peer 2>/dev/null; ping -q -c 2 -w 8 $peer"
	verify "restored: $vm pings $peer" has "$GOUT" "2 packets received"
}
s3_spoof() {
	scenario "3 spoof: U and E each send from 192.0.2.99"
	spoof U $IP_U $IP_E $MAC_E vmU
	spoof E $IP_E $IP_U $MAC_U vmE
	scenario_end
}

s4_restart() {
	local pid st ids
	scenario "4 xtapd restarted under the running domains: U's frames pass while it is down"
	pid=$(vu vmU .pid)
	echo "   \$ kill -TERM <xtapd>"
	stop_pid "$XTAPD_PID"
	wait "$XTAPD_PID" 2>/dev/null
	verify "xtapd stopped" ne "$(kill -0 "$XTAPD_PID" 2>/dev/null && echo up)" up
	gsend U "ping -q -c 3 -w 10 $IP_E"
	ids=$SENT
	gwait U $ids 20
	verify "with xtapd down, U -> E: 3 of 3 echo replies" has "$GOUT" "3 packets received"
	start_xtapd
	verify "xtapd started again" ctl status
	st=$(vu vmU '{pid, frontend, rings_running}')
	verify "vmU: the same xtap-vhost ($pid), QEMU still connected, 2 rings: $st" \
		has "$st" "{\"pid\":$pid,\"frontend\":\"connected\",\"rings_running\":2}"
	g U 20 "ping -q -c 2 -w 10 $IP_E"
	verify "U -> E after the restart" has "$GOUT" "2 packets received"
	g E 20 "ping -q -c 2 -w 10 $IP_U"
	verify "E -> U after the restart" has "$GOUT" "2 packets received"
	scenario_end
}

s5_unshared() {
	local st
	scenario "5 a vhostuser domain N without <memoryBacking> shared memory: port show says so"
	domain_start N vhostuser-unshared $MAC_N $IP_N vmN
	domain_ready N 120
	verify "libvirt accepts and starts it (${DEAD[N]:-booted in ${BOOT[N]} s})" eq "${DEAD[N]:-}" ""
	for _ in $(seq 100); do [ "$(vu vmN .guest_memory)" = '"not shared"' ] && break; sleep 0.1; done
	st=$(vu vmN '{frontend, rings_running, guest_memory, no_shared_memory}')
	verify "port vmN: connected, no rings, guest memory not shared, counted: $st" \
		has "$st" '{"frontend":"connected","rings_running":0,"guest_memory":"not shared","no_shared_memory":1}'
	verify "port vmN: the hint names <memoryBacking> ($(vu vmN .hint | cut -c1-60)...)" \
		has "$(vu vmN .hint)" "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
	verify "one log line says so" eq "$(grep -c 'xtap-vhost\[vmN\].*sent no memory table' "$RUN/xtapd.log")" 1
	verify "QEMU's log: it fell back to its own virtio" grep -q "falling back on userspace virtio" "$LV/log/qemu/N.log"
	verify "domain N destroyed and undefined" domain_gone N
	scenario_end
}

s6_permission() {
	local rc
	scenario "6 a vhostuser domain P on a socket $QEMU_USER may not open (port added without --owner)"
	verify "port vmP hints at --owner before anything connects ($(vu vmP .hint | cut -c1-70)...)" \
		has "$(vu vmP .hint)" "--owner $QUID --group $QGID"
	domain_start P vhostuser $MAC_P $IP_P vmP
	sleep 5
	verify "virsh start P has not returned after 5 s (QEMU retries the refused socket)" kill -0 "${START_PID[P]}"
	verify "port vmP: no frontend ever connected: $(vu vmP '{frontend, connections}')" eq "$(vu vmP .connections)" 0
	virsh_ destroy P >/dev/null 2>&1
	wait "${START_PID[P]}"
	rc=$?
	verify "virsh destroy ends the hanging start; it failed with: $(grep -o 'Permission denied' "$RUN/P.start" | head -1)" \
		grep -q "Permission denied" "$RUN/P.start"
	verify "domain P undefined" domain_gone P
	scenario_end
}

s7_gone() {
	local vm left
	scenario "7 destroy and undefine U and E: nothing left behind"
	for vm in U E; do
		verify "domain $vm destroyed and undefined" domain_gone $vm
	done
	left=$(virsh_ list --all --name | tr -d '\n')
	verify "virsh list --all is empty (${left:-empty})" eq "$left" ""
	verify "no QEMU of this run is left" eq "$(pgrep -f -- "$RUN/" | grep -v "^$$\$" | xargs -r ps -o comm= -p | grep -c qemu)" 0
	verify "port vmU: frontend gone ($(vu vmU .frontend))" eq "$(vu vmU .frontend)" '"waiting"'
	verify "port vmE: no carrier ($(ctl -j port show vmE | jq -c .status.carrier))" \
		eq "$(ctl -j port show vmE | jq -r .status.carrier)" false
	stop_pid "$LIBVIRTD_PID"
	wait "$LIBVIRTD_PID" 2>/dev/null
	verify "libvirtd stopped" ne "$(kill -0 "$LIBVIRTD_PID" 2>/dev/null && echo up)" up
	LIBVIRTD_PID=
	scenario_end
}

MD5_U= MD5_E= T_BOOT=0
s0_boot
s1_ping
s2_tcp
s3_spoof
s4_restart
s5_unshared
s6_permission
s7_gone

echo
echo "== summary"
printf '   %s\n' "${SUMMARY[@]}"
echo "   boot (virsh start to the guest's command channel): U ${BOOT[U]} s, E ${BOOT[E]} s (started together: $T_BOOT s); N ${BOOT[N]:-?} s; tier $(elapsed "$T_START") s"
echo "   consoles, domain XML, libvirtd's, QEMU's and xtapd's logs: $LOGS"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
