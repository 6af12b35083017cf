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

# The local lab the integration tests brought up stops here (site.yml starts it again), so
# the virtual lab's three nodes get the machine's two cores to themselves.
local_supervisor="$(python -c 'from benchlab.service_exporter import SUPERVISOR_CONFIG as c; print(c)')"
if [ -f "$local_supervisor" ]; then
  supervisorctl -c "$local_supervisor" shutdown || true
fi

# The three-node virtual lab: create, converge site.yml over SSH, idempotence (changed=0),
# testinfra verify per host + the multi-node bench, destroy (molecule/virtual/molecule.yml).
# CI keeps only the tail of the output: on failure, end with the verifier's failures.
log="$(mktemp -t benchlab-molecule.XXXXXX.log)"
set +e
COLUMNS=200 molecule test -s virtual 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "test: molecule's virtual scenario failed (exit $status); its failures, from $log:" >&2
  # Molecule prints the verifier's output inside a box ("  │ " before each line).
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^ *│ //' "$log" | grep -E '^(FAILED|ERROR) |^E   |^[^ ]+\.py:[0-9]+: ' | tail -n 80 >&2 || true
  exit "$status"
fi
