# Sourced by tests/guest/run.sh and tests/vhost/run-vm.sh: the guest kernel and an initramfs
# from build-initramfs.sh (its environment, e.g. XTAP_GUEST_FLAVOUR, passes through).
# guest_image WHAT: sets KERNEL INITRD KVER PKG CACHE_HIT; on "cannot" (exit 77) calls the
# caller's missing(), on failure its fail_tier(); WHAT names the image in those lines.
guest_image() {
	local what=$1 err rc log
	err=${TMPDIR:-/tmp}/xtap-image.$$
	IMG=$(bash "$(dirname "${BASH_SOURCE[0]}")/build-initramfs.sh" 2>"$err")
	rc=$?
	log=$(cat "$err")
	rm -f "$err"
	if [ $rc = 77 ]; then
		missing "$(printf '%s\n' "$log" | tail -n 1 | sed 's/^guest image: //')"
	fi
	[ -z "$log" ] || printf '%s\n' "$log"
	[ $rc = 0 ] || fail_tier "building the $what image failed"
	KERNEL='' INITRD='' KVER='' PKG='' CACHE_HIT=''
	eval "$IMG"
	[ -r "$KERNEL" ] && [ -r "$INITRD" ] || fail_tier "build-initramfs.sh printed no kernel/initramfs"
}
