#!/usr/bin/env bash
# The README's test command: static checks, then every test. Integration tests
# start the real services through the kit's own roles on this machine (loopback only).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

scripts/lint.sh

set +e
python -m pytest tests -v -ra --durations=15 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi

# The three-node virtual lab: create, converge site.yml over SSH, idempotence (changed=0),
# testinfra verify per host + the multi-node bench, destroy (molecule/virtual/molecule.yml).
molecule test -s virtual
