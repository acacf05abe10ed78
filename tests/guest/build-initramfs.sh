#!/bin/bash
# Tiers 3 and 4 (guests, vhost VM): makes sure the cache holds a guest kernel and a
# busybox initramfs.
#
#   bash tests/guest/build-initramfs.sh
#   XTAP_GUEST_FLAVOUR=vhost XTAP_GUEST_INIT=tests/vhost/vm-init.sh \
#     XTAP_GUEST_MODULES="vhost_net overlay ..." bash tests/guest/build-initramfs.sh
#
# The kernel is the Debian package `apt-cache depends linux-image-amd64` points at,
# in its -unsigned flavour (same kernel and modules, not the cloud flavour),
# fetched with `apt-get download` and unpacked with `dpkg -x`: never installed.
# Its bzImage payload is decompressed to a plain ELF vmlinux (QEMU boots that
# through PVH, seconds faster under TCG). The initramfs is uncompressed newc:
# the host's static busybox, the modules in dependency order, and an /init.
#
# Environment (a flavour is an initramfs of its own next to tier 3's, same kernel):
#   XTAP_GUEST_FLAVOUR   cache subdirectory of the initramfs (default: none, tier 3's)
#   XTAP_GUEST_INIT      the /init script (default tests/guest/guest-init.sh)
#   XTAP_GUEST_MODULES   modules wanted, dependencies added (default "virtio_pci virtio_net")
#
# Cache: ${XTAP_GUEST_CACHE:-/var/cache/xtap-guest}/
#   PKG.deb                 the downloaded package (kept: a rebuild needs no network)
#   PKG/vmlinux             ELF kernel
#   PKG[/FLAVOUR]/initramfs.cpio  initramfs
#   PKG[/FLAVOUR]/stamp     what it was built from (package, scripts, busybox, modules);
#                           a different stamp rebuilds kernel and initramfs from PKG.deb
# Nothing is downloaded or rebuilt when the stamp matches.
#
# stdout: KERNEL=… INITRD=… KVER=… PKG=… CACHE_HIT=0|1 (for `eval`), nothing else.
# Exit 0 ready; 77 this machine cannot (one line on stderr says why); 1 a real error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${XTAP_GUEST_CACHE:-/var/cache/xtap-guest}
BUSYBOX=${XTAP_BUSYBOX:-/bin/busybox}
FLAVOUR=${XTAP_GUEST_FLAVOUR:-}
INIT=${XTAP_GUEST_INIT:-$HERE/guest-init.sh}
# The modules and everything they depend on (resolved from each module's depends=).
read -r -a WANT_MODULES <<<"${XTAP_GUEST_MODULES:-virtio_pci virtio_net}"

skip() { echo "guest image: $*" >&2; exit 77; }
die() { echo "guest image: $*" >&2; exit 1; }
log() { echo "guest image: $*" >&2; }

[ "$(id -u)" = 0 ] || skip "needs root (apt-get download into $CACHE)"
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (Debian package busybox-static)"
# A dynamically linked busybox would need its libraries in the initramfs.
if LC_ALL=C grep -q '/lib64/ld-linux' "$BUSYBOX"; then
	skip "$BUSYBOX is dynamically linked (install busybox-static)"
