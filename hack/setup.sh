#!/usr/bin/env bash
# Install what kinn needs on a fresh Debian 12 machine: Debian packages and a Python venv in .venv.
# Idempotent and quick when everything is already there. Sourced by hack/demo.sh and hack/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages kinn uses (kubectl itself comes with the machine at /usr/bin/kubectl): the kernel
# tools real nodes shell out to, the CNI reference plugins kinn's own must stay compatible with, and
# the programs the kubelet's image catalog runs (busybox, nginx: src/kinn/kubelet/images.py).
# iperf3 is for bench/podnetwork.py, wrk for bench/dataplane.py.
APT_PACKAGES=(sqlite3 iproute2 iptables nftables conntrack tcpdump ethtool containernetworking-plugins
              busybox-static nginx-light iperf3 wrk)
# dnsperf and dnsmasq-base (the program only, no service) are bench/dns.py's load generator and yardstick.
APT_PACKAGES+=(dnsperf dnsmasq-base)
# graphviz's dot lays out `kinn topology`'s pictures; the labs' steps (examples/*/lab.yaml) read
# JSON with jq and fetch pages from the nodes with curl, as the articles do.
APT_PACKAGES+=(graphviz jq curl)
# ping and brctl: the articles check a node's links with them (seed 003: `ping` between nodes,
# `brctl show` for the pods' bridge), and a node runs the host's programs.
APT_PACKAGES+=(iputils-ping bridge-utils)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "kinn setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes  # no "delaying package configuration" noise
  # Packages such as nginx-light start their service on install; kinn only wants the programs, and
  # must not open ports on the host. A policy-rc.d answering 101 ("action forbidden") stops that.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kinn setup: kubectl is not installed; the demo and the tests drive kinn with the real kubectl" >&2
  exit 1
fi

# The venv is rebuilt when pyproject.toml changes.
stamp="$ROOT/.venv/.kinn-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "kinn setup: creating the Python environment in .venv"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT[test]"
  echo "$want" > "$stamp"
fi
