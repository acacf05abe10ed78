#!/bin/sh
# /init of the tier-4 test VM (busybox initramfs built by tests/guest/build-initramfs.sh
# with XTAP_GUEST_FLAVOUR=vhost; the host side is tests/vhost/run-vm.sh).
#
# Loads the modules (vhost-net, tc, veth, 9p, overlay), mounts the host's root
# (9p tag "hostroot", read-only) under a tmpfs overlay at /newroot, with fresh
# /proc, /sys, /dev, /run and a bpffs in it (/tmp stays the host's, written into the
# overlay: a build directory there must stay visible), and the host's run directory
# (9p tag "xtaprun", writable) at its host path. Then it runs, in that root, the
# scripts RUN/cmd/1, RUN/cmd/2, ... (RUN = the kernel argument xtap.run=) one
# after another, their output on the console, and prints the lines the host parses:
#   XTAP-VM-INIT uptime=S                 /init started
#   XTAP-VM-READY uptime=S                root and modules ready
#   XTAP-VM-SETUP-FAILED WHY              (then XTAP-VM-EXIT 1)
#   XTAP-VM-CMD N begin uptime=S
#   XTAP-VM-CMD N end rc=RC seconds=S
#   XTAP-VM-EXIT 0                        all commands ran (their rc are above)
# and powers off. A panic ends QEMU too (panic=-1 with -no-reboot): no EXIT line.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
up() { cut -d' ' -f1 /proc/uptime; }
echo "XTAP-VM-INIT uptime=$(up)"

finish() {
	echo "XTAP-VM-EXIT $1"
	sync
	poweroff -f
	sleep 10   # PID 1 must not return before the power goes
}
setup_failed() {
	echo "XTAP-VM-SETUP-FAILED $*"
	finish 1
}

RUN=
for w in $(cat /proc/cmdline); do
	case $w in
	xtap.run=*) RUN=${w#*=} ;;
	esac
done
[ -n "$RUN" ] || setup_failed "no xtap.run= on the kernel command line"

while read -r m; do
	insmod "/lib/modules/$m.ko" || setup_failed "insmod $m failed"
done </lib/modules/order

R=/newroot
mkdir -p /host /rw $R
# cache=loose: the host's files do not change under a test run; every exec and
# library load would otherwise be 9p round trips under TCG.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host ||
	setup_failed "mounting the host's root (9p tag hostroot) failed"
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/upper /rw/work ||
	setup_failed "tmpfs for the overlay"
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay $R ||
	setup_failed "overlay of the host's root failed"
mount -t proc proc $R/proc &&
	mount -t sysfs sysfs $R/sys &&
	mount -t devtmpfs devtmpfs $R/dev &&
	mkdir -p $R/dev/shm $R/dev/pts &&
	mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm &&
	mount -t devpts devpts $R/dev/pts &&
	mount -t tmpfs -o mode=0755 tmpfs $R/run &&
	mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf ||
	setup_failed "mounting /proc /sys /dev /run /sys/fs/bpf in the new root"
mkdir -p "$R$RUN" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 xtaprun "$R$RUN" ||
	setup_failed "mounting the host's run directory (9p tag xtaprun) at $RUN"
ip link set lo up
[ -c /dev/vhost-net ] || setup_failed "no /dev/vhost-net after loading vhost_net"
echo "XTAP-VM-READY uptime=$(up) kernel=$(uname -r) vhost-net=$([ -c /dev/vhost-net ] && echo yes || echo no)"

n=1
while [ -r "$R$RUN/cmd/$n" ]; do
	t0=$(up)
	echo "XTAP-VM-CMD $n begin uptime=$t0"
	# A clean environment: the script sets what it needs (cwd, PATH, XTAP_BUILD).
	chroot $R /usr/bin/env -i HOME=/root TERM=dumb /bin/bash "$RUN/cmd/$n" </dev/null 2>&1
	rc=$?
	echo "XTAP-VM-CMD $n end rc=$rc seconds=$(awk -v a="$t0" -v b="$(up)" 'BEGIN {printf "%.1f", b - a}')"
	n=$((n + 1))
done
finish 0
