#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the real-browser dashboard test; print its path.
#
# Used by tests/dashboard/test_dashboard_browser.py (and CI, through `make test`) on a fresh machine:
# installs the `chromium` package with apt-get when the browser is missing. Playwright's own
# browser download is not used. Exits non-zero (and the test fails) when it cannot install.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    echo "$CHROMIUM"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM is missing and installing it needs root (or passwordless sudo)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and there is no apt-get to install it (Debian/Ubuntu only)" >&2
    exit 1
fi

echo "ensure_chromium: installing Debian's chromium package..." >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
echo "$CHROMIUM"
