#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the example's end-to-end test (playwright-core
# drives it; it never downloads a browser of its own). Installs the `chromium` package when it is missing.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium package" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: not root and no sudo: run 'apt-get update && apt-get install -y chromium' as root" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
# Two installs at once (parallel test workers) would fight over dpkg's lock: take a lock of our own.
exec 9>/tmp/otel-rpc-context-ensure-chromium.lock
flock 9
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version >&2
