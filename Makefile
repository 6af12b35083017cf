# benchlab: the two commands a fresh Debian machine needs are `make bench` and `make test`.
# Both install what they need first (apt packages for the controller, the pinned venv).
SHELL := /bin/bash
VENV := .venv
PHASE ?= smoke
# Extra ansible-playbook arguments, e.g. ARGS='-e duration=60 -i inventory/virtual'
ARGS ?=

.PHONY: setup bench site calibrate test test-quick test-long test-virtual lint
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock python/pyproject.toml scripts/setup-controller.sh scripts/apt-install.sh
	scripts/setup-controller.sh
	touch $@

bench: setup
	$(VENV)/bin/ansible-playbook bench.yml -e phase=$(PHASE) $(ARGS)

site: setup
	$(VENV)/bin/ansible-playbook site.yml $(ARGS)

calibrate: setup
	$(VENV)/bin/ansible-playbook calibrate.yml $(ARGS)

lint: setup
	scripts/lint.sh

# CI: set-up, lint, unit, browser (report.html), the local lab's integration suite, the virtual three-node lab;
# ends with a timing table (scripts/test.sh). Budget: 30 minutes on a fresh 2-core machine.
test:
	scripts/test.sh

# The inner loop: set-up, lint, unit tests and report.html in headless Chromium (under 2 minutes).
test-quick:
	scripts/test.sh quick

# Heavy proofs kept outside CI (pytest -m long), e.g. a whole bench on the local inventory.
test-long:
	scripts/test.sh long

# The three-node virtual lab scenario (molecule/virtual): create, converge, idempotence,
# testinfra verify + multi-node bench, destroy. `make test` runs it after pytest.
test-virtual: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" molecule test -s virtual
