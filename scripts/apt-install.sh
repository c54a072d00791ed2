#!/bin/sh
# Installs Debian packages for the commands `make test` needs, only those missing.
# Each argument is COMMAND=PACKAGE[,PACKAGE...]: the packages are installed when COMMAND is
# not found (a name on PATH, or a path to an executable), e.g.
#     sh scripts/apt-install.sh psql=postgresql-client /usr/bin/chromium=chromium,fonts-liberation
# Idempotent: does nothing, not even `apt-get update`, when every command is there. apt's lists
# are refreshed only when they do not know a package or name a version the mirror no longer has.
# Recommends are never installed (they would pull in daemons and desktop tools).
set -eu

packages=""
for wanted in "$@"; do
    command=${wanted%%=*}
    case $command in
    /*) [ -x "$command" ] && continue ;;
    *) command -v "$command" >/dev/null 2>&1 && continue ;;
    esac
    packages="$packages $(echo "${wanted#*=}" | tr , ' ')"
done
[ -z "$packages" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "apt-install.sh: installing$packages needs root (or sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# $packages is a list of words on purpose.
# shellcheck disable=SC2086
install() {
    $SUDO apt-get install -y -q --no-install-recommends $packages
}

for package in $packages; do
    if ! apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        $SUDO apt-get update -q
        break
    fi
done
if ! install; then
    $SUDO apt-get update -q
    install
fi
echo "apt-install.sh: installed$packages"
