#!/bin/sh
# Installs the command-line clients runbook steps call in the tests (tests/runbooks, tests/cli):
# psql (Debian's postgresql-client) and redis-cli (redis-tools). The steps run them for real
# against the local servers, as a responder's runbook would.
# Idempotent: does nothing when both are there; refreshes apt's lists only when an install fails.
set -eu

packages=""
command -v psql >/dev/null 2>&1 || packages="$packages postgresql-client"
command -v redis-cli >/dev/null 2>&1 || packages="$packages redis-tools"
[ -z "$packages" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-clients.sh: installing$packages needs root (or sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# $packages is a list of words on purpose.
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $packages; then
    # Lists on disk can be missing or name a version the mirror no longer has.
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends $packages
fi
echo "install-clients.sh: installed$packages"
