#!/usr/bin/env bash
# The second S3 implementation the store/probe/broker tests also run against (tests/conftest.py).
# ministack pins botocore==1.43.106 and aiobotocore needs a newer botocore, so it cannot live in the
# project's environment: it gets its own venv under .cache/ministack (idempotent, ~20 s the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/ministack
VERSION=1.5.33
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('ministack') != '$VERSION')" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "ministack==$VERSION"
