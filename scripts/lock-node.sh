#!/usr/bin/env bash
# Regenerates requirements-node.lock: the subset of requirements.lock that the kit's
# remote hosts need (the benchlab package and pyspark with their dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
trap 'rm -f "$report"' EXIT
.venv/bin/pip install --dry-run --ignore-installed --quiet --report "$report" \
  -c requirements.lock ./python "$(grep '^pyspark==' requirements.lock)"
{
  echo "# What the kit's hosts (not the controller) install into /opt/benchlab/venv: the closure of"
  echo "# the benchlab package and pyspark, pinned as in requirements.lock. Regenerate with"
  echo "# scripts/lock-node.sh after changing requirements.lock (tests/unit/test_node_lock.py checks)."
  .venv/bin/python - "$report" <<'PY' | sort -f
import json
import sys

for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    if meta["name"] != "benchlab":
        print(f"{meta['name']}=={meta['version']}")
PY
} > requirements-node.lock
