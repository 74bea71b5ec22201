#!/usr/bin/env bash
# Installs what dpucert needs to build, run and test on Debian 12, skipping what is
# already there. Safe to run repeatedly.
set -euo pipefail

debian_packages=(
  pkg-config libpci-dev pciutils pci.ids      # libpci and lspci (inventory, emulated trees)
  libibverbs-dev librdmacm-dev rdma-core      # RDMA verbs and connection manager
  libxml2-utils                               # xmllint: JUnit schema validation in tests
  iproute2 nftables nmap iputils-ping procps  # emulated lab: namespaces, firewall, independent scanner, sysctl
  liburing-dev                                # io_uring: the block I/O engine
  libfuse3-dev fuse3                          # FUSE: the emulated NVMe namespace (fault injection below the file interface)
  iperf3 sockperf fio                         # scripts/bench: the traffic and block I/O engines' yardsticks
  qemu-system-x86                             # the VM testbed (guest image: scripts/vm-guest build)
)
python_packages=(junitparser xunitparser jsonschema rfc3339_validator)

missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

missing_python=()
for package in "${python_packages[@]}"; do
  python3 -c "import ${package}" 2>/dev/null || missing_python+=("$package")
done
if [ ${#missing_python[@]} -gt 0 ]; then
  echo "setup: installing Python packages: ${missing_python[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing_python[@]}"
fi
