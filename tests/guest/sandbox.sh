# Sourced by tests/guest/run.sh and tests/libvirt/run.sh: what their sandboxes (a network namespace
# NAME-PID, a run directory /run/NAME-PID with bpffs and xtapd's files) share.

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# kill_vhosts RUN: the xtap-vhost processes of xtapd's run directory RUN. They outlive xtapd by
# design: teardown stopped them unless xtapd was gone.
kill_vhosts() {
	local st pid
	for st in "$1"/vhost/*.json; do
		[ -e "$st" ] || continue
		pid=$(jq -r .pid "$st" 2>/dev/null)
		grep -qa xtap-vhost "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid"
	done
}

# reap_stale NAME NS_REGEX: namespaces matching NS_REGEX and run directories /run/NAME-PID left by
# runs killed without a chance to clean up (SIGKILL): their PID is gone.
reap_stale() {
	local n d
	for n in $(ip netns list | awk '{print $1}' | grep -E "$2"); do
		[ -d "/proc/${n##*-}" ] || ip netns del "$n"
	done
	for d in /run/"$1"-[0-9]*; do
		[ -d "$d" ] && [ ! -d "/proc/${d##*-}" ] || continue
		! mountpoint -q "$d/bpf" || umount "$d/bpf"
		rm -rf "$d"
	done
}