fi
[ -r "$INIT" ] || die "no init script $INIT"
case $FLAVOUR in */* | .*) die "XTAP_GUEST_FLAVOUR=$FLAVOUR: a plain name please" ;; esac
command -v dpkg >/dev/null || skip "no dpkg (a Debian host is needed for the guest kernel)"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # concurrent runs build once

# The package: linux-image-amd64 -> linux-image-X-amd64 -> linux-image-X-amd64-unsigned.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'
}
PKG=
if command -v apt-cache >/dev/null; then
	PKG=$(kernel_pkg)
	if [ -z "$PKG" ]; then
		# Empty package lists (fresh container): one update, then ask again.
		log "apt-cache knows no linux-image-amd64; running apt-get update"
		apt-get update -q >/dev/null 2>&1 || true
		PKG=$(kernel_pkg)
	fi
fi
if [ -n "$PKG" ]; then
	case $PKG in *-unsigned) ;; *) PKG=$PKG-unsigned ;; esac
else
	# No apt answer: any kernel cached earlier will do.
	PKG=$(find "$CACHE" -mindepth 2 -maxdepth 2 -name vmlinux -printf '%h\n' 2>/dev/null |
		xargs -r -n1 basename | sort -V | tail -n 1)
	[ -n "$PKG" ] || skip "cannot tell which Debian kernel to use (apt-cache depends linux-image-amd64 gave nothing) and none is cached in $CACHE"
	log "apt gave no kernel package name; using the cached $PKG"
fi

DIR=$CACHE/$PKG
IMG=$DIR${FLAVOUR:+/$FLAVOUR}
STAMP=$( {
	echo "$PKG ${WANT_MODULES[*]}"
	sha256sum "$HERE/build-initramfs.sh" "$INIT" "$BUSYBOX" | awk '{print $1}'
} | sha256sum | awk '{print $1}')

if [ -r "$IMG/stamp" ] && [ "$(cat "$IMG/stamp")" = "$STAMP" ] &&
	[ -s "$DIR/vmlinux" ] && [ -s "$DIR/kver" ] && [ -s "$IMG/initramfs.cpio" ]; then
	echo "KERNEL=$DIR/vmlinux INITRD=$IMG/initramfs.cpio KVER=$(cat "$DIR/kver") PKG=$PKG CACHE_HIT=1"
	exit 0
fi

# --- the package -------------------------------------------------------------
DEB=$CACHE/$PKG.deb
if [ ! -s "$DEB" ]; then
	command -v apt-get >/dev/null || skip "no apt-get to download $PKG"
	log "downloading $PKG (about 70 MB)"
	t0=$EPOCHREALTIME
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	# As root into a root-owned directory: without this apt warns that _apt cannot write there.
	if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$PKG") >"$tmp/log" 2>&1; then
		# "E: Failed to fetch URL  REASON": the reason is what matters.
		why=$(sed -n 's/^E: //p' "$tmp/log" | head -n 1 | sed 's/^Failed to fetch [^ ]*  */fetch failed: /')
		rm -rf "$tmp"
		skip "apt-get download $PKG failed: ${why:-see apt-get}"
	fi
	mv "$tmp"/*.deb "$DEB"
	rm -rf "$tmp"
	log "downloaded $(($(stat -c %s "$DEB") / 1048576)) MiB in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
	# Older kernels' files are of no further use.
	find "$CACHE" -mindepth 1 -maxdepth 1 \( -name 'linux-image-*' ! -name "$PKG" ! -name "$PKG.deb" \) \
		-exec rm -rf {} +
fi

# --- kernel and modules --------------------------------------------------------
log "building the guest kernel and initramfs${FLAVOUR:+ ($FLAVOUR)} from $(basename "$DEB")"
T_BUILD=$EPOCHREALTIME
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dpkg -x "$DEB" "$WORK/pkg" || die "dpkg -x $DEB failed"
VMLINUZ=$(ls "$WORK"/pkg/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$VMLINUZ" ] || die "$DEB has no /boot/vmlinuz-*"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$WORK/pkg/lib/modules/$KVER
[ -d "$MODDIR" ] || die "$DEB has no /lib/modules/$KVER"

# The bzImage carries the ELF vmlinux compressed; find the payload by its magic
# and decompress (trailing bytes after the stream make the tools complain: the
# result is checked instead of their exit status).
extract_vmlinux() {
	local magic tool off
	for pair in '\xfd7zXZ\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dc' \
		'\x02\x21\x4c\x18:lz4 -dc' '\x5d\x00\x00\x00:xz -dc --format=lzma'; do
		magic=${pair%%:*} tool=${pair#*:}
		command -v "${tool%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$VMLINUZ" | cut -d: -f1); do
			tail -c +$((off + 1)) "$VMLINUZ" | $tool >"$1" 2>/dev/null || true
			if [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				return 0
			fi
		done
	done
	return 1
}
if extract_vmlinux "$WORK/vmlinux"; then
	KERNEL_FILE=vmlinux
else
	# QEMU boots the bzImage too, only slower.
	log "could not decompress $(basename "$VMLINUZ") to an ELF vmlinux; using the bzImage"
	cp "$VMLINUZ" "$WORK/vmlinux"
fi

# module NAME -> its file (name or name with dashes; .ko, .ko.xz, .ko.zst, .ko.gz)
module_file() {
	find "$MODDIR/kernel" \( -name "$1.ko*" -o -name "${1//_/-}.ko*" \) -print -quit
}
module_depends() {
	"$BUSYBOX" strings "$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}
declare -A SEEN=()
ORDER=()
# Depth first: a module after everything it depends on (the .deb has no modules.dep).
visit() {
	local m=$1 f
	[ -z "${SEEN[$m]:-}" ] || return 0
	SEEN[$m]=1
	f=$(module_file "$m")
	[ -n "$f" ] || die "module $m not found in $DEB"
	local plain=$WORK/mods/$m.ko
	mkdir -p "$WORK/mods"
	case $f in
	*.ko.xz) xz -dc "$f" >"$plain" ;;
	*.ko.zst) zstd -dcq "$f" >"$plain" ;;
	*.ko.gz) gzip -dc "$f" >"$plain" ;;
	*) cp "$f" "$plain" ;;
	esac
	local d
	for d in $(module_depends "$plain"); do
		visit "$d"
	done
	ORDER+=("$m")
}
for m in "${WANT_MODULES[@]}"; do
	visit "$m"
done

# --- initramfs -----------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,root,lib/modules,etc}
cp "$BUSYBOX" "$R/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$R/bin/$applet"
done
for m in "${ORDER[@]}"; do
	cp "$WORK/mods/$m.ko" "$R/lib/modules/"
done
printf '%s\n' "${ORDER[@]}" >"$R/lib/modules/order"
install -m 0755 "$INIT" "$R/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$WORK/initramfs.cpio"
[ -s "$WORK/initramfs.cpio" ] || die "busybox cpio produced nothing"

mkdir -p "$IMG"
# Renames: a guest booting from the old files meanwhile keeps reading those.
mv "$WORK/vmlinux" "$DIR/vmlinux"
echo "$KVER" >"$DIR/kver"
mv "$WORK/initramfs.cpio" "$IMG/initramfs.cpio"
printf '%s\n' "${ORDER[@]}" >"$IMG/modules"
echo "$STAMP" >"$IMG/stamp"
log "kernel $KVER ($KERNEL_FILE, $(($(stat -c %s "$DIR/vmlinux") / 1048576)) MiB), initramfs${FLAVOUR:+ ($FLAVOUR)} $(($(stat -c %s "$IMG/initramfs.cpio") / 1024)) KiB, modules: ${ORDER[*]}; built in $(awk -v a="$T_BUILD" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
echo "KERNEL=$DIR/vmlinux INITRD=$IMG/initramfs.cpio KVER=$KVER PKG=$PKG CACHE_HIT=0"
