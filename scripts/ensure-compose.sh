#!/usr/bin/env bash
# Make sure a real Compose implementation is installed: tests/test_compose.py validates the
# compose files with its `config` command, which needs no Docker engine. Debian's docker-compose
# package (bookworm: the Python Compose 1.29.2, which checks every file against the Compose
# schema, the depends_on graph and the required variables).
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo -n"
else
  echo "error: docker-compose is missing; install Debian's 'docker-compose' package (apt-get install docker-compose)" >&2
  exit 1
fi
echo "installing docker-compose (Debian package) to validate the compose files..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
