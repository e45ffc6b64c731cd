#!/bin/sh
# Install Debian's Chromium for the report's browser tests (tests/report/test_browser.py),
# unless it is already there. Called by `make test`; safe to run again. Needs root (or sudo)
# and the Debian archive: Playwright's own browser download is not used.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-chromium.sh: not root and no sudo: install the 'chromium' package;" \
             "the browser tests are skipped until then" >&2
        exit 0
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (up to 5 minutes) instead of failing on the dpkg lock.
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300 -q"
$APT update
$APT install -y chromium fonts-liberation fonts-dejavu-core
/usr/bin/chromium --version
