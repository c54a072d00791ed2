#!/usr/bin/env bash
# Install the "peer" monitoring stacks the benchmarks compare Vigil against:
# Debian's prometheus + prometheus-blackbox-exporter (bench/peer.py, bench/detect.py),
# plus prometheus-alertmanager and monit (bench/detect.py's paging peers), and wrk
# (bench/dashboard_load.py's load generator).
#
# Idempotent: does nothing (not even `apt-get update`) when all are present.
# The benchmark harnesses run their own instances on free 127.0.0.1 ports with
# private config and data dirs, so any daemon the Debian packages start on
# their default ports (9090, 9115, 9100, 9093/9094, monit's 2812) is stopped
# here: left running it would burn CPU during measurements and hold those ports.
set -euo pipefail

PACKAGES=(prometheus prometheus-blackbox-exporter prometheus-alertmanager monit wrk)
# Daemons the packages (and prometheus' Recommends: node-exporter) may start
# as the `prometheus` user. monit runs as root and is handled separately below.
DAEMONS=(prometheus prometheus-blackbox-exporter prometheus-node-exporter prometheus-alertmanager)
BINARIES=(prometheus prometheus-blackbox-exporter prometheus-alertmanager monit curl wrk)

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
# bench/detect.py's monit peer pages through an exec'd curl; it is usually
# there already, so only add it to the install set when absent.
if ! command -v curl >/dev/null; then
  missing+=(curl)
fi

if ((${#missing[@]} == 0)); then
  echo "install-peers: ${PACKAGES[*]} already installed"
else
  echo "install-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (unattended-upgrades, a parallel setup script) may hold
  # the dpkg lock for a while: wait for it instead of failing at once.
  APT_LOCK=(-o DPkg::Lock::Timeout=300)
  "${SUDO[@]}" apt-get "${APT_LOCK[@]}" update -qq
  # --no-install-recommends: we need only the binaries, not node-exporter,
  # the web console assets or an MTA; -o Dpkg::Options keep any locally edited config.
  "${SUDO[@]}" apt-get "${APT_LOCK[@]}" install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
fi

# stop_pids LISTER NAME: stop the daemon via its init script, then TERM and, after 5 s,
# KILL whatever LISTER still reports.
stop_pids() {
  local lister=$1 name=$2 pids
  pids=$("${lister}" "${name}")
  [[ -n ${pids} ]] || return 0
  # Prefer the init script so its pidfile stays consistent (on systemd hosts
  # it redirects to systemctl); then make sure.
  if [[ -x /etc/init.d/${name} ]]; then
    "${SUDO[@]}" /etc/init.d/"${name}" stop >/dev/null 2>&1 || true
  fi
  for pid in $("${lister}" "${name}"); do
    "${SUDO[@]}" kill -TERM "${pid}" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    [[ -n $("${lister}" "${name}") ]] || break
    sleep 0.1
  done
  for pid in $("${lister}" "${name}"); do
    "${SUDO[@]}" kill -KILL "${pid}" 2>/dev/null || true
  done
  echo "install-peers: stopped package-started ${name} (pids ${pids//$'\n'/ })"
}

# No systemd here, so the packages' sysvinit scripts may have started daemons
# (unless a policy-rc.d forbade it, as in Docker images). Those daemons run as
# the package's `prometheus` user, while our harnesses run their own instances
# as the invoking user; matching on that user plus the exact binary (pgrep -x is
# useless: comm is cut to 15 chars, "prometheus-blac") never hits ours.
prometheus_daemon_pids() {
  pgrep -u prometheus -f "^(/usr/bin/)?$1( |\$)" 2>/dev/null || true
}
if id prometheus >/dev/null 2>&1; then
  for name in "${DAEMONS[@]}"; do
    stop_pids prometheus_daemon_pids "${name}"
  done
fi

# The packaged monit runs as root like a root-run harness would, so the user
# cannot tell them apart. The control file can: the init script's monit reads
# the system one (/etc/monit/monitrc, also monit's default without -c), while
# bench/detect.py always passes `-c` with a file in its temp dir.
monit_daemon_pids() {
  local pid control
  for pid in $(pgrep -x "$1" 2>/dev/null || true); do
    # The argument after -c, if any ("" when monit falls back to its default).
    control=$(tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null | sed -n '/^-c$/{n;p;q}')
    if [[ -z ${control} || ${control} == /etc/monit/monitrc ]]; then
      echo "${pid}"
    fi
  done
}
stop_pids monit_daemon_pids monit

for bin in "${BINARIES[@]}"; do
  command -v "${bin}" >/dev/null || { echo "install-peers: ${bin} not on PATH" >&2; exit 1; }
done
echo "install-peers: $(prometheus --version 2>&1 | head -n1)"
echo "install-peers: $(prometheus-blackbox-exporter --version 2>&1 | head -n1)"
echo "install-peers: $(prometheus-alertmanager --version 2>&1 | head -n1)"
echo "install-peers: $(monit -V 2>&1 | head -n1)"
