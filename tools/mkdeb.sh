#!/bin/bash
# Builds the Debian package from a staged `make install` (PREFIX=/usr): dpkg-shlibdeps finds
# the shared libraries' packages, dpkg-deb builds it. usage: tools/mkdeb.sh STAGE VERSION OUT_DIR
set -euo pipefail
stage=$(cd "$1" && pwd) version=$2 out=$3
arch=$(dpkg --print-architecture)
here=$(cd "$(dirname "$0")" && pwd)
strip --strip-unneeded "$stage/usr/sbin/xtapd" "$stage/usr/sbin/xtapctl" "$stage/usr/sbin/xtap-vhost"
gzip -9nf "$stage"/usr/share/man/man*/*
install -D -m 644 "$here/../README.md" "$stage/usr/share/doc/xtap/README.md"
mkdir -p "$stage/DEBIAN"
install -m 755 "$here/deb/postinst" "$here/deb/prerm" "$here/deb/postrm" "$stage/DEBIAN/"
echo /etc/xtap/xtapd.json > "$stage/DEBIAN/conffiles"
# dpkg-shlibdeps wants a debian/control beside it; a scratch one names the package.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/debian"
printf 'Source: xtap\n\nPackage: xtap\nArchitecture: any\n' > "$scratch/debian/control"
depends=$(cd "$scratch" && dpkg-shlibdeps -O -e"$stage/usr/sbin/xtapd" -e"$stage/usr/sbin/xtapctl" 2>/dev/null |
	  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies (is dpkg-dev installed?)" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
	"$here/deb/control.in" > "$stage/DEBIAN/control"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/xtap_${version}_${arch}.deb" >/dev/null
echo "$out/xtap_${version}_${arch}.deb"
