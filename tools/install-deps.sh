#!/bin/bash
# Installs the Debian packages xtap's build, tests and demo need. Idempotent, non-interactive.
set -euo pipefail
PKGS=(
  make gcc clang llvm pkg-config
  libbpf-dev libxdp-dev xdp-tools bpftool linux-libc-dev
  libjson-c-dev libmnl-dev libcmocka-dev
  libc6-dev libfuzzer-14-dev libclang-rt-14-dev
  iproute2 iputils-ping ethtool
  qemu-system-x86 busybox-static xz-utils jq
  iptables gnuplot-nox
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  python3 python3-prometheus-client libsystemd-dev scdoc dpkg-dev init-system-helpers
  nftables
  tshark python3-scapy
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
