#!/usr/bin/env bash
# Prepares the controller: the Debian packages Ansible and the venv need, then the
# pinned Python environment in .venv with the kit's own package installed editable.
# Everything the lab hosts need is installed by the roles, not here.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (the kit installs Debian packages and manages cgroups)" >&2
  exit 1
fi

need=()
for pkg in python3-venv python3-apt rsync openssh-client; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e python/
echo "setup: controller ready ($(.venv/bin/ansible --version | head -1))"
