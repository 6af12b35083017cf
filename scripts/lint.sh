#!/usr/bin/env bash
# Static checks: ruff on the Python, ansible-lint (production profile) and a syntax
# check of every playbook.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

ruff check python tests benchmarks molecule scripts plugins backends
ruff format --check python tests benchmarks molecule scripts plugins backends
ansible-lint --profile production --strict
for playbook in *.yml playbooks/*.yml; do
  [ -f "$playbook" ] || continue
  ansible-playbook --syntax-check "$playbook" >/dev/null
  echo "syntax ok: $playbook"
done
