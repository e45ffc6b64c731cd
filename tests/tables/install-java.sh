#!/bin/sh
# Install a Java runtime for the Spark read-back test (tests/tables/test_spark.py), unless
# `java` is already on PATH. Called by `make test`; safe to run again. Needs root (or sudo)
# and the Debian archive; without them the Spark test is skipped.
set -eu

if command -v java >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-java.sh: not root and no sudo: install 'default-jre-headless';" \
             "the Spark test is skipped until then" >&2
        exit 0
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (up to 5 minutes) instead of failing on the dpkg lock.
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300 -q"
$APT update
$APT install -y default-jre-headless
java -version
