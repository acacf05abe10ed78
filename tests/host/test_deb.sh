#!/bin/bash
# make test-deb: the Debian package installed, started, upgraded under traffic and purged, all
# inside a private mount and network namespace: /usr, /etc and /var are overlays on a tmpfs, so
# the host's files and dpkg database never change, and the namespace vanishes with the test.
# There is no systemd in it: the test does what the unit and postinst ask of systemd (start
# ExecStart; on upgrade, restart with KillMode=process: SIGTERM to xtapd alone, then ExecStart).
# usage: tests/host/test_deb.sh OLD.deb NEW.deb   (XTAP_BUILD: the build dir, for xtap-vmsim)
set -uo pipefail

if [ "${1:-}" != --inside ]; then
	[ $# -eq 2 ] || { echo "usage: $0 OLD.deb NEW.deb" >&2; exit 2; }
	why=
	[ "$(id -u)" -eq 0 ] || why="needs root"
	command -v unshare >/dev/null || why="unshare (util-linux) is missing"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || why="the kernel has no overlayfs"
	if [ -n "$why" ]; then
		echo "test-deb: skipped: $why"
		[ "${CI:-}" = true ] && exit 1
		exit 77
	fi
	old=$(realpath "$1") new=$(realpath "$2")
	exec unshare --mount --net --propagation private "$0" --inside "$old" "$new"
fi
old=$2 new=$3
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
build=$(realpath "${XTAP_BUILD:-build}")
vmsim=$build/xtap-vmsim
passed=0 failed=0
agent=0 pids=()
T=/run/deb-test
N_FRAMES=8000 PPS=1000

check() {
	local name=$1
	shift
	if "$@"; then
		echo "-- ok $name"
		passed=$((passed + 1))
	else
		echo "-- FAIL $name"
		failed=$((failed + 1))
	fi
}

# Everything this test started, by pid: the agent, the VMs, the ports' xtap-vhost processes.
cleanup() {
	local f pid
	for f in /run/xtap/vhost/*.json; do
		[ -e "$f" ] && pid=$(jq -r .pid "$f" 2>/dev/null) && [ "$pid" -gt 1 ] 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	for pid in "$agent" "${pids[@]}"; do
		[ "$pid" -gt 0 ] && kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
}
trap cleanup EXIT

# Polls a command for up to $1 seconds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

# The agent as the unit starts it.
start_agent() {
	local exec_start
	exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/xtapd.service)
	$exec_start 2>>$T/xtapd.log &
	agent=$!
	wait_for 30 xtapctl status >/dev/null 2>&1
}

# A private view of the machine: its own /run, sysfs and bpffs; overlays over /usr, /etc, /var.
mount -t tmpfs tmpfs /run && mount -t sysfs sysfs /sys && mount -t bpf bpf /sys/fs/bpf &&
	ip link set lo up && mkdir -p $T || { echo "test-deb: cannot set up the namespace"; exit 1; }
for d in usr etc var; do
	mkdir -p $T/$d.up $T/$d.work
	mount -t overlay overlay -o lowerdir=/$d,upperdir=$T/$d.up,workdir=$T/$d.work /$d ||
		{ echo "test-deb: overlay over /$d failed"; exit 1; }
done
old_version=$(dpkg-deb -f "$old" Version) new_version=$(dpkg-deb -f "$new" Version)
version() { [ "$(dpkg-query -W -f='${Version}' xtap 2>/dev/null)" = "$1" ]; }

# ---- install and start ----
dpkg -i "$old" >$T/dpkg.log 2>&1
check "dpkg -i installs $old_version" version "$old_version"
check "the unit is enabled (deb-systemd-helper)" test -L /etc/systemd/system/multi-user.target.wants/xtapd.service
check "the man pages are installed" test -f /usr/share/man/man8/xtapd.8.gz -a -f /usr/share/man/man5/xtapd.json.5.gz
check "xtapd starts from the unit's ExecStart" start_agent
xtapctl port add vm1 --segment 1 --mac 02:00:00:00:04:01 --addr 192.0.2.41/32 >/dev/null &&
	xtapctl port add vm2 --segment 1 --mac 02:00:00:00:04:02 --addr 192.0.2.42/32 >/dev/null
check "two ports on the bootstrap segment" test $? -eq 0
vhost_running() { [ "$(xtapctl -j port show "$1" | jq -r .status.vhost_user.state)" = running ]; }
check "their xtap-vhost processes run" wait_for 10 eval 'vhost_running vm1 && vhost_running vm2'
vhost_pids() { jq -r .pid /run/xtap/vhost/vm1.json /run/xtap/vhost/vm2.json | tr '\n' ' '; }
map_id() { bpftool -j map show pinned /sys/fs/bpf/xtap/xtap_ports | jq .id; }
vhost_before=$(vhost_pids) map_before=$(map_id)

# ---- upgrade under traffic: vm1 sends N_FRAMES at PPS to vm2 ----
$vmsim recv --tap vm2 --duration $((N_FRAMES / PPS + 6)) --expect-src-mac 02:00:00:00:04:01 --json >$T/recv.json &
pids+=($!)
rpid=$!
wait_for 10 eval "ls -l /proc/$rpid/fd 2>/dev/null | grep -q /dev/net/tun"
$vmsim send --tap vm1 --src-mac 02:00:00:00:04:01 --dst-mac 02:00:00:00:04:02 --src-ip 192.0.2.41 \
	--dst-ip 192.0.2.42 --count $N_FRAMES --pps $PPS --size 200 --json >$T/send.json &
pids+=($!)
spid=$!
sent_so_far() { xtapctl -j stats vm1 | jq '."vm1"."from-vm".verdicts.to_port.packets'; }
wait_for 10 eval '[ "$(sent_so_far)" -ge $((PPS * 2)) ]'
dpkg -i "$new" >>$T/dpkg.log 2>&1
check "dpkg -i upgrades to $new_version under traffic" version "$new_version"
t0=$(date +%s.%N)
kill -TERM $agent && wait $agent
check "xtapd restarts from the new package" start_agent
t1=$(date +%s.%N)
during=$(sent_so_far)
wait $spid
wait $rpid
sent=$(jq .frames $T/send.json 2>/dev/null || echo 0)
received=$(jq .frames $T/recv.json 2>/dev/null || echo -1)
echo "upgrade $old_version -> $new_version: xtapd down $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s (SIGTERM to the new socket answering);" \
	"frames sent $sent at $PPS/s, received $received, lost $((sent - received)) (the restart came after $during)"
check "all $N_FRAMES frames were sent" test "$sent" -eq $N_FRAMES
check "no frame lost across the upgrade" test "$received" -eq "$sent"
check "the xtap-vhost processes stayed" test "$(vhost_pids)" = "$vhost_before"
check "the pinned maps stayed" test "$(map_id)" = "$map_before"
check "the ports are up under the new xtapd" eval \
	'[ "$(xtapctl -j port list | jq -r "[.[].status.state] | join(\" \")")" = "up up" ]'

# ---- teardown and purge: nothing of the package is left ----
xtapctl teardown >/dev/null && wait $agent
check "teardown stops xtapd and removes the datapath" test ! -e /sys/fs/bpf/xtap
agent=0
dpkg --purge xtap >>$T/dpkg.log 2>&1
check "dpkg --purge removes the package" eval '! dpkg-query -W xtap >/dev/null 2>&1'
check "and its files, the unit's links and the state" eval \
	'[ ! -e /usr/sbin/xtapd ] && [ ! -e /etc/xtap ] && [ ! -e /var/lib/xtap ] &&
	 [ ! -e /etc/systemd/system/multi-user.target.wants/xtapd.service ]'
if [ $failed -gt 0 ]; then
	echo "--- dpkg's output:"; cat $T/dpkg.log
	echo "--- xtapd's log:"; cat $T/xtapd.log
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
