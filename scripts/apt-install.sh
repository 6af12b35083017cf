#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (as root; one
# apt-get update first, only when something is missing). Used by setup-controller.sh for the
# controller's packages and by test.sh for test-only ones (chromium, for report.html's
# browser test).
set -euo pipefail
need=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "apt-install: run as root to install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
