#!/usr/bin/env bash
# The README's test command (CI): set-up, static checks, unit tests, report.html in headless
# Chromium (tests/browser), the loopback integration suite against the local lab that site.yml
# brings up, then molecule's three-node virtual lab (create, converge, verify: per-host
# snapshot + multi-node bench with idempotence, destroy).
# Ends with a timing table: each stage's seconds and the ten slowest tests.
#   scripts/test.sh          everything CI runs (budget: 30 minutes on a fresh 2-core machine)
#   scripts/test.sh quick    set-up, lint, unit and browser tests only (the inner loop, under 2
#                            minutes)
#   scripts/test.sh long     the heavy proofs outside CI (pytest -m long: local whole bench)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
case "$mode" in all | quick | long) ;; *)
  echo "test: unknown mode '$mode'; use all, quick or long" >&2
  exit 2
  ;;
esac

reports="$(mktemp -d -t benchlab-test.XXXXXX)"
stages="$reports/stages.tsv"
: >"$stages"

timings() {
  [ -x .venv/bin/python ] || return 0
  .venv/bin/python scripts/test_timings.py "$stages" "$reports"/*.xml || true
}
trap timings EXIT

# stage NAME COMMAND...: runs COMMAND, records its seconds and outcome; stops on failure.
stage() {
  local name=$1 start status
  shift
  echo "=== test: $name"
  start=$EPOCHREALTIME
  set +e
  "$@"
  status=$?
  set -e
  awk -v name="$name" -v start="$start" -v end="$EPOCHREALTIME" -v status="$status" \
    'BEGIN { printf "%s\t%.1f\t%s\n", name, end - start, status }' >>"$stages"
  if [ "$status" -ne 0 ]; then
    echo "test: stage '$name' failed (exit $status)" >&2
    exit "$status"
  fi
}

# pytest NAME ARGS...: pytest with a JUnit report for the timing table; exit 5 (no tests
# collected) is a failure here.
run_pytest() {
  local name=$1 status
  shift
  set +e
  .venv/bin/python -m pytest -v -ra --durations=10 --junitxml="$reports/$name.xml" "$@"
  status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests for '$name'; that is a failure here" >&2
    return 1
  fi
  return "$status"
}

# The local lab stops so the virtual lab's three nodes get the machine's two cores
# (site.yml starts it again).
stop_local_lab() {
  local conf
  # its one definition: benchlab_supervisor_conf in group_vars/all/kit.yml
  conf="$(.venv/bin/python -c 'import yaml; print(yaml.safe_load(open("group_vars/all/kit.yml"))["benchlab_supervisor_conf"])')"
  if [ -f "$conf" ]; then
    supervisorctl -c "$conf" shutdown || true
  fi
}

# Molecule's steps one by one (the sequence of `molecule test -s virtual`, see
# molecule/virtual/molecule.yml), so each gets its own line in the timing table; the lab is
# destroyed whatever happens. CI keeps only the tail of the output: on failure, end with the
# verifier's failures.
virtual_lab() {
  local log status=0 step
  log="$(mktemp -t benchlab-molecule.XXXXXX.log)"
  for step in destroy syntax create converge verify; do
    set +e
    COLUMNS=200 PYTEST_ADDOPTS="--junitxml=$reports/virtual.xml" \
      stage "molecule $step" .venv/bin/molecule "$step" -s virtual 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || break
  done
  (stage "molecule destroy" .venv/bin/molecule destroy -s virtual 2>&1 | tee -a "$log") || true
  if [ "$status" -ne 0 ]; then
    echo "test: molecule's virtual scenario failed (exit $status); its failures, from $log:" >&2
    # Molecule prints the verifier's output inside a box ("  │ " before each line).
    sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^ *│ //' "$log" |
      grep -E '^(FAILED|ERROR) |^E   |^[^ ]+\.py:[0-9]+: ' | tail -n 80 >&2 || true
    exit "$status"
  fi
}

stage setup make --no-print-directory setup
export PATH="$PWD/.venv/bin:$PATH"
case "$mode" in
  quick)
    stage lint scripts/lint.sh
    stage unit run_pytest unit tests/unit
    stage "test packages" scripts/apt-install.sh chromium
    stage browser run_pytest browser tests/browser
    ;;
  long)
    stage "integration (long)" run_pytest long tests -m long
    ;;
  all)
    stage lint scripts/lint.sh
    stage unit run_pytest unit tests/unit
    stage "test packages" scripts/apt-install.sh chromium
    stage browser run_pytest browser tests/browser
    stage "integration (local lab)" run_pytest integration tests/integration -m "not long"
    stage "stop the local lab" stop_local_lab
    virtual_lab
    ;;
esac
