#!/bin/sh
# Install the Debian packages the test suite drives, unless they are already there:
#   chromium (+ fonts)     the report's and the fleet page's browser tests (tests/vmreports)
#   default-jre-headless   the JVM of the Spark read-back test (tests/vmanalyze/tables/test_spark.py)
# Called by `make test`; safe to run again. Needs root (or sudo) and the Debian archive;
# without them the tests that need a missing package are skipped, saying why.
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium fonts-liberation fonts-dejavu-core"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-system-packages.sh: not root and no sudo: install$missing;" \
             "the tests that need them are skipped until then" >&2
        exit 0
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (up to 5 minutes) instead of failing on the dpkg lock.
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300 -q"
$APT update
# shellcheck disable=SC2086 # one word per package
$APT install -y $missing
