#!/bin/sh
# /init of the tier-3 test guests (busybox initramfs; see build-initramfs.sh).
#
# Configures itself from the kernel command line:
#   xtap.name=A           a name for the log lines
#   xtap.ip=192.0.2.1/24  eth0's address
# then runs the commands the host sends on the second serial port (ttyS1):
#   host -> guest   ID SHELL-COMMAND            (one line)
#   guest -> host   ID| OUTPUT-LINE ...         then   ID DONE EXIT-STATUS
# Every command and its output is also printed on the console (ttyS0), which is
# the guest's log. The helpers below are shell functions the commands can call.
# The host ends the guest with the command `poweroff -f`.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=64m tmpfs /tmp

NAME=guest IP=
for w in $(cat /proc/cmdline); do
	case $w in
	xtap.name=*) NAME=${w#*=} ;;
	xtap.ip=*) IP=${w#*=} ;;
	esac
done
say() { echo "[$NAME] $*"; }
up() { cut -d' ' -f1 /proc/uptime; }

while read -r m; do
	insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done </lib/modules/order
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
ip link set lo up
ip addr add "$IP" dev eth0
ip link set eth0 up

# nc -e runs this with the connection on stdin: busybox nc without -e closes its
# sending half at once and the peer gives up after ~46 KB.
cat >/bin/sink <<'EOF'
#!/bin/sh
read t0 _ </proc/uptime
cat >"$1"
read t1 _ </proc/uptime
echo "$t0 $t1" >"$1.done"
EOF
# drain NAME: the same for streams, into /dev/null; `count NAME` reads how far it got.
cat >/bin/drain <<'EOF'
#!/bin/sh
echo $$ >"/tmp/$1.pid"
exec cat >/dev/null
EOF
chmod +x /bin/sink /bin/drain

# --- helpers for the host's commands ---------------------------------------------

# features: the virtio-net features the driver negotiated (bit 0 CSUM = the guest
# leaves checksums to the "NIC"; 1 GUEST_CSUM; 7 GUEST_TSO4; 11 HOST_TSO4 = the guest sends TSO frames).
features() {
	f=$(cat /sys/class/net/eth0/device/features)
	echo "csum=$(echo "$f" | cut -c1) guest_csum=$(echo "$f" | cut -c2) guest_tso4=$(echo "$f" | cut -c8) host_tso4=$(echo "$f" | cut -c12)"
}
# snmp PROTO FIELD: a counter of /proc/net/snmp (e.g. snmp Tcp InCsumErrors)
snmp() {
	awk -v p="$1:" -v f="$2" '$1 == p { if (!c) { for (i = 2; i <= NF; i++) if ($i == f) c = i } else print $c }' /proc/net/snmp
}
# listening PORT: the receiver just started in the background is PID $! and listens within 5 s
listening() {
	echo $! >"/tmp/listen.$1"
	i=0
	while ! netstat -ltn 2>/dev/null | grep -q ":$1 " && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	netstat -ltn | grep -q ":$1 " && echo "listening on $1"
}
# listen PORT FILE: a TCP receiver into FILE in the background (FILE.done: start and end uptime)
listen() {
	rm -f "$2" "$2.done"
	nc -l -p "$1" -e /bin/sink "$2" </dev/null >/dev/null 2>&1 &
	listening "$1"
}
# listen_drain PORT NAME: a TCP receiver that discards (see count, growth, drained)
listen_drain() {
	rm -f "/tmp/$2.pid" "/tmp/$2.last"
	nc -l -p "$1" -e /bin/drain "$2" </dev/null >/dev/null 2>&1 &
	listening "$1"
}
# alive PID: running (not gone, not a zombie)
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
# count NAME: bytes the drain NAME has read so far (what the application received)
count() {
	[ -r "/tmp/$1.pid" ] || { echo 0; return; }
	p=$(cat "/tmp/$1.pid")
	if alive "$p" && c=$(sed -n 's/^rchar: //p' "/proc/$p/io" 2>/dev/null) && [ -n "$c" ]; then
		echo "$c" >"/tmp/$1.last"
		echo "$c"
	else
		cat "/tmp/$1.last" 2>/dev/null || echo 0
	fi
}
# drained NAME [TIMEOUT]: waits until the drain NAME ended (its connection closed)
drained() {
	p=$(cat "/tmp/$1.pid" 2>/dev/null) || { echo "no receiver $1"; return 1; }
	i=0
	while alive "$p" && [ $i -lt $((${2:-20} * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	alive "$p" && { echo "receiver $1 still running"; return 1; }
	echo "receiver $1 ended after $(count "$1") bytes"
}
# unlisten PORT: stop a receiver that got no connection
unlisten() {
	[ -r "/tmp/listen.$1" ] && kill "$(cat "/tmp/listen.$1")" 2>/dev/null
	rm -f "/tmp/listen.$1"
	return 0
}
# received FILE [TIMEOUT]: waits for a receiver to finish; prints size, md5 and the rate it saw
received() {
	i=0
	while [ ! -e "$1.done" ] && [ $i -lt $((${2:-60} * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1.done" ] || { echo "no complete transfer into $1 (size $(stat -c %s "$1" 2>/dev/null || echo none))"; return 1; }
	read t0 t1 <"$1.done"
	size=$(stat -c %s "$1")
	# /proc/uptime counts in 10 ms: under 0.2 s there is no useful rate ("fast").
	echo "size=$size md5=$(md5sum <"$1" | cut -d' ' -f1) seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') mbps=$(awk -v s="$size" -v a="$t0" -v b="$t1" 'BEGIN {if (b - a >= 0.2) printf "%.1f", s * 8 / (b - a) / 1e6; else printf "fast"}')"
}
# growth NAME SECONDS: bytes the drain NAME received in SECONDS, and the rate (uptime-timed)
growth() {
	read a _ </proc/uptime
	s0=$(count "$1")
	sleep "$2"
	read b _ </proc/uptime
	s1=$(count "$1")
	echo "bytes=$((s1 - s0)) seconds=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b - a}') mbps=$(awk -v s=$((s1 - s0)) -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", s * 8 / (b - a) / 1e6}')"
}
# waitgrow NAME TIMEOUT: seconds until the drain NAME receives again
waitgrow() {
	s=$(count "$1")
	i=0
	while [ "$(count "$1")" = "$s" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(count "$1")" != "$s" ] && echo "resumed_after=$(awk -v i=$i 'BEGIN {print i / 10}')"
}
# size FILE
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# stream IP PORT: sends zeros to IP:PORT in the background until stopped with unstream
stream() {
	nc "$1" "$2" </dev/zero >/dev/null 2>&1 &
	echo $! >/tmp/stream.pid
}
unstream() {
	[ -r /tmp/stream.pid ] && kill "$(cat /tmp/stream.pid)" 2>/dev/null
	rm -f /tmp/stream.pid
	return 0
}

say "up at $(up) s: eth0 $(cat /sys/class/net/eth0/address) $IP, virtio features: $(features)"
echo "XTAP-READY $NAME uptime=$(up) $(features)"

# --- the command loop ----------------------------------------------------------
# Not in PID 1: background jobs of the commands end up as PID 1's children, and a
# SIGCHLD arriving while ash's `read` is inside a line makes it start over and
# lose the bytes it had read (seen: a command arrived as "s").
control_loop() {
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
	exec 3<>/dev/ttyS1
	echo "HELLO $NAME $(up)" >&3
	while read -r id cmd <&3; do
		say "\$ $cmd"
		(eval "$cmd") </dev/null >"/tmp/.out.$id" 2>&1 3>&-
		rc=$?
		sed "s/^/$id| /" "/tmp/.out.$id" >&3
		echo "$id DONE $rc" >&3
		sed "s/^/[$NAME]   /" "/tmp/.out.$id"
		[ $rc = 0 ] || say "  (exit $rc)"
	done
	say "control channel closed"
	poweroff -f
}
control_loop &
# PID 1 reaps the orphans (ash's waitpid(-1) after each sleep).
while :; do
	sleep 1
done
