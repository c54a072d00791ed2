#!/bin/sh
# Installs the command-line clients runbook steps call in the tests (tests/runbooks, tests/cli):
# psql (Debian's postgresql-client) and redis-cli (redis-tools). The steps run them for real
# against the local servers, as a responder's runbook would. Does nothing when both are there.
set -eu
exec sh "$(dirname "$0")/apt-install.sh" psql=postgresql-client redis-cli=redis-tools
