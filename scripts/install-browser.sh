#!/bin/sh
# Installs Debian's chromium for the dashboard's browser test (tests/server/test_browser.py).
# Playwright is pointed at /usr/bin/chromium and never downloads a browser of its own.
# Idempotent: does nothing when chromium is already there, and refreshes apt's package lists
# only when they do not know chromium or are too old to fetch it.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser.sh: chromium is missing and installing it needs root (or sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Recommends would pull in udev, upower and printer tools; only the fonts matter for a
# readable screenshot.
install() {
    $SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
}

if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -q
fi
if ! install; then
    # Lists on disk can name a version the mirror no longer has.
    $SUDO apt-get update -q
    install
fi
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
