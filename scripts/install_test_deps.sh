#!/usr/bin/env bash
# What the tests need besides the Python packages of the `test` extra (idempotent):
# - Debian's chromium, driven by Playwright in the browser tests (never `playwright install`: browsers
#   are not downloadable on these machines; Debian's package is);
# - ministack, the second S3 implementation, in its own venv (scripts/install_ministack.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
bash scripts/install_ministack.sh
