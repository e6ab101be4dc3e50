#!/usr/bin/env bash
# Make sure Debian's chromium is installed (the Temporal UI test drives it headless).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo -n"
else
  echo "error: chromium is missing; install Debian's 'chromium' package (apt-get install chromium)" >&2
  exit 1
fi
echo "installing chromium (Debian package) for the UI test..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
