#!/usr/bin/env bash
# Install the "peer" monitoring stack the probe benchmark compares Vigil against:
# Debian's prometheus + prometheus-blackbox-exporter.
#
# Idempotent: does nothing (not even `apt-get update`) when both are present.
# The benchmark harness (bench/peer.py) runs its own instances on free
# 127.0.0.1 ports with private config and data dirs, so any daemon the Debian
# packages start on their default ports (9090, 9115, 9100) is stopped here:
# left running it would burn CPU during measurements and hold those ports.
set -euo pipefail

PACKAGES=(prometheus prometheus-blackbox-exporter)
# Daemons the packages (and prometheus' Recommends: node-exporter) may start.
DAEMONS=(prometheus prometheus-blackbox-exporter prometheus-node-exporter)

if [[ ${EUID} -ne 0 ]]; then
  SUDO=(sudo)
else
  SUDO=()
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  status=$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)
  if [[ ${status} != "install ok installed" ]]; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-peers: ${PACKAGES[*]} already installed"
else
  echo "install-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  # --no-install-recommends: we need only the two binaries, not node-exporter
  # or the web console assets; -o Dpkg::Options keep any locally edited config.
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
fi

# No systemd here, so the packages' sysvinit scripts may have started daemons
# (unless a policy-rc.d forbade it, as in Docker images). Those daemons run as
# the package's `prometheus` user, while our harness runs its own instances as
# the invoking user; matching on that user plus the exact binary (pgrep -x is
# useless: comm is cut to 15 chars, "prometheus-blac") never hits ours.
daemon_pids() {
  pgrep -u prometheus -f "^(/usr/bin/)?$1( |\$)" 2>/dev/null || true
}
if id prometheus >/dev/null 2>&1; then
  for name in "${DAEMONS[@]}"; do
    pids=$(daemon_pids "${name}")
    [[ -n ${pids} ]] || continue
    # Prefer the init script so its pidfile stays consistent; then make sure.
    if [[ -x /etc/init.d/${name} ]]; then
      "${SUDO[@]}" /etc/init.d/"${name}" stop >/dev/null 2>&1 || true
    fi
    for pid in $(daemon_pids "${name}"); do
      "${SUDO[@]}" kill -TERM "${pid}" 2>/dev/null || true
    done
    for _ in $(seq 50); do
      [[ -n $(daemon_pids "${name}") ]] || break
      sleep 0.1
    done
    for pid in $(daemon_pids "${name}"); do
      "${SUDO[@]}" kill -KILL "${pid}" 2>/dev/null || true
    done
    echo "install-peers: stopped package-started ${name} (pids ${pids//$'\n'/ })"
  done
fi

for bin in prometheus prometheus-blackbox-exporter; do
  command -v "${bin}" >/dev/null || { echo "install-peers: ${bin} not on PATH" >&2; exit 1; }
done
echo "install-peers: $(prometheus --version 2>&1 | head -n1)"
echo "install-peers: $(prometheus-blackbox-exporter --version 2>&1 | head -n1)"
