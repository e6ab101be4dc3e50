#!/usr/bin/env bash
# Make sure a command from a Debian package is installed, installing the package when it is not.
# usage: scripts/ensure-debian-package.sh COMMAND PACKAGE WHY
#   chromium:       the UI tests drive it headless;
#   docker-compose: a real Compose implementation (bookworm: Compose 1.29.2) whose `config`
#                   validates the compose files (schema, depends_on graph, required variables)
#                   with no Docker engine.
set -euo pipefail
command_name=$1 package=$2 why=$3
if command -v "$command_name" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo -n"
else
  echo "error: $command_name is missing ($why); install Debian's '$package' package (apt-get install $package)" >&2
  exit 1
fi
echo "installing $package (Debian package): $why..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
