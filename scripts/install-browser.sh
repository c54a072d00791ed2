#!/bin/sh
# Installs Debian's chromium for the dashboard's browser tests (tests/server/test_*browser.py).
# Playwright is pointed at /usr/bin/chromium and never downloads a browser of its own; of
# chromium's Recommends only the fonts matter, for a readable screenshot. Does nothing when
# chromium is there.
set -eu
exec sh "$(dirname "$0")/apt-install.sh" /usr/bin/chromium=chromium,fonts-liberation
